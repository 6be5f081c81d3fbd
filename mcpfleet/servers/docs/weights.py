"""How much a page's sections count in a ranking: generated and reference pages weigh less.

A generated API reference (one 1.5 MB file of class signatures, a CRD field list) holds thousands of
short sections whose headings are exactly the words people ask about ("domain template",
"storage uri"), so BM25 puts them above the guide that answers the question. Each document gets a
weight in (0, 1] at index time from what it looks like: its size, how much of it is tables,
signatures and field lists, generator front matter (OpenAPI pages), and a `reference/` or `api/`
folder. The search multiplies each section's BM25 score by its document's weight.
"""

from __future__ import annotations

import math
import re
from pathlib import PurePosixPath

LARGE_CHARS = 60_000  # a hand-written guide rarely goes beyond this; every doubling past it weighs less
REFERENCE_FOLDERS = frozenset({"reference", "references", "api", "api-reference", "apis", "generated", "sdk"})
FOLDER_FACTOR = 0.8
MIN_WEIGHT = 0.1
# Lines that generators write and people rarely do: definitions, anchors, field lists. Tables count
# for less: hand-written guides have them too (status codes, supported GPUs).
_GENERATED_LINE = re.compile(
    r"^\s*((async\s+)?def\s+\w+\(|class\s+\w+[(:]|<a\s+id=|[-*]\s+`\w+`\s*(\(|:|-)|\w+ — [\w\[\]]+ — )"
)
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
GENERATOR_KEYS = ("api:", "info_path:", "sidebar_class_name:")  # docusaurus-plugin-openapi pages


def page_weight(path: str, text: str, sections: int, raw_head: str = "") -> float:
    """The weight of one document; `text` is its normalised text, `raw_head` the file's first
    characters (its front matter) as written."""
    factor = 1.0
    if len(text) > LARGE_CHARS:
        factor /= 1 + math.log2(len(text) / LARGE_CHARS)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if lines:
        generated = sum(1 for ln in lines if _GENERATED_LINE.match(ln)) / len(lines)
        tables = sum(1 for ln in lines if _TABLE_LINE.match(ln)) / len(lines)
        factor *= (1 - 0.6 * min(1.0, generated * 1.5)) * (1 - 0.25 * tables)
    if sections > 200:  # hundreds of headings in one file: an index of symbols, not a page
        factor *= 0.7
    # a reference/ or api/ folder alone says little (ollama's api/ holds hand-written guides); it
    # only confirms what size or density already suggest
    if factor < 0.9 and any(part.lower() in REFERENCE_FOLDERS for part in PurePosixPath(path).parts[:-1]):
        factor *= FOLDER_FACTOR
    head = raw_head[:3000]
    if head.startswith("---") and any(f"\n{key}" in head for key in GENERATOR_KEYS):
        factor *= 0.8
    return round(max(MIN_WEIGHT, min(1.0, factor)), 4)
