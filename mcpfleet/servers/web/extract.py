"""Downloaded bytes to readable text: HTML as markdown, PDF as text, text types as they are.

Everything here is synchronous and CPU-bound (lxml, trafilatura, pypdf); the server runs it in
its worker pool (`extract_plain`, see servers/web/extracting.py), where the tool timeout and a
memory cap hold. Input is untrusted: parsing failures become `UserError`s with a short message,
never tracebacks, and output is bounded by the caller's `max_chars`.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
from dataclasses import dataclass
from typing import Literal

from mcpfleet.common.errors import UserError

logger = logging.getLogger(__name__)

Format = Literal["markdown", "text", "raw"]

HTML_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
_TEXT_APPLICATION_TYPES = {
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/x-ndjson",
    "application/sql",
    "application/graphql",
    "application/x-sh",
    "application/x-httpd-php",
    "application/csv",
}
_SNIFF_BYTES = 64_000
_DETECT_BYTES = 64_000
# WHATWG: pages labelled latin-1 or ascii are decoded as windows-1252 by every browser.
_WHATWG_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
}
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_:.-]{1,40})""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Control characters XML forbids (ANSI colour codes in <pre> terminal output, stray NULs): lxml
# parses them into text nodes, then trafilatura's text edits fail with ValueError on them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_XML_INVALID_REF = re.compile(  # the same characters written as character references: &#27; &#x1b;
    r"&#(?:[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]|[fF]{3}[eEfF])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|127|6553[45]));?"
)
# What trafilatura raises on markup it did not expect (a comment where it wants an element...)
_EXTRACTION_ERRORS = (ValueError, TypeError, AttributeError, LookupError)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Extracted:
    title: str
    text: str
    kind: str  # "html", "pdf" or "text"
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Content type


def classify(content_type: str, content: bytes) -> str:
    """'html', 'pdf' or 'text' for what can be shown; UserError for binary content."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    head = content[:1024].lstrip()
    if is_pdf(ctype, content):
        return "pdf"
    if ctype in HTML_TYPES:
        return "html"
    if ctype.startswith("text/") or ctype in _TEXT_APPLICATION_TYPES or ctype.endswith(("+json", "+xml")):
        return "text"
    if ctype in ("", "application/octet-stream", "binary/octet-stream"):
        lowered = head[:200].lower()
        if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered:
            return "html"
        if _looks_textual(content[:_SNIFF_BYTES]):
            return "text"
    raise UserError(
        f"the URL returned binary content ({ctype or 'unknown type'}), which cannot be shown as text; "
        "web_fetch reads HTML, PDF, and text types such as JSON, XML and CSV"
    )


def is_pdf(content_type: str, content: bytes) -> bool:
    """Declared as PDF, or starting with the PDF signature whatever the declared type."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    return ctype in PDF_TYPES or content[:1024].lstrip().startswith(b"%PDF-")


def _looks_textual(sample: bytes) -> bool:
    if not sample:
        return True
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start > len(sample) - 4:  # a character cut at the end of the sample
            return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls < len(sample) // 100


# --------------------------------------------------------------------------------------------
# Charset


def decode(content: bytes, declared: str | None, *, html: bool) -> str:
    """Bytes to text: BOM, then the declared charset, then <meta charset>, then detection.

    A declared charset that cannot decode the bytes is a lie servers often tell; it is skipped."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content.decode(encoding, errors="replace")
    candidates = [declared]
    if html:
        match = _META_CHARSET.search(content[:4096])
        candidates.append(match.group(1).decode("ascii") if match else None)
    if not html and not declared:
        candidates.append("utf-8")  # JSON and most text formats are UTF-8 unless told otherwise
    for name in candidates:
        codec = _codec(name)
        if codec is None:
            continue
        try:
            return content.decode(codec)
        except UnicodeDecodeError:
            continue
    return _detect(content)


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _WHATWG_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _detect(content: bytes) -> str:
    from charset_normalizer import from_bytes

    try:
        content.decode("utf-8")
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = from_bytes(content[:_DETECT_BYTES])
    best = matches.best()
    if best is None:
        return content.decode("cp1252", errors="replace")
    encoding = best.encoding
    # Short Western texts fit several Latin code pages equally well; browsers fall back to
    # windows-1252, the web's most common legacy encoding, so prefer it when it fits about as well.
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.1:
            encoding = "cp1252"
    return content.decode(encoding, errors="replace")


# --------------------------------------------------------------------------------------------
# HTML


def html_to_text(source: str, url: str, fmt: Format) -> tuple[str, str]:
    """(title, main content) of an HTML page: markdown with links and headings, or plain text.

    Boilerplate (navigation, footers, ads, scripts, styles) is removed by trafilatura's
    main-content extraction; relative links are made absolute against the page URL first."""
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html

    source = _XML_DECLARATION.sub("", source, count=1)  # lxml refuses str input that declares one
    source = _XML_INVALID_REF.sub("", _XML_INVALID.sub("", source))
    if not source.strip():
        return "", ""
    try:
        tree = lxml_html.document_fromstring(source)
    except (etree.ParserError, ValueError):
        return "", ""
    title = _title(tree)
    try:
        tree.make_links_absolute(url, resolve_base_href=True, handle_failures="discard")
    except ValueError:
        pass
    markdown = fmt == "markdown"
    try:
        text = trafilatura.extract(
            tree,
            url=url,
            output_format="markdown" if markdown else "txt",
            include_links=markdown,
            include_formatting=markdown,
            include_tables=True,
            include_images=False,
            include_comments=False,
            favor_recall=True,
            deduplicate=False,
        )
    except _EXTRACTION_ERRORS:  # hostile or broken markup: the plain text below still reads
        text = None
        failed = True
    else:
        failed = False
    if not text:  # very short or unusual pages: all visible text rather than nothing
        try:
            text = trafilatura.html2txt(source) or ""
        except _EXTRACTION_ERRORS:
            text = ""
        if not text and failed:  # the parsed tree's text, scripts and all, rather than nothing
            text = " ".join(_XML_INVALID.sub("", tree.text_content()).split())
    if markdown and title and not text.lstrip().startswith("#"):
        text = f"# {title}\n\n{text}"
    return title, text.strip()


def _title(tree) -> str:
    for path in (".//title", ".//meta[@property='og:title']", ".//h1"):
        node = tree.find(path)
        if node is None:
            continue
        text = node.get("content") if node.tag == "meta" else node.text_content()
        text = " ".join((text or "").split())
        if text:
            return text[:300]
    return ""


# --------------------------------------------------------------------------------------------
# PDF


def pdf_to_text(content: bytes, max_pages: int) -> tuple[str, str, tuple[str, ...]]:
    """(title, text, notes) of a PDF: text of at most `max_pages` pages, each headed [page N]."""
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many "encrypted" PDFs only restrict printing
            except Exception:
                opened = PasswordType.NOT_DECRYPTED
            if not opened:
                raise UserError("the PDF is encrypted with a password; its text cannot be read")
        total = len(reader.pages)
        parts = []
        for number in range(min(total, max_pages)):
            text = reader.pages[number].extract_text() or ""
            parts.append(f"[page {number + 1}]\n{text.strip()}")
        title = ""
        try:
            metadata = reader.metadata
            title = str(metadata.get("/Title") or "").strip()[:300] if metadata is not None else ""
        except Exception:
            pass
    except UserError:
        raise
    except (PdfReadError, Exception) as exc:
        logger.info("unreadable PDF: %r", exc)
        raise UserError("the URL returned a PDF that cannot be read (damaged or not really a PDF)") from None
    notes = [f"PDF, {total} page{'s' if total != 1 else ''}"]
    if total > max_pages:
        notes.append(f"only the first {max_pages} pages were read")
    text = "\n\n".join(parts).strip()
    if not any(p.partition("\n")[2] for p in parts):
        notes.append("no text layer found (a scanned PDF?)")
    return title, text, tuple(notes)


# --------------------------------------------------------------------------------------------
# Any response


def extract(
    content: bytes,
    content_type: str,
    charset: str | None,
    url: str,
    fmt: Format,
    *,
    pdf_max_pages: int = 50,
    max_chars: int = 2_000_000,
) -> Extracted:
    """Readable text of a response body in the requested format (see module docstring)."""
    kind = classify(content_type, content)
    notes: list[str] = []
    if kind == "pdf":
        title, text, pdf_notes = pdf_to_text(content, pdf_max_pages)
        notes.extend(pdf_notes)
        if fmt == "raw":
            notes.append("raw is not available for PDF; this is its text")
    else:
        source = decode(content, charset, html=kind == "html")
        if kind == "html" and fmt != "raw":
            title, text = html_to_text(source, url, fmt)
        else:
            title, text = "", source
            if kind == "text":
                notes.append(f"{content_type or 'text'} shown as is")
    if len(text) > max_chars:
        text = text[:max_chars]
        notes.append(f"text cut at {max_chars} characters")
    return Extracted(title, text, kind, tuple(notes))


# --------------------------------------------------------------------------------------------
# Worker entry points (run in the server's worker pool: plain data in, plain data out)


def warm() -> None:
    """Worker initializer: import the parsers once, so the first page pays no import time."""
    import charset_normalizer  # noqa: F401
    import lxml.html  # noqa: F401
    import pypdf  # noqa: F401
    import trafilatura  # noqa: F401


def extract_plain(
    content: bytes, content_type: str, charset: str | None, url: str, fmt: Format, pdf_max_pages: int, max_chars: int
) -> dict:
    """`extract` as plain data for the worker protocol: {title, text, kind, notes}."""
    try:
        done = extract(content, content_type, charset, url, fmt, pdf_max_pages=pdf_max_pages, max_chars=max_chars)
        return {"title": done.title, "text": done.text, "kind": done.kind, "notes": list(done.notes)}
    finally:
        _release_memory()


def _release_memory() -> None:
    """Give the parse trees' memory back to the system: glibc keeps freed heap in its arenas, so a
    warm worker that once parsed a 2 MB page of links would otherwise hold ~230 MB while idle."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # dlopen of an already loaded library: a lookup
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        pass
