"""Bytes to readable text: content types, charsets, HTML main content, PDF text (no network)."""

from __future__ import annotations

import pytest

from mcpfleet.common.errors import UserError
from mcpfleet.servers.web.extract import classify, decode, extract, html_to_text, pdf_to_text
from web_site import LATIN1_TEXT, PAGES, PDF_PAGES, SJIS_TEXT, encrypted_pdf, make_pdf

URL = "https://blog.example.org/posts/egress.html"


def article(fmt="markdown"):
    return html_to_text((PAGES / "article.html").read_text(), URL, fmt)


def test_article_keeps_headings_links_and_lists_and_drops_boilerplate():
    title, text = article()
    assert title == "Kubernetes Egress Policies Explained | Cluster Weekly"
    assert text.startswith("# Kubernetes Egress Policies Explained")
    assert "## Default deny, then allow" in text and "### Checking the policy" in text
    assert "[NetworkPolicy](https://kubernetes.io/docs/concepts/services-networking/network-policies/)" in text
    # a relative link is resolved against the page URL, path included
    assert "(https://blog.example.org/guides/debugging-network-policies)" in text
    assert "- Deny everything with an empty egress list." in text
    for boilerplate in (
        "gtag",
        "dataLayer",
        "Accept all cookies",
        "Newsletter signup",
        "All rights reserved",
        "Share on Facebook",
        "SPONSORED",
        "font-family",
        "analytics.js",
        "Privacy policy",
    ):
        assert boilerplate not in text, boilerplate


def test_text_format_has_no_markdown_links():
    _, text = article("text")
    assert "egress section changes that default" in text
    assert "](" not in text and "https://kubernetes.io" not in text


def test_docs_page_keeps_code_blocks_and_tables():
    title, text = html_to_text(
        (PAGES / "docs.html").read_text(), "https://docs.example.org/en/latest/guide/retries.html", "markdown"
    )
    assert title.startswith("Configuring retries")
    assert "```" in text
    assert "client = Client(retry=Retry(attempts=3, backoff=0.5))" in text
    assert "statuses={429, 502, 503, 504}" in text
    assert "| attempts | 1 |" in text.replace("  ", " ")
    assert "[deadlines](https://docs.example.org/en/latest/guide/timeouts.html#deadlines)" in text
    assert "Search docs" not in text and "Built with Sphinx" not in text


def test_forum_page_keeps_question_and_answers():
    _, text = html_to_text((PAGES / "forum.html").read_text(), "https://forum.example.org/q/777", "markdown")
    assert "20 GB file" in text and "while block := f.read(size):" in text
    assert "Hot network questions" not in text


def test_tiny_and_empty_pages():
    assert html_to_text("", URL, "markdown") == ("", "")
    title, text = html_to_text("<html><body><p>hi</p></body></html>", URL, "markdown")
    assert text == "hi" and title == ""
    title, text = html_to_text(
        '<?xml version="1.0" encoding="utf-8"?><html><head><title>X</title></head><body><p>xhtml body</p></body></html>',
        URL,
        "text",
    )
    assert title == "X" and "xhtml body" in text


@pytest.mark.parametrize(
    ("ctype", "content", "kind"),
    [
        ("text/html", b"<p>x</p>", "html"),
        ("application/xhtml+xml", b"<p>x</p>", "html"),
        ("application/pdf", b"%PDF-1.4", "pdf"),
        ("application/octet-stream", b"%PDF-1.7\n...", "pdf"),
        ("text/html", b"%PDF-1.7\n...", "pdf"),
        ("application/json", b"{}", "text"),
        ("application/ld+json", b"{}", "text"),
        ("application/rss+xml", b"<rss/>", "text"),
        ("text/csv", b"a,b", "text"),
        ("", b"<!DOCTYPE html><html></html>", "html"),
        ("", b"plain words", "text"),
    ],
)
def test_classify(ctype, content, kind):
    assert classify(ctype, content) == kind


@pytest.mark.parametrize(
    ("ctype", "content"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n"),
        ("application/zip", b"PK\x03\x04"),
        ("application/octet-stream", bytes(range(256))),
        ("video/mp4", b"\x00\x00\x00\x18ftyp"),
        ("", b"\x00\x01\x02binary"),
    ],
)
def test_binary_types_are_refused_with_a_clear_message(ctype, content):
    with pytest.raises(UserError, match="binary content"):
        classify(ctype, content)


def test_charset_from_meta_only():
    page = f'<html><head><meta charset="iso-8859-1"></head><body>{LATIN1_TEXT}</body></html>'.encode("latin-1")
    assert LATIN1_TEXT in decode(page, None, html=True)
    old_style = f'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><p>{LATIN1_TEXT}'.encode(
        "cp1252"
    )
    assert LATIN1_TEXT in decode(old_style, None, html=True)


def test_charset_detected_when_undeclared():
    page = f"<html><body><p>{SJIS_TEXT * 3}</p></body></html>".encode("shift_jis")
    assert SJIS_TEXT in decode(page, None, html=True)


def test_declared_charset_that_cannot_decode_is_skipped():
    page = f"<p>{LATIN1_TEXT}</p>".encode("cp1252")
    assert LATIN1_TEXT in decode(page, "utf-8", html=True)


def test_header_charset_wins_and_bom_wins_over_all():
    text = "naïve"
    assert decode(text.encode("utf-16"), "iso-8859-1", html=True) == text
    assert decode(text.encode("cp1252"), "windows-1252", html=False) == text
    assert decode(text.encode("utf-8"), "no-such-charset", html=False) == text


def test_pdf_text_pages_and_title():
    title, text, notes = pdf_to_text(make_pdf(PDF_PAGES, title="Report"), max_pages=50)
    assert title == "Report"
    assert text.index("[page 1]") < text.index("Page 1 of the fixture report.") < text.index("[page 4]")
    assert "Quarterly figures for region 4." in text
    assert notes == ("PDF, 4 pages",)


def test_pdf_page_cap():
    _, text, notes = pdf_to_text(make_pdf(PDF_PAGES), max_pages=2)
    assert "region 2" in text and "region 3" not in text
    assert "only the first 2 pages were read" in notes


def test_encrypted_and_broken_pdfs_are_clear_errors():
    with pytest.raises(UserError, match="encrypted"):
        pdf_to_text(encrypted_pdf(), max_pages=5)
    with pytest.raises(UserError, match="cannot be read"):
        pdf_to_text(b"%PDF-1.4\nthis is not really a pdf", max_pages=5)


def test_extract_passes_text_types_through_with_a_note():
    result = extract(b'{"a": 1}', "application/json", None, URL, "markdown")
    assert result.text == '{"a": 1}' and result.kind == "text"
    assert result.notes == ("application/json shown as is",)


def test_extract_raw_html_and_char_cap():
    source = (PAGES / "article.html").read_bytes()
    raw = extract(source, "text/html", "utf-8", URL, "raw")
    assert raw.text.startswith("<!DOCTYPE html>") and "gtag" in raw.text
    capped = extract(source, "text/html", "utf-8", URL, "raw", max_chars=10_000)
    assert len(capped.text) == min(len(raw.text), 10_000)
    assert extract(source, "text/html", "utf-8", URL, "markdown", max_chars=10_000).notes == ()
