"""Small text helpers of the runtime, importable anywhere: no FastMCP, nothing heavy.

Worker processes (prolog's engine, math's sandbox) and the CLI's fast paths (k8s validate) use
them too, so this module imports only the standard library. Paging long outside text is
`mcpfleet.common.untrusted.page`.
"""

from __future__ import annotations

__all__ = ["clip"]


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, the last of them "…" when anything was cut.

    For one-line summaries and messages (a result's `text`, a search snippet, an error quoting
    its input); text a caller may want in full is paged instead.

    Example:
        clip("kubernetes egress policy", 12) == "kubernetes …"
    """
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
