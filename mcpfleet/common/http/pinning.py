"""DNS pinning: the connection pool connects to the checked addresses, never to a name.

Around each send the client sets a `Pin` (host, port, the addresses `policy.checked_addresses`
allowed); `PinnedBackend.connect_tcp` dials those addresses instead of resolving the name again,
which defeats DNS rebinding. The pool still keys connections, and sets SNI and the certificate
check, by the URL's host name, so only the TCP target changes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass

import anyio
import httpcore2
import httpx2

from mcpfleet.common.compat import replace_transport_pool


@dataclass(frozen=True)
class Pin:
    host: str
    port: int
    addresses: tuple[str, ...]


# Set around each send. The pool opens connections in the sending task, so the backend sees it.
PIN: contextvars.ContextVar[Pin | None] = contextvars.ContextVar("mcpfleet_http_pin", default=None)


class PinnedBackend(httpcore2.AsyncNetworkBackend):
    """Network backend whose connect_tcp swaps the host for the address checked for this request.

    Without a pin for exactly this host and port it refuses (fail closed). `network` is the
    backend that really dials the address (httpcore2's AnyIO backend by default; tests pass one
    that records the targets instead of connecting).
    """

    def __init__(self, network: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self._network = network or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        pin = PIN.get()
        if pin is None or pin.host != host or pin.port != port:
            raise httpcore2.ConnectError(f"no checked address for {host}:{port}")
        failure: Exception | None = None
        for address in pin.addresses:  # all were checked; try them in resolver order
            try:
                return await self._network.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args: object, **kwargs: object) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("unix sockets are not used for outbound requests")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class PinnedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport (its exception mapping and streams) over a pool using PinnedBackend."""

    def __init__(self, limits: httpx2.Limits, network: httpcore2.AsyncNetworkBackend | None = None) -> None:
        # trust_env here only means SSL_CERT_FILE/SSL_CERT_DIR: operators' CA bundles, not proxies.
        ssl_context = httpx2.create_ssl_context(trust_env=True)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # AsyncHTTPTransport takes no network_backend, so replace the pool it built (compat.py
        # checks the private attribute is there, and fails rather than send unpinned requests).
        replace_transport_pool(
            self,
            httpcore2.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=PinnedBackend(network),
            ),
        )
