"""What a fetch returns: `FetchResult`, with the body as text or as checked JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mcpfleet.common.errors import MalformedResponse, OutboundError
from mcpfleet.common.http.policy import display

_KINDS = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


@dataclass(frozen=True)
class FetchResult:
    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    truncated: bool = False
    from_cache: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for param in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip("\"'") or None
        return None

    def text(self) -> str:
        try:
            return self.content.decode(self.charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")

    def json(self, expect: type[dict] | type[list] | None = None, *, what: str | None = None) -> Any:
        """The body parsed as JSON, after the checks every caller of a JSON API makes.

        Statuses with a meaning of their own (404 "not found", 401/403 "needs a token") are the
        caller's to handle first; this method refuses what is left.

        Args:
            expect: `dict` or `list` to require that shape; None takes any JSON value.
            what: who answered, for the messages (default: the URL without its query).

        Raises:
            OutboundError: the status is not 2xx (`"<what> answered HTTP 503"`).
            MalformedResponse: the body is not JSON, or not of the `expect`ed shape.

        Example:
            data = (await client.fetch(url)).json(dict, what="the advisory endpoint")
        """
        who = what or display(self.url)
        if not 200 <= self.status < 300:
            raise OutboundError(f"{who} answered HTTP {self.status}")
        try:
            # text(): the declared charset, undecodable bytes replaced; a BOM is not JSON but common
            data = json.loads(self.text().removeprefix("\ufeff"))
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            sent = f"the {self.content_type} body" if self.content_type else "the body"
            raise MalformedResponse(f"{who} did not answer JSON ({sent} is not JSON)") from None
        if expect is not None and not isinstance(data, expect):
            raise MalformedResponse(f"{who} answered {_KINDS[type(data)]} in JSON, not {_KINDS[expect]}")
        return data
