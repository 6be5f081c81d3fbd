"""Page extraction in the web server's worker pool: bounded in time and memory, one call per failure.

lxml, trafilatura and pypdf on a hostile page (100,000 links, a tree nested 100,000 deep, a PDF
bomb) can run for tens of seconds and take hundreds of megabytes. In a thread neither the tool
timeout nor any memory cap can stop them, and the memory stays with the server. Here each
extraction runs in a warm child process (`mcpfleet.common.workers`) with RLIMIT_AS, a CPU budget
and a wall-clock limit: a page that passes them kills its worker, the call gets a clear error,
and the server and the other callers carry on.
"""

from __future__ import annotations

from mcpfleet.common.errors import TargetError, UserError, WorkerCrashed, WorkerTimeout
from mcpfleet.common.workers import WorkerPool
from mcpfleet.servers.web.extract import Extracted, Format

MODULE = "mcpfleet.servers.web"
TARGET = f"{MODULE}.extract:extract_plain"
INITIALIZER = f"{MODULE}.extract:warm"
_RAW_HINT = "format='raw' returns the page's source without extraction"


class PooledExtractor:
    """`extract` in the pool; every failure becomes a message the model can act on."""

    def __init__(self, pool: WorkerPool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    async def __call__(
        self,
        content: bytes,
        content_type: str,
        charset: str | None,
        url: str,
        fmt: Format,
        *,
        pdf_max_pages: int,
        max_chars: int,
    ) -> Extracted:
        try:
            done = await self._pool.run(
                TARGET, content, content_type, charset, url, fmt, pdf_max_pages, max_chars, timeout=self._timeout
            )
        except TargetError as exc:
            if exc.kind == "UserError":  # extract's own answers (binary content, encrypted PDF...)
                raise UserError(exc.detail) from None
            if exc.kind == "MemoryError":
                raise UserError(f"the page needs more memory to extract than a call may use; {_RAW_HINT}") from None
            raise UserError(f"the page could not be extracted ({exc.kind}); {_RAW_HINT}") from None
        except WorkerTimeout:
            raise UserError(
                f"extracting the page took longer than {self._timeout:g} s and was stopped "
                f"(it is very large or deeply nested); {_RAW_HINT}"
            ) from None
        except WorkerCrashed as exc:
            raise UserError(
                f"extracting the page passed its memory or CPU limit and was stopped ({exc}); {_RAW_HINT}"
            ) from None
        return Extracted(str(done["title"]), str(done["text"]), str(done["kind"]), tuple(str(n) for n in done["notes"]))
