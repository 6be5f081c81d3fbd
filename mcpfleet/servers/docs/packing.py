"""Fitting the best sections into a token budget, counted with the o200k_base tokenizer.

Sections go in rank order; one that does not fit is left out and the next is tried. When not even
the best section fits, its leading blocks are kept up to the budget — a code block goes in whole
or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mcpfleet.servers.docs.chunking import blocks
from mcpfleet.servers.docs.store import Hit
from mcpfleet.tokens import count_tokens

SEPARATOR = "\n\n---\n\n"
MIN_SECTION_TOKENS = 40  # less room than this left: stop looking
CHARS_PER_TOKEN_CEILING = 12


@dataclass(frozen=True)
class Packed:
    sections: list[dict]
    text: str
    tokens: int
    left_out: int  # matching sections that did not fit


def render(hit: Hit, body: str) -> str:
    source = f"{hit.path} ({hit.url})" if hit.url else hit.path
    return f"## {hit.heading}\nsource: {source}\n\n{body}"


def pack(hits: Sequence[Hit], budget: int) -> Packed:
    sections: list[dict] = []
    parts: list[str] = []
    used = 0
    sep_cost = count_tokens(SEPARATOR)
    for hit in hits:
        cost_extra = sep_cost if parts else 0
        room = budget - used - cost_extra
        if parts and room < MIN_SECTION_TOKENS:
            break
        rendered = render(hit, hit.body)
        # Counting is the slow part; a text this long cannot fit (o200k averages ~4 characters a token)
        tokens = budget + 1 if parts and len(rendered) > CHARS_PER_TOKEN_CEILING * room else count_tokens(rendered)
        body, partial = hit.body, False
        if used + cost_extra + tokens > budget:
            if parts:
                continue
            body = _leading_blocks(hit, budget - cost_extra)
            if not body:
                continue
            rendered, partial = render(hit, body), True
            tokens = count_tokens(rendered)
        parts.append(rendered)
        used += cost_extra + tokens
        sections.append(
            {
                "heading": hit.heading,
                "path": hit.path,
                "url": hit.url,
                "text": body,
                "tokens": tokens,
                "partial": partial,
            }
        )
    return Packed(sections, SEPARATOR.join(parts), used, len(hits) - len(sections))


def _leading_blocks(hit: Hit, budget: int) -> str:
    """As many whole blocks from the start of the section as fit (code blocks are whole blocks)."""
    kept: list[str] = []
    estimate = count_tokens(render(hit, ""))
    for block in blocks(hit.body):
        if len(block) > CHARS_PER_TOKEN_CEILING * budget:
            break
        estimate += count_tokens(block) + 1
        if estimate > budget:
            break
        kept.append(block)
    # the sum of the parts' counts is close to the whole's; the exact count decides
    while kept and count_tokens(render(hit, "\n\n".join(kept))) > budget:
        kept.pop()
    return "\n\n".join(kept)
