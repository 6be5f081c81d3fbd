"""Documents into sections: split by heading structure, heading path kept, code blocks never split.

Markdown (ATX and setext headings, fenced code; YAML front matter's `title` becomes the root of
every heading path, `description` and `sidebar_label` are kept for search), MDX (module
`import`/`export` statements dropped, JSX component tags replaced by their text attributes — in
.mdx files, and in .md files that import components the way Docusaurus allows),
reStructuredText (underlined and overlined titles, `::` literal blocks), Jupyter notebooks
(markdown cells as markdown, code cells as fenced code) and plain text. A section longer than
`max_chars` is cut at paragraph boundaries; a code block is one unbreakable piece even when it
alone is longer than that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# The title's closing `#`s and blanks are stripped in Python: `(.+?)[ \t#]*$` backtracks
# quadratically on a long line of " # # # ... x" (minutes for one line of a hostile repository).
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+)$")
MAX_TITLE_SCAN = 400  # characters of a heading cleaned of markup (the shown title is at most 200)
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(\n|\Z)", re.DOTALL)
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")
FRONT_MATTER_KEYS = ("title", "sidebar_label", "sidebarTitle", "description")
MAX_FRONT_VALUE = 500
# ES module statements only: prose that starts with "import the data" or shell's `export X=1` stays
_MDX_IMPORT = re.compile(r"""^import\s+(?:[\w*{][^'"]*?\s+from\s+)?['"][^'"\n]+['"];?\s*$""")
_MDX_IMPORT_START = re.compile(r"^import\s+\{[^}]*$")  # `import {` continued on the next lines
_MDX_EXPORT = re.compile(r"^export\s+(?:const|let|var|function|default|async|class)\b")
_JSX_OPEN = re.compile(r"</?([A-Z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*)(?=[\s/>]|$)")
_JSX_ATTR = re.compile(r"""\b(title|label|name|type|description)=(?:"([^"]*)"|'([^']*)'|\{["'`]([^"'`]*)["'`]\})""")
_MDX_COMMENT = re.compile(r"\{/\*.*?\*/\}")
MAX_TAG_CHARS = 4000  # a tag not closed within this many characters is not a tag
MAX_STATEMENT_LINES = 200
_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+:._<>!$%&,;?@\\|/])\1{2,}\s*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)

TEXT_SUFFIXES = (".md", ".markdown", ".mdx", ".rst", ".txt", ".ipynb")


@dataclass(frozen=True)
class Section:
    headings: tuple[str, ...]  # the heading path, outermost first
    body: str  # the text under the last heading, heading line itself not included

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


@dataclass(frozen=True)
class Document:
    path: str
    title: str
    text: str  # normalised text, what docs_read pages through
    sections: list[Section]
    front_matter: dict[str, str] = field(default_factory=dict)  # the known keys only, as plain strings

    @property
    def about(self) -> str:
        """What the page says of itself beyond its title: description and sidebar label."""
        fm = self.front_matter
        label = fm.get("sidebar_label") or fm.get("sidebarTitle") or ""
        parts = [label] if label and normalise_title(label) != normalise_title(self.title) else []
        return " ".join(parts + [fm.get("description", "")]).strip()


def parse_document(path: str, raw: str, max_chars: int = 3000) -> Document:
    """The sections of one file, chosen by its suffix; `raw` is the file's decoded text."""
    suffix = PurePosixPath(path).suffix.lower()
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    front: dict[str, str] = {}
    if suffix == ".ipynb":
        text = notebook_to_markdown(raw)
        kind = "md"
    elif suffix in (".mdx", ".md", ".markdown"):
        front, text = split_front_matter(raw)
        if suffix == ".mdx" or has_mdx_imports(text):
            text = strip_mdx(text)
        kind = "md"
    elif suffix == ".rst":
        text, kind = raw, "rst"
    else:
        text, kind = raw, "txt"
    text = text.replace("\t", "    ")
    if kind == "md":
        raw_sections = markdown_sections(text)
    elif kind == "rst":
        raw_sections = rst_sections(text)
    else:
        raw_sections = [((), text)]
    fallback = PurePosixPath(path).stem
    first_heading = next((s[0][0] for s in raw_sections if s[0]), None)
    title = front.get("title") or front.get("sidebarTitle") or front.get("sidebar_label") or first_heading or fallback
    sections: list[Section] = []
    for headings, body in raw_sections:
        headings = with_title(title, headings)
        for piece in split_long(body.strip("\n"), max_chars):
            if piece.strip():
                sections.append(Section(headings, piece))
    return Document(path=path, title=title, text=text.strip("\n") + "\n", sections=sections, front_matter=front)


def with_title(title: str, headings: tuple[str, ...]) -> tuple[str, ...]:
    """The heading path under the page's title: 'Hardware support > Nvidia', not 'Nvidia'; a page
    whose first heading repeats its title (or one holds the other) keeps the longer one."""
    if headings:
        first, page = normalise_title(headings[0]), normalise_title(title)
        if first == page or page in first or first in page:
            return (headings[0] if len(first) > len(page) else title, *headings[1:])
    return (title, *headings)


def normalise_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.lower())


# --- front matter --------------------------------------------------------------------------------


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """(the known keys of a leading `---` YAML block, the text after it). Only `key: value` lines
    are read (quotes stripped, markup cleaned); anything else in the block is ignored, so a broken
    block costs its metadata, never the page."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    found: dict[str, str] = {}
    for line in (m.group(1) or "").split("\n"):
        kv = _FRONT_KEY.match(line)
        if not kv or kv.group(1) not in FRONT_MATTER_KEYS or kv.group(1) in found:
            continue
        value = kv.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif value[:1] in "[{|>&*!":  # a list, map, block scalar or tag: not a plain title
            continue
        value = (
            clean_heading(value[:MAX_FRONT_VALUE])
            if kv.group(1) != "description"
            else " ".join(value[:MAX_FRONT_VALUE].split())
        )
        if value and value != "(untitled)":
            found[kv.group(1)] = value
    return found, text[m.end() :]


# --- markdown ------------------------------------------------------------------------------------


def markdown_sections(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, body) for each heading of a markdown text; text before the first is ()."""
    lines = text.split("\n")
    out: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    fence: str | None = None

    def flush() -> None:
        out.append((tuple(h for _, h in stack), "\n".join(body)))
        body.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if fence is not None:
            if closes(fence, line):
                fence = None
            body.append(line)
            i += 1
            continue
        if m:
            fence = m.group(1)
            body.append(line)
            i += 1
            continue
        atx = _ATX.match(line)
        level, title = (len(atx.group(1)), atx.group(2).rstrip(" \t#") or atx.group(2)[:1]) if atx else (0, "")
        if not atx and i + 1 < len(lines) and line.strip() and not line.startswith("    "):
            under = _SETEXT.match(lines[i + 1])
            # "---" under a list item or table row is a rule, not a heading
            if under and not re.match(r"^\s*([-*+]|\d+[.)]|\|)\s", line):
                level, title = (1 if under.group(1)[0] == "=" else 2), line.strip()
                i += 1
        if level:
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, clean_heading(title)))
        else:
            body.append(line)
        i += 1
    flush()
    return [(h, b) for h, b in out if b.strip() or not h]


def closes(fence: str, line: str) -> bool:
    """Does `line` close a code block opened with `fence` (same character, at least as long, bare)?"""
    m = _FENCE.match(line)
    return (
        m is not None
        and m.group(1)[0] == fence[0]
        and len(m.group(1)) >= len(fence)
        and not line.strip()[len(m.group(1)) :].strip()
    )


def clean_heading(title: str) -> str:
    """Heading text without markup: links keep their text, emphasis and code marks go."""
    title = title[:MAX_TITLE_SCAN]  # the substitutions below are quadratic on hostile input
    title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", title)
    title = re.sub(r"\{#[^}]*\}\s*$", "", title)  # {#custom-id}
    title = re.sub(r"<[^>]+>", "", title)
    title = re.sub(r"[*_`]+", "", title)
    return " ".join(title.split())[:200] or "(untitled)"


def has_mdx_imports(text: str) -> bool:
    """Does a .md file import components (Docusaurus reads .md as MDX)? Fenced code is not looked at."""
    fence = None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is not None:
            fence = None if closes(fence, line) else fence
        elif m:
            fence = m.group(1)
        elif _MDX_IMPORT.match(line) or _MDX_IMPORT_START.match(line):
            return True
    return False


def strip_mdx(text: str) -> str:
    """MDX as markdown: module statements go, JSX tags give way to their text attributes (a tab's
    title, a field's name, type and description), `{/* comments */}` go; fenced code stays as is."""
    out: list[str] = []
    prose: list[str] = []
    fence = None
    lines = text.split("\n")
    i = 0

    def flush() -> None:
        if prose:
            out.extend(strip_jsx("\n".join(prose)).split("\n"))
            prose.clear()

    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if closes(fence, line):
                fence = None
            i += 1
            continue
        if m:
            flush()
            fence = m.group(1)
            out.append(line)
            i += 1
            continue
        if _MDX_IMPORT.match(line):
            i += 1
            continue
        if _MDX_IMPORT_START.match(line) or _MDX_EXPORT.match(line):
            i = skip_statement(lines, i)
            continue
        prose.append(line)
        i += 1
    flush()
    return strip_html_comments("\n".join(out))


def skip_statement(lines: list[str], i: int) -> int:
    """The index after a module statement that may span lines (brackets balanced). One that does
    not balance within MAX_STATEMENT_LINES ends there: a broken statement costs those lines, and
    no line is scanned twice."""
    depth = 0
    end = min(len(lines), i + MAX_STATEMENT_LINES)
    for j in range(i, end):
        depth += sum(lines[j].count(c) for c in "({[") - sum(lines[j].count(c) for c in ")}]")
        if depth <= 0 and (j > i or not lines[j].rstrip().endswith(("=", ","))):
            return j + 1
    return end


def strip_jsx(text: str) -> str:
    """Prose with each JSX component tag (`<Tab title="Linux">`, `<ApiField name=.. />`, closing
    tags) replaced by its text attributes; inline `code` is left alone. Linear: one left-to-right
    scan, a tag's end found by a bounded scan that respects quotes and braces."""
    text = _MDX_COMMENT.sub("", text)
    out: list[str] = []
    pos = 0  # text before this is written out (or was a tag)
    scanned = 0  # no tag starts before this: a failed scan got that far
    seen, in_code = 0, False  # backtick parity of the current line up to `seen`
    for m in _JSX_OPEN.finditer(text):
        start = m.start()
        chunk = text[seen:start]
        newline = chunk.rfind("\n")
        in_code = (chunk.count("`", newline + 1) + (0 if newline >= 0 else in_code)) % 2 == 1
        seen = start
        if start < pos or start < scanned or in_code:
            continue  # inside the previous tag, past a failed scan, or in an inline code span
        end = tag_end(text, m.end())
        if end is None:
            scanned = min(len(text), m.end() + MAX_TAG_CHARS)
            continue
        out.append(text[pos:start])
        words = [next(g for g in a.groups()[1:] if g is not None) for a in _JSX_ATTR.finditer(text, m.end(), end)]
        out.append(" — ".join(w.strip() for w in words if w.strip()))
        pos = end
    out.append(text[pos:])
    # a line that held only tags is left blank; runs of blank lines become one
    lines = [ln if ln.strip() else "" for ln in "".join(out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def tag_end(text: str, pos: int) -> int | None:
    """The index after the `>` closing a tag whose name ends at `pos`, or None within MAX_TAG_CHARS."""
    quote: str | None = None
    depth = 0
    for j in range(pos, min(len(text), pos + MAX_TAG_CHARS)):
        c = text[j]
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth = max(0, depth - 1)
        elif c == ">" and depth == 0:
            return j + 1
        elif c == "<" and depth == 0:
            return None  # another tag starts: this was not one
    return None


def strip_html_comments(text: str) -> str:
    """`_HTML_COMMENT.sub("", text)` in linear time: the lazy regex rescans to the end of the text
    from every unclosed `<!--`, which is quadratic (minutes for a hostile 300 KB .mdx file)."""
    out, pos = [], 0
    while True:
        start = text.find("<!--", pos)
        end = text.find("-->", start + 4) if start >= 0 else -1
        if end < 0:
            break
        out.append(text[pos:start])
        pos = end + 3
    out.append(text[pos:])
    return "".join(out)


# --- reStructuredText ----------------------------------------------------------------------------


def rst_sections(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, body) for each title; levels follow the order adornment styles first appear."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []
    stack: list[tuple[int, str]] = []
    out: list[tuple[tuple[str, ...], str]] = []
    body: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        title, style, consumed = None, None, 1
        over = _RST_ADORN.match(line)
        if (
            over
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and _RST_ADORN.match(lines[i + 2])
            and lines[i + 2].strip()[0] == line.strip()[0]
        ):
            title, style, consumed = lines[i + 1].strip(), (line.strip()[0], True), 3
        elif line.strip() and not line[0].isspace() and i + 1 < len(lines):
            under = _RST_ADORN.match(lines[i + 1])
            if under and len(lines[i + 1].rstrip()) >= len(line.rstrip()) and not _RST_ADORN.match(line):
                title, style, consumed = line.strip(), (lines[i + 1].strip()[0], False), 2
        if title is None or style is None:  # set together
            body.append(line)
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        level = styles.index(style) + 1
        out.append((tuple(h for _, h in stack), "\n".join(body)))
        body = []
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, clean_heading(title)))
        i += consumed
    out.append((tuple(h for _, h in stack), "\n".join(body)))
    return [(h, b) for h, b in out if b.strip() or not h]


# --- notebooks -----------------------------------------------------------------------------------


def notebook_to_markdown(raw: str) -> str:
    """A notebook's markdown cells as they are and its code cells as fenced code; outputs dropped."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return ""
    cells = data.get("cells", []) if isinstance(data, dict) else []
    meta = data.get("metadata") if isinstance(data, dict) else None
    kernel = meta.get("kernelspec") if isinstance(meta, dict) else None
    language = kernel.get("language", "python") if isinstance(kernel, dict) else "python"
    parts = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        # nbformat says str or list of str; anything else (a broken notebook) counts as empty
        source = (
            "".join(s for s in source if isinstance(s, str))
            if isinstance(source, list)
            else source
            if isinstance(source, str)
            else ""
        )
        if not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            parts.append(source.strip("\n"))
        elif cell.get("cell_type") == "code":
            parts.append(f"```{language if isinstance(language, str) else ''}\n{source.strip(chr(10))}\n```")
    return "\n\n".join(parts)


# --- splitting -----------------------------------------------------------------------------------


def blocks(text: str) -> list[str]:
    """Paragraphs, with each fenced code block (blank lines and all) as one block, and an
    indented block glued to what precedes it (rst literal blocks, list continuations)."""
    out: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is not None:
            current.append(line)
            if closes(fence, line):
                fence = None
            continue
        if m:
            fence = m.group(1)
            current.append(line)
            continue
        if not line.strip():
            if current:
                out.append("\n".join(current))
                current = []
            continue
        if not current and out and line[:1].isspace():
            current = [out.pop(), ""]  # continues the previous block
        current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def split_long(text: str, max_chars: int) -> list[str]:
    """`text` in pieces of at most `max_chars` cut between blocks (a longer block stays whole)."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for block in blocks(text):
        if current and size + len(block) + 2 > max_chars:
            pieces.append("\n\n".join(current))
            current, size = [], 0
        current.append(block)
        size += len(block) + 2
    if current:
        pieces.append("\n\n".join(current))
    return pieces
