"""Fleet configuration: embedded defaults, an optional TOML/YAML file, then `MCPFLEET_*` variables.

Precedence (highest first): explicit overrides (CLI flags) > environment > config file > defaults.
Nested fields use `__` in variable names: `MCPFLEET_LIMITS__TOOL_TIMEOUT=10`. Lists and maps take
JSON: `MCPFLEET_AUTH__API_KEYS='[{"name": "ci", "hash": "sha256:...", "servers": ["math"]}]'`.
"""

from __future__ import annotations

import contextvars
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mcpfleet.common import errors

CONFIG_ENV = "MCPFLEET_CONFIG"
_config_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar("mcpfleet_config", default=None)


class _Section(BaseModel):
    model_config = {"extra": "forbid"}


class ApiKey(_Section):
    """One API key, stored hashed (`mcpfleet auth hash-key` prints the hash)."""

    name: str = Field(min_length=1, max_length=64, description="caller identity for logs and limits")
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    servers: list[str] = Field(default_factory=lambda: ["*"], description="servers this key may call; * = all")
    list_only: bool = Field(
        default=False, description="may list tools but not call them (a gateway's own start-up tools listing)"
    )

    def allows(self, server: str) -> bool:
        return "*" in self.servers or server in self.servers


class JwtSettings(_Section):
    jwks_url: str | None = None
    public_key: str | None = Field(default=None, description="PEM key instead of a JWKS URL")
    issuer: str | None = None
    audience: str | None = None
    algorithm: str = "RS256"
    audience_optional: bool = Field(
        default=False,
        description="accept tokens without checking aud (only if the issuer mints tokens for the fleet alone)",
    )
    required_scopes: list[str] = Field(default_factory=list)
    identity_claim: str = Field(default="sub", min_length=1, description="claim naming the caller")
    require_exp: bool = Field(default=True, description="refuse tokens without an exp claim")
    leeway: float = Field(default=30.0, ge=0, le=600, description="seconds of clock skew allowed for exp, nbf, iat")


class AuthSettings(_Section):
    api_keys: list[ApiKey] = Field(default_factory=list)
    jwt: JwtSettings | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.api_keys) or self.jwt is not None


class LimitSettings(_Section):
    tool_timeout: float = Field(default=30.0, gt=0, le=3600, description="seconds per tool call")
    tool_timeouts: dict[str, float] = Field(default_factory=dict, description="per tool name, e.g. math_solve: 60")
    rate_limit_per_minute: int = Field(default=600, ge=0, description="per caller and server; 0 = off")
    rate_limit_burst: int = Field(default=60, ge=1)
    rate_limit_store: str = Field(
        default="memory", description="'memory' (per replica) or a redis:// URL shared by replicas"
    )
    max_request_bytes: int = Field(default=1_000_000, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0, le=300, description="seconds to receive a request's headers")
    body_timeout: float = Field(default=15.0, gt=0, le=600, description="seconds to receive a request's body")
    max_connections: int = Field(default=1000, ge=1, description="concurrent connections; more get 503")
    max_output_chars: int = Field(default=100_000, ge=1000)

    def timeout_for(self, tool: str) -> float:
        """Seconds a call of `tool` may run before the runtime stops it."""
        return self.tool_timeouts.get(tool, self.tool_timeout)


class TelemetrySettings(_Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="auto: short text lines on a terminal, JSON lines otherwise (pods)"
    )
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP traces endpoint, e.g. http://otel:4318")
    service_name: str = "mcpfleet"


class HttpSettings(_Section):
    """Outbound HTTP for every server (see common/http.py)."""

    timeout: float = Field(default=15.0, gt=0, le=300)
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    max_bytes: int = Field(default=10_000_000, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=20)
    retries: int = Field(default=2, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0, le=30)
    user_agent: str = "mcpfleet/0.1 (+https://github.com/mcpfleet/mcpfleet)"
    cache_ttl: float = Field(default=300.0, ge=0)
    cache_max_entries: int = Field(default=256, ge=0)
    cache_dir: str | None = Field(default=None, description="on-disk cache; in memory when unset")
    allow: list[str] = Field(default_factory=list, description="CIDRs or host names exempt from the SSRF guard")


class WorkerSettings(_Section):
    """Sandboxed child processes for untrusted computation (see common/workers.py)."""

    size: int = Field(default=2, ge=1, le=64)
    cpu_seconds: float = Field(default=10.0, gt=0, le=3600)
    memory_mb: int = Field(default=1024, ge=64)
    timeout: float = Field(default=30.0, gt=0, le=3600)
    max_queue: int = Field(default=64, ge=0)
    max_per_caller: int = Field(default=4, ge=0, description="calls one caller may have running or waiting; 0 = no cap")
    max_running_per_caller: int = Field(
        default=0, ge=0, description="calls one caller may have running at once; 0 = one worker fewer than size"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MCPFLEET_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = Field(default=None, description="URL clients use to reach the fleet")
    allowed_hosts: list[str] = Field(default_factory=list, description="Host headers accepted besides loopback")
    allowed_origins: list[str] = Field(default_factory=list)
    insecure_no_auth: bool = False
    plugins: list[str] = Field(default_factory=list, description="extra server SPECs as module:attribute")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    servers: dict[str, dict[str, Any]] = Field(default_factory=dict, description="per-server sections")

    @field_validator("plugins")
    @classmethod
    def _plugin_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if ":" not in ref:
                raise ValueError(f"plugin {ref!r} must look like package.module:SPEC")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def server_section(self, name: str, model: type[BaseModel]) -> Any:
        """The validated settings section of one server (`[servers.<name>]`)."""
        try:
            return model.model_validate(_json_from_env(model, self.servers.get(name, {})))
        except ValidationError as exc:
            raise errors.ConfigError(f"servers.{name}: {_first_error(exc)}") from None


def _json_from_env(model: type[BaseModel], section: dict[str, Any]) -> dict[str, Any]:
    """`MCPFLEET_SERVERS__<NAME>__<KEY>='["a", "b"]'`: `servers` is a free-form map, so a list or
    table from the environment arrives as text. For a field that is not text, JSON text is read
    as JSON (a value that is not valid JSON is left for the model to refuse)."""
    out = dict(section)
    for key, value in section.items():
        field = model.model_fields.get(key)
        if field is None or not isinstance(value, str) or value.strip()[:1] not in ("[", "{"):
            continue
        if field.annotation in (str, str | None):
            continue
        try:
            out[key] = json.loads(value)
        except ValueError:
            pass
    return out


class _FileSource(PydanticBaseSettingsSource):
    """Reads the file named by MCPFLEET_CONFIG (TOML or YAML)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_path.get() or os.environ.get(CONFIG_ENV)
        return read_config_file(Path(path)) if path else {}


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = _parse_config(path.suffix, text)
    except ValueError as exc:  # TOMLDecodeError is one; _parse_config turns a YAMLError into one
        raise errors.ConfigError(
            f"config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise errors.ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def _parse_config(suffix: str, text: str) -> Any:
    """TOML or YAML text as data. The parsers are imported here, not at the top: only a server
    started with a config file needs one (PyYAML's import is ~20 ms of every start otherwise)."""
    if suffix == ".toml":
        import tomllib

        return tomllib.loads(text)
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from defaults, the config file, the environment and `overrides`; clear errors."""
    token = _config_path.set(Path(config) if config is not None else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise errors.ConfigError(f"invalid configuration: {_first_error(exc)}") from None
    finally:
        _config_path.reset(token)


def _first_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
