"""Multi-document YAML with line numbers: ruamel.yaml round-trip nodes, so fixes keep comments."""

from __future__ import annotations

import io
import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from ruamel.yaml import YAML

# ruamel.yaml (round trip, for fixes) is imported where it is used: validation reads with libyaml,
# and the CLI should not pay ruamel's import time (~0.1 s) for it.

MAX_DOCUMENTS = 5000
MAX_NODES = 500_000  # after alias expansion: a "billion laughs" document stops here
# ... and the whole stream: thousands of small alias documents under MAX_NODES each would
# otherwise cost minutes of CPU per call (each document alone passes the per-document cap).
MAX_TOTAL_NODES = 1_000_000
# Schema checks, rules and fixes recurse over the document: past a few hundred levels Python's
# recursion limit ends the call with a RecursionError instead of a finding. Real manifests (CRDs
# with deep openAPIV3Schema included) stay far below this.
MAX_DEPTH = 150


class YamlSyntaxError(Exception):
    """The text is not YAML; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Document:
    """One YAML document of a stream: its round-trip data and where it starts.

    `offset` is the 0-based line where the document's chunk of the text starts (see `chunks`);
    `dump` re-uses an unchanged chunk verbatim.
    """

    index: int
    data: Any
    offset: int = 0
    changed: bool = False
    node: Any = None  # the PyYAML node tree when parsed by `load` (read-only, fast)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "")) if isinstance(self.data, dict) else ""

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion", "")) if isinstance(self.data, dict) else ""

    @property
    def name(self) -> str:
        if not isinstance(self.data, dict):
            return ""
        meta = self.data.get("metadata")
        return str(meta.get("name", "") or meta.get("generateName", "")) if isinstance(meta, dict) else ""

    @property
    def line(self) -> int:
        """The 1-based line where the document's content starts."""
        if self.node is not None:
            return self.node.start_mark.line + 1
        node_line = self.data.lc.line if hasattr(self.data, "lc") else 0  # ruamel's CommentedMap/Seq
        return self.offset + node_line + 1

    def line_of(self, path: tuple) -> int:
        """The 1-based line of `path` in the text, or of its deepest ancestor that exists."""
        if self.node is not None:
            return node_line_of(self.node, path)
        return self.offset + line_of(self.data, path, self.line - self.offset)


def new_yaml() -> YAML:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long strings (commands, annotations)
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


DOC_MARKER = re.compile(r"^---(?=\s|$)")


def chunks(text: str) -> list[tuple[int, str, str]]:
    """The stream split at `---` lines: (0-based line where the body starts, marker line, body)."""
    out: list[tuple[int, str, str]] = []
    start, header, body = 0, "", []
    for n, line in enumerate(text.splitlines(keepends=True)):
        if not DOC_MARKER.match(line):
            body.append(line)
            continue
        out.append((start, header, "".join(body)))
        rest = line[3:]
        if rest.strip() and not rest.strip().startswith("#"):
            start, header, body = n, "---", [rest]  # `--- {a: 1}`: the content shares the marker's line
        else:
            start, header, body = n + 1, line, []
    out.append((start, header, "".join(body)))
    return out


def parse(text: str) -> list[Document]:
    """The non-empty documents of a YAML stream; raises YamlSyntaxError with line and column."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = new_yaml()
    docs: list[Document] = []
    budget = [MAX_TOTAL_NODES]
    parts = chunks(text)
    if len(parts) > MAX_DOCUMENTS:
        raise YamlSyntaxError(f"more than {MAX_DOCUMENTS} documents; split the input", None, None)
    for offset, _header, body in parts:
        try:
            loaded = [d for d in yaml.load_all(body)]
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "invalid YAML"
            line = offset + mark.line + 1 if mark is not None else None
            column = mark.column + 1 if mark is not None else None
            raise YamlSyntaxError(f"YAML syntax error: {problem}", line, column) from None
        except YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
            raise YamlSyntaxError(f"YAML error: {first}", None, None) from None
        except RecursionError:
            raise YamlSyntaxError("YAML nested too deeply", None, None) from None
        except _TAG_ERRORS:
            raise YamlSyntaxError(TAG_MISMATCH, offset + 1, 1) from None
        if len(loaded) > 1:  # a `...` end marker or a directive we did not split on
            raise YamlSyntaxError("unsupported document separator; separate documents with '---' lines", offset + 1, 1)
        if loaded and loaded[0] is not None:
            _check_size(loaded[0], offset, budget)
            docs.append(Document(len(docs), loaded[0], offset))
    return docs


# An explicit tag the value does not fit (`!!int x`, `!!bool x`, `!!timestamp x`): the loaders'
# constructors raise these plain exceptions instead of a YAML error.
_TAG_ERRORS = (ValueError, TypeError, LookupError, AttributeError, OverflowError)  # LookupError: `!!int ""`
TAG_MISMATCH = "YAML error: a value does not fit its explicit tag (e.g. '!!int x'); remove the tag or fix the value"


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's safe loader; a bare `=` (YAML's value tag) is read as the string it is."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load(text: str) -> list[Document]:
    """Like `parse`, several times faster (libyaml), for reading only: documents keep the node
    tree for line numbers instead of round-trip data, so they cannot be re-emitted."""
    docs: list[Document] = []
    budget = [MAX_TOTAL_NODES]
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if len(docs) >= MAX_DOCUMENTS:
                raise YamlSyntaxError(f"more than {MAX_DOCUMENTS} documents; split the input", None, None)
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
                continue
            _check_duplicate_keys(node)
            try:
                data = loader.construct_document(node)
            except _TAG_ERRORS:
                raise YamlSyntaxError(TAG_MISMATCH, node.start_mark.line + 1, 1) from None
            if data is None:
                continue
            _check_size(data, node.start_mark.line, budget)
            docs.append(Document(len(docs), data, node=node))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise YamlSyntaxError(f"YAML syntax error: {problem}", line, column) from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise YamlSyntaxError(f"YAML error: {first}", None, None) from None
    except RecursionError:
        raise YamlSyntaxError("YAML nested too deeply", None, None) from None
    finally:
        loader.dispose()
    return docs


def _check_duplicate_keys(root: Any) -> None:
    """Kubernetes' strict decoding rejects a key given twice; libyaml would keep the last silently."""
    seen_nodes, stack = set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: dict = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    if key_node.value in keys:
                        mark = key_node.start_mark
                        raise YamlSyntaxError(
                            f"YAML syntax error: found duplicate key {key_node.value!r}", mark.line + 1, mark.column + 1
                        )
                    keys[key_node.value] = True
                stack.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def node_line_of(node: Any, path: tuple) -> int:
    """The 1-based line of `path` in a PyYAML node tree, or of its deepest ancestor that exists."""
    line = node.start_mark.line + 1
    for key in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
                    line, child = key_node.start_mark.line + 1, value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            child = node.value[key]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _check_size(data: Any, offset: int, budget: list[int] | None = None) -> None:
    """Refuse documents whose aliases expand past MAX_NODES (checks walk the expanded tree), and
    streams whose documents together expand past MAX_TOTAL_NODES (`budget` holds what is left)."""
    seen, stack = 0, [(data, 1)]
    left = budget[0] if budget is not None else MAX_TOTAL_NODES
    while stack:
        node, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH and isinstance(node, (dict, list)):
            raise YamlSyntaxError(f"the document is nested more than {MAX_DEPTH} levels deep", offset + 1, 1)
        if seen > MAX_NODES:
            raise YamlSyntaxError(f"the document expands to more than {MAX_NODES} nodes (YAML aliases?)", offset + 1, 1)
        if seen > left:
            raise YamlSyntaxError(
                f"the documents together expand to more than {MAX_TOTAL_NODES} nodes (YAML aliases?); split the input",
                offset + 1,
                1,
            )
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    if budget is not None:
        budget[0] -= seen


def dump(docs: list[Document], original: str) -> str:
    """The text with changed documents re-emitted (comments and key order kept), others verbatim."""
    yaml = new_yaml()
    mapping, offset = guess_indent(original)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    by_offset = {d.offset: d for d in docs}
    out = []
    for start, header, body in chunks(original):
        doc = by_offset.get(start)
        if doc is not None and doc.changed:
            out.append(header if header.endswith("\n") or not header else header + "\n")
            buf = io.StringIO()
            yaml.dump(doc.data, buf)
            out.append(buf.getvalue())
        else:
            out.append(header + body)
    return "".join(out)


def guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, block-sequence dash offset) as the text writes them; (2, 0) when unsure."""
    mapping, offset = None, None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for here, nxt in itertools.pairwise(lines):
        stripped = here.strip()
        if not stripped.endswith(":") or stripped.startswith("- "):
            continue
        step = (len(nxt) - len(nxt.lstrip(" "))) - (len(here) - len(here.lstrip(" ")))
        if nxt.lstrip().startswith("- "):
            offset = step if offset is None and 0 <= step <= 4 else offset
        elif mapping is None and 1 < step <= 8:
            mapping = step
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset if offset is not None else 0


def line_of(node: Any, path: tuple, default: int = 1) -> int:
    line = default
    for key in path:
        try:
            if isinstance(node, dict) and hasattr(node, "lc") and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, list) and hasattr(node, "lc") and isinstance(key, int) and 0 <= key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (AttributeError, KeyError, TypeError, IndexError):
            break
    return line


def format_path(path: tuple) -> str:
    """`('spec', 'containers', 0, 'image')` → `spec.containers[0].image`."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += ("." if out else "") + str(key)
    return out
