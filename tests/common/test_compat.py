"""Each library internal that common/compat.py relies on, checked against the installed version."""

from __future__ import annotations

import httpcore2
import httpx2
import pytest

from mcpfleet.common.compat import replace_transport_pool


def test_httpx2_transport_pool_can_be_replaced() -> None:
    transport = httpx2.AsyncHTTPTransport()
    pool = httpcore2.AsyncConnectionPool()
    assert isinstance(transport._pool, httpcore2.AsyncConnectionPool), (
        f"httpx2 {httpx2.__version__}: AsyncHTTPTransport._pool is gone; DNS pinning (common/http) needs it"
    )
    replace_transport_pool(transport, pool)
    assert transport._pool is pool


def test_a_transport_without_the_pool_is_refused_loudly() -> None:
    transport = httpx2.AsyncHTTPTransport()
    del transport._pool  # what a release that renames the attribute would look like
    with pytest.raises(RuntimeError, match=rf"httpx2 {httpx2.__version__}: .*DNS pinning cannot be installed"):
        replace_transport_pool(transport, httpcore2.AsyncConnectionPool())
