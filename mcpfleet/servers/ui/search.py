"""Searching a registry's catalogue the way `shadcn search` finds items, best first.

The CLI runs fuzzysort over name, title and description: every word of the query must match one of
them, in order but not necessarily contiguously ("login" finds `login-01` and, weakly, a sidebar
whose description spells l…o…g…i…n). We keep that recall and rank by how each word matched: a whole
name first, then words inside the name, the title, the description, and subsequence-only matches
last.
"""

from __future__ import annotations

import re
from typing import Any

KEYS = ("name", "title", "description", "type")
# Where a word matched, as a substring: worth more in the name than in the prose. The type
# ("hook", "block", "theme") is ours, not the CLI's: asking for "hook" should find the hooks.
_SUBSTRING = {"name": 6.0, "title": 4.0, "description": 2.0, "type": 1.5}
_SUBSEQUENCE = {"name": 1.0, "title": 0.7, "description": 0.4, "type": 0.0}
# Ties go to what people usually ask for: components and blocks before their examples.
_TYPE_ORDER = {
    "registry:ui": 0,
    "registry:block": 1,
    "registry:component": 2,
    "registry:hook": 3,
    "registry:lib": 4,
    "registry:theme": 5,
    "registry:style": 6,
    "registry:example": 7,
}
MAX_TERMS = 12


def _subsequence(word: str, text: str) -> bool:
    rest = iter(text)
    return all(ch in rest for ch in word)


def _word_score(word: str, fields: dict[str, str]) -> float:
    best = 0.0
    for key in KEYS:
        text = fields[key]
        at = text.find(word)
        if at >= 0:
            boundary = at == 0 or not text[at - 1].isalnum()
            best = max(best, _SUBSTRING[key] + (1.0 if boundary else 0.0))
        elif best == 0.0 and _SUBSEQUENCE[key] and _subsequence(word, text):
            best = max(best, _SUBSEQUENCE[key])
    return best


def score(item: dict[str, Any], words: list[str], phrase: str) -> float:
    """How well `item` answers the query; 0 when some word matches nowhere."""
    fields = {key: str(item.get(key) or "").lower() for key in KEYS}
    fields["type"] = fields["type"].removeprefix("registry:")
    total = 0.0
    for word in words:
        got = _word_score(word, fields)
        if got == 0.0:
            return 0.0
        total += got
    name = fields["name"]
    slug = re.sub(r"[\s_]+", "-", phrase)
    if name == slug:
        total += 20
    elif name.startswith(slug):
        total += 10
    elif slug in name or phrase in fields["title"]:
        total += 5
    return total


def search(items: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """The items matching every word of `query`, best first (name order among equals)."""
    phrase = " ".join(query.lower().split())
    words = list(dict.fromkeys(phrase.split()))[:MAX_TERMS]
    if not words:
        return list(items)
    scored = [(score(item, words, phrase), item) for item in items]
    found = [(s, i) for s, i in scored if s > 0]
    found.sort(key=lambda pair: (-pair[0], _TYPE_ORDER.get(str(pair[1].get("type")), 8), pair[1]["name"]))
    return [item for _, item in found]
