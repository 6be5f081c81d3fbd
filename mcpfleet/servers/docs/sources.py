"""Where documentation comes from: GitHub and GitLab (REST API + tarball, no git clone), local
folders and local tarballs. Every request goes through the fleet's OutboundClient (SSRF guard).

A source is written `owner/repo`, `owner/repo@ref`, `github:owner/repo`, `gitlab:group/sub/repo@ref`,
a GitHub/GitLab URL, or a local path (`/srv/docs/handbook`, `./docs.tar.gz`); a trailing
`:folder,folder` limits indexing to those folders (the catalog uses it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from mcpfleet.common.errors import OutboundError, UserError
from mcpfleet.common.http import OutboundClient

_SLUG = r"[A-Za-z0-9_.-]+"
_GITHUB = re.compile(rf"^(?:github:)?(?P<path>{_SLUG}/{_SLUG})(?:@(?P<ref>[^\s:]+))?(?::(?P<folders>[^\s]*))?$")
_GITLAB = re.compile(rf"^gitlab:(?P<path>{_SLUG}(?:/{_SLUG})+)(?:@(?P<ref>[^\s:]+))?(?::(?P<folders>[^\s]*))?$")
_REF = re.compile(r"^[A-Za-z0-9_.\-/+]{1,200}\Z")  # \Z: `$` would let "main\n" through
LOCAL_REF = "local"


@dataclass(frozen=True)
class Source:
    kind: str  # github | gitlab | local
    path: str  # owner/repo, group/sub/repo, or a filesystem path
    ref: str | None = None
    folders: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "local":
            return
        # The path and ref go into forge API URLs sent with the server's token: `..` (or `%2e%2e`,
        # which the forge decodes) would walk out of /repos/ to any endpoint of the API host.
        if any(not re.fullmatch(_SLUG, p) or set(p) == {"."} for p in self.path.split("/")):
            raise UserError(f"{self.path[:100]!r} is not a repository path (owner/repo)")
        if self.ref is not None and (
            not _REF.match(self.ref) or ".." in self.ref or any(set(p) <= {"."} for p in self.ref.split("/"))
        ):
            raise UserError(f"{self.ref[:100]!r} is not a git ref")

    @property
    def library(self) -> str:
        if self.kind == "local":
            name = Path(self.path).name
            for suffix in (".tar.gz", ".tgz", ".tar"):
                name = name.removesuffix(suffix)
            return f"local/{name}"
        if self.kind == "gitlab":
            return f"gitlab:{self.path}"
        return self.path


@dataclass
class RepoInfo:
    library: str
    description: str | None = None
    stars: int | None = None
    default_branch: str | None = None
    html_url: str | None = None
    topics: list[str] = field(default_factory=list)


def parse_source(spec: str) -> Source:
    """The source a user or model wrote; UserError says what forms are understood."""
    spec = spec.strip()
    bare = re.match(r"(?i)(?:www\.)?(github|gitlab)\.com/(.*)", spec)  # a URL pasted without its scheme
    if bare:
        spec = f"https://{bare.group(1).lower()}.com/{bare.group(2)}"
    if spec.startswith(("https://github.com/", "http://github.com/")):
        parts = urlsplit(spec).path.strip("/").removesuffix(".git").split("/")
        if len(parts) >= 2:
            ref = parts[3] if len(parts) >= 4 and parts[2] == "tree" else None
            return Source("github", f"{parts[0]}/{parts[1]}", ref)
    if spec.startswith(("https://gitlab.com/", "http://gitlab.com/")):
        path = urlsplit(spec).path.strip("/").removesuffix(".git").split("/-/")[0]
        return Source("gitlab", path)
    if spec.startswith(("/", "./", "../", "~", "file:")):
        return Source("local", spec.removeprefix("file://").removeprefix("file:"), LOCAL_REF)
    for kind, pattern in (("gitlab", _GITLAB), ("github", _GITHUB)):
        m = pattern.match(spec)
        if m:
            ref = m.group("ref")
            if ref is not None and (not _REF.match(ref) or ".." in ref):
                raise UserError(f"{ref!r} is not a git ref")
            folders = tuple(f for f in (m.group("folders") or "").split(",") if f.strip())
            return Source(kind, m.group("path"), ref, folders)
    raise UserError(
        f"cannot read {spec[:100]!r} as a repository: use owner/repo, owner/repo@ref, gitlab:group/repo or a GitHub URL"
    )


class Forges:
    """GitHub and GitLab over their REST APIs, through one OutboundClient."""

    def __init__(
        self,
        client: OutboundClient,
        github_api: str,
        gitlab_url: str,
        github_token_env: str,
        gitlab_token_env: str,
        max_archive_bytes: int,
    ) -> None:
        self.client = client
        self.github_api = github_api.rstrip("/")
        self.gitlab_api = gitlab_url.rstrip("/") + "/api/v4"
        self._github_token_env = github_token_env
        self._gitlab_token_env = gitlab_token_env
        self.max_archive_bytes = max_archive_bytes

    def _github_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        token = os.environ.get(self._github_token_env, "").strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _gitlab_headers(self) -> dict[str, str]:
        token = os.environ.get(self._gitlab_token_env, "").strip()
        return {"PRIVATE-TOKEN": token} if token else {}

    async def _json(self, url: str, headers: dict[str, str], what: str, expect: type[dict] | None = None) -> Any:
        result = await self.client.fetch(url, headers=headers, max_bytes=5_000_000)
        if result.status == 404:
            raise UserError(f"{what} not found (or private without a token)")
        if result.status in (401, 403, 429):
            hint = "rate limited or not allowed; set a token" if result.status != 401 else "the token was refused"
            raise OutboundError(f"{what}: HTTP {result.status} ({hint})")
        return result.json(expect, what=what)

    async def info(self, source: Source) -> RepoInfo:
        if source.kind == "github":
            data = await self._json(
                f"{self.github_api}/repos/{source.path}",
                self._github_headers(),
                f"GitHub repository {source.path}",
                dict,
            )
            return RepoInfo(
                library=str(data.get("full_name") or source.path),
                description=_str(data.get("description")),
                stars=_int(data.get("stargazers_count")),
                default_branch=_str(data.get("default_branch")),
                html_url=_str(data.get("html_url")) or f"https://github.com/{source.path}",
                topics=[str(t) for t in data.get("topics") or [] if isinstance(t, str)][:20],
            )
        if source.kind == "gitlab":
            data = await self._json(
                f"{self.gitlab_api}/projects/{quote(source.path, safe='')}",
                self._gitlab_headers(),
                f"GitLab project {source.path}",
                dict,
            )
            return RepoInfo(
                library=f"gitlab:{data.get('path_with_namespace') or source.path}",
                description=_str(data.get("description")),
                stars=_int(data.get("star_count")),
                default_branch=_str(data.get("default_branch")),
                html_url=_str(data.get("web_url")),
                topics=[str(t) for t in data.get("topics") or [] if isinstance(t, str)][:20],
            )
        raise UserError("local sources have no forge metadata")

    async def archive(self, source: Source, ref: str) -> bytes:
        """The .tar.gz of `ref` (GitHub answers with a redirect to codeload, which is followed)."""
        if source.kind == "github":
            url = f"{self.github_api}/repos/{source.path}/tarball/{quote(ref, safe='')}"
            headers = self._github_headers()
        else:
            project = quote(source.path, safe="")
            url = f"{self.gitlab_api}/projects/{project}/repository/archive.tar.gz?sha={quote(ref, safe='')}"
            headers = self._gitlab_headers()
        result = await self.client.fetch(url, headers=headers, max_bytes=self.max_archive_bytes, cache=False)
        if result.status == 404:
            raise UserError(f"{source.path}@{ref}: no such ref")
        if result.status != 200:
            raise OutboundError(f"downloading {source.path}@{ref}: HTTP {result.status}")
        return result.content

    async def search(self, name: str, limit: int = 5) -> list[RepoInfo]:
        """GitHub repositories matching `name`, best first (GitHub's ranking)."""
        q = quote(f"{name} in:name,description", safe="")
        data = await self._json(
            f"{self.github_api}/search/repositories?q={q}&per_page={limit}", self._github_headers(), "GitHub search"
        )
        items = data.get("items", []) if isinstance(data, dict) else []
        found = []
        for item in items[:limit]:
            if isinstance(item, dict) and isinstance(item.get("full_name"), str):
                found.append(
                    RepoInfo(
                        library=item["full_name"],
                        description=_str(item.get("description")),
                        stars=_int(item.get("stargazers_count")),
                        default_branch=_str(item.get("default_branch")),
                        html_url=_str(item.get("html_url")),
                    )
                )
        return found


def blob_url_base(source: Source, info: RepoInfo | None, ref: str) -> str | None:
    """The prefix that turns a file path into a link to it on the forge."""
    if info is None or not info.html_url:
        return None
    if source.kind == "github":
        return f"{info.html_url.rstrip('/')}/blob/{quote(ref, safe='/')}/"
    if source.kind == "gitlab":
        return f"{info.html_url.rstrip('/')}/-/blob/{quote(ref, safe='/')}/"
    return None


def check_local(path: str, roots: list[str] | None) -> Path:
    """The real path of a local source; with `roots` (tool callers) it must lie inside one of them."""
    real = Path(os.path.expanduser(path)).resolve()
    if roots is not None:
        allowed = [Path(os.path.expanduser(r)).resolve() for r in roots]
        if not any(real == r or real.is_relative_to(r) for r in allowed):
            raise UserError(
                "local folders can be indexed only from below servers.docs.local_roots"
                + ("" if allowed else ", and none are configured")
            )
    if not real.exists():
        raise UserError(f"{path} does not exist")
    return real


def _str(value: object) -> str | None:
    return value[:500] if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
