"""A small OpenAI-compatible Chat Completions client: tool calls, streaming or not, retries.

Works against vLLM, SGLang, LiteLLM or any server speaking `POST {base_url}/chat/completions`.
The endpoint is the operator's own (usually a cluster-internal address), so it is reached
directly rather than through the SSRF-guarded `OutboundClient`, which exists for URLs that come
from models and users.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx2

from mcpfleet.evals.stream import StreamAccumulator, StreamError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class EndpointError(Exception):
    """The endpoint failed after the retries (or refused the request outright); `raw` keeps the
    stream received before an in-band error frame."""

    def __init__(self, message: str, raw: list[str] | None = None) -> None:
        super().__init__(message)
        self.raw = raw


@dataclass
class ChatResult:
    content: str = ""
    tool_calls: list[dict] = field(default_factory=list)  # [{"id", "name", "arguments"}] as received
    finish_reason: str | None = None
    usage: dict | None = None
    latency_s: float = 0.0
    attempts: int = 1
    model: str | None = None
    system_fingerprint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_stream: list[str] | None = None  # the `data:` payloads, when streamed
    stream_faults: list[dict] = field(default_factory=list)  # found while assembling the stream


ENGINE_HEADERS = ("server", "x-litellm-version", "x-litellm-model-api-base", "openai-version")


class ChatClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: Any = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._http = httpx2.AsyncClient(
            headers=headers, timeout=httpx2.Timeout(timeout), transport=transport, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def complete(
        self,
        model: str,
        messages: list[dict],
        tools: list[dict] | None = None,
        *,
        tool_choice: str | None = "auto",
        stream: bool = False,
        temperature: float | None = None,
        seed: int | None = None,
        extra: dict | None = None,
    ) -> ChatResult:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if tools:
            body["tools"] = tools
            if tool_choice:
                body["tool_choice"] = tool_choice
        if temperature is not None:
            body["temperature"] = temperature
        if seed is not None:
            body["seed"] = seed
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        body.update(extra or {})
        url = f"{self.base_url}/chat/completions"
        last: str = ""
        for attempt in range(1, self.retries + 2):
            started = time.perf_counter()
            try:
                result = await asyncio.wait_for(self._send(url, body, stream), timeout=self.timeout)
            except _Retryable as exc:
                last = str(exc)
            except (httpx2.TransportError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                result.latency_s = time.perf_counter() - started
                result.attempts = attempt
                return result
            if attempt <= self.retries:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random() / 2))
        raise EndpointError(f"{last} (after {self.retries + 1} attempts)")

    async def _send(self, url: str, body: dict, stream: bool) -> ChatResult:
        if not stream:
            response = await self._http.post(url, json=body)
            _raise_for_status(response.status_code, response.text)
            try:
                data = response.json()
            except ValueError:
                raise EndpointError(f"the endpoint answered non-JSON: {response.text[:200]!r}") from None
            result = parse_completion(data)
            result.headers = _engine_headers(response.headers)
            return result
        async with self._http.stream("POST", url, json=body) as response:
            if response.status_code >= 400:
                text = (await response.aread()).decode("utf-8", "replace")
                _raise_for_status(response.status_code, text)
            result = ChatResult(headers=_engine_headers(response.headers))
            acc = StreamAccumulator(result)
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                try:
                    acc.add_line(payload)
                except StreamError as exc:
                    raise EndpointError(str(exc), exc.raw) from None
            return acc.finish()

    async def detect_engine(self) -> dict:
        """What the endpoint reveals about its serving engine (SGLang, vLLM, LiteLLM), best effort."""
        root = self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url
        info: dict[str, Any] = {}
        probes = (("sglang", f"{root}/get_server_info"), ("vllm", f"{root}/version"))
        for engine, url in probes:
            try:
                response = await self._http.get(url, timeout=5)
            except httpx2.HTTPError:
                continue
            if response.status_code != 200:
                continue
            try:
                data = response.json()
            except ValueError:
                continue
            if isinstance(data, dict) and data.get("version"):
                info = {"engine": engine, "version": str(data["version"])[:40]}
                break
        try:
            response = await self._http.get(f"{self.base_url}/models", timeout=5)
            headers = _engine_headers(response.headers)
        except httpx2.HTTPError:
            headers = {}
        if "x-litellm-version" in headers:
            info.setdefault("gateway", "litellm")
            info["gateway_version"] = headers["x-litellm-version"]
        if headers.get("server"):
            info["server_header"] = headers["server"]
        return info


class _Retryable(Exception):
    pass


def _raise_for_status(status: int, text: str) -> None:
    if status in RETRY_STATUS:
        raise _Retryable(f"HTTP {status}: {text[:200]}")
    if status >= 400:
        raise EndpointError(f"HTTP {status}: {text[:300]}")


def _engine_headers(headers: Any) -> dict[str, str]:
    return {h: headers[h][:80] for h in ENGINE_HEADERS if h in headers}


def parse_completion(data: dict) -> ChatResult:
    """A non-streamed `chat.completion` object."""
    if isinstance(data, dict) and data.get("error") and not data.get("choices"):
        err = data["error"]
        raise EndpointError(
            f"the endpoint answered an error: {str(err.get('message') if isinstance(err, dict) else err)[:300]}"
        )
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
    except (KeyError, IndexError, TypeError):
        raise EndpointError(f"no choices in the response: {json.dumps(data)[:200]}") from None
    calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        calls.append({"id": call.get("id"), "name": fn.get("name") or "", "arguments": fn.get("arguments")})
    return ChatResult(
        content=message.get("content") or "",
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=data.get("usage"),
        model=data.get("model"),
        system_fingerprint=data.get("system_fingerprint"),
    )
