"""The library internals the runtime relies on, in one place, each with a test (tests/common/test_compat.py).

An upgrade that breaks one of these assumptions fails here, loudly, with the library version in
the message, instead of silently changing behaviour somewhere else.
"""

from __future__ import annotations

import httpcore2
import httpx2


def replace_transport_pool(transport: httpx2.AsyncHTTPTransport, pool: httpcore2.AsyncConnectionPool) -> None:
    """Put `pool` under `transport` (common/http's DNS pinning).

    httpx2's `AsyncHTTPTransport` takes no `network_backend`, so the pinned pool replaces the one
    it built, its private `_pool`. If a release renames or retypes that attribute, raise rather
    than let requests go through a pool that resolves names itself.
    """
    if not isinstance(getattr(transport, "_pool", None), httpcore2.AsyncConnectionPool):
        raise RuntimeError(
            f"httpx2 {httpx2.__version__}: AsyncHTTPTransport has no _pool connection pool any more; "
            "DNS pinning cannot be installed (see common/compat.py)"
        )
    transport._pool = pool  # type: ignore[assignment]
