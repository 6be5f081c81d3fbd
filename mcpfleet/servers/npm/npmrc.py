"""Registries and credentials from `.npmrc` text, the way npm reads them.

    registry=https://registry.example/
    @acme:registry=https://npm.acme.internal/
    //npm.acme.internal/:_authToken=${ACME_NPM_TOKEN}

`${VAR}` expands from the environment (as npm does), so a Kubernetes Secret can reach the token
through an environment variable. A credential applies to requests whose URL starts with its
`//host[:port]/path/` key (npm's "nerf dart"), longest match first, so a token configured for a
private registry is never sent to the public one or to a tarball host it was not meant for.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mcpfleet.common.errors import ConfigError

_ENV = re.compile(r"(\\*)\$\{([^${}]+)\}")
REDACTED = "***"


@dataclass(frozen=True)
class NpmConfig:
    registry: str = "https://registry.npmjs.org/"
    scopes: Mapping[str, str] = field(default_factory=dict)  # "@acme" -> registry URL
    credentials: Mapping[str, str] = field(default_factory=dict)  # "//host/path/" -> Authorization value

    def registry_for(self, name: str) -> str:
        """The registry URL (with a trailing slash) serving package `name`."""
        if name.startswith("@") and "/" in name:
            scope = name.split("/", 1)[0].lower()
            if scope in self.scopes:
                return self.scopes[scope]
        return self.registry

    def auth_for(self, url: str) -> str | None:
        """The Authorization header value for `url`, or None (longest matching key wins)."""
        key = _nerf_dart(url)
        while key:
            if key in self.credentials:
                return self.credentials[key]
            trimmed = key.rstrip("/")
            if trimmed.count("/") <= 2:  # "//host" left: nothing shorter can match
                return None
            key = trimmed.rsplit("/", 1)[0] + "/"
        return None

    def secrets(self) -> list[str]:
        """Every credential string, and its token part, for redaction."""
        out = set()
        for value in self.credentials.values():
            out.add(value)
            out.add(value.split(" ", 1)[-1])
        return sorted((s for s in out if len(s) >= 4), key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, REDACTED)
        return text


def _nerf_dart(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
    return f"//{parts.netloc.lower()}{path}"


def _normal_registry(url: str, where: str) -> str:
    url = url.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise ConfigError(f"npm {where}: {url!r} is not an http(s) registry URL")
    return url.rstrip("/") + "/"


def _expand(value: str, env: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        slashes = m.group(1)
        if len(slashes) % 2:  # an escaped \${VAR} stays literal
            return slashes[1:] + m.group(0)[len(slashes) :]
        return slashes + env.get(m.group(2), "")

    return _ENV.sub(sub, value)


def parse_npmrc(text: str, default_registry: str, env: Mapping[str, str] | None = None) -> NpmConfig:
    """An NpmConfig from `.npmrc` text over `default_registry`; unknown keys are ignored, as npm does."""
    env = os.environ if env is None else env
    registry = _normal_registry(default_registry, "registry")
    scopes: dict[str, str] = {}
    tokens: dict[str, str] = {}
    basics: dict[str, dict[str, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key, value = key.strip(), _expand(value.strip().strip('"'), env)
        if key == "registry":
            registry = _normal_registry(value, f"npmrc line {number}")
        elif key.startswith("@") and key.endswith(":registry"):
            scopes[key[: -len(":registry")].lower()] = _normal_registry(value, f"npmrc line {number}")
        elif key.startswith("//") and ":" in key:
            prefix, _, setting = key.rpartition(":")
            prefix = prefix.lower() if prefix.endswith("/") else prefix.lower() + "/"
            if setting == "_authToken":
                tokens[prefix] = f"Bearer {value}"
            elif setting in ("_auth", "username", "_password"):
                basics.setdefault(prefix, {})[setting] = value
    credentials = dict(tokens)
    for prefix, parts in basics.items():
        if prefix in credentials:
            continue
        if "_auth" in parts:
            credentials[prefix] = f"Basic {parts['_auth']}"
        elif "username" in parts and "_password" in parts:
            try:
                password = base64.b64decode(parts["_password"]).decode()
            except (ValueError, UnicodeDecodeError):
                raise ConfigError(f"npmrc: {prefix}:_password must be base64") from None
            pair = base64.b64encode(f"{parts['username']}:{password}".encode()).decode()
            credentials[prefix] = f"Basic {pair}"
    return NpmConfig(registry, scopes, credentials)
