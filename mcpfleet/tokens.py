"""Token counts with OpenAI's o200k_base, the cost a tools/list puts on a model's context.

tiktoken is used when its o200k_base file is available offline (TIKTOKEN_CACHE_DIR, e.g. the copy
the litellm wheel ships); tiktoken would otherwise download it at first use, which fails in
air-gapped clusters and hangs until a timeout behind some proxies. bpe-openai embeds the same
tables and is the fallback (identical counts, measured on 140k tokens of Python source).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


_lock = threading.Lock()
_loaded: list[Callable[[str], list[int]]] = []


def _encoder() -> Callable[[str], list[int]]:
    """The o200k_base encoder, loaded once (0.8 s of CPU, ~75 MB): concurrent first calls wait for
    the one load instead of each loading the tables."""
    if not _loaded:
        with _lock:
            if not _loaded:
                _loaded.append(_load())
    return _loaded[0]


def _load() -> Callable[[str], list[int]]:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    if cache_dir and (Path(cache_dir) / hashlib.sha1(_O200K_URL.encode()).hexdigest()).is_file():
        import tiktoken

        return tiktoken.get_encoding("o200k_base").encode_ordinary
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base").encode_ordinary


def warm() -> None:
    """Load the encoder now (a server that counts tokens per call does it before it is ready)."""
    _encoder()


def count_tokens(text: str) -> int:
    return len(_encoder()(text))


def tool_definition(tool: Any) -> dict[str, Any]:
    """A FastMCP tool as it appears in tools/list on the wire."""
    return tool.to_mcp_tool().model_dump(by_alias=True, exclude_none=True, mode="json")


def tools_tokens(tools: Iterable[Any]) -> int:
    """Tokens of the tools/list payload for these tools (compact JSON, as sent)."""
    payload = [tool_definition(t) for t in tools]
    return count_tokens(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))
