"""Reading documentation files out of a repository tarball or a local folder, safely and bounded.

Nothing is written to disk. Tar members with absolute paths, `..` parts, links, devices or
other non-regular types are skipped; the decompressed stream is counted as it is read, so a
gzip bomb stops at `max_unpacked_bytes`; member count, file count and per-file size are capped.
"""

from __future__ import annotations

import io
import math
import os
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mcpfleet.common.errors import UserError
from mcpfleet.servers.docs.selection import CONFIG_FILES, RepoConfig, is_text_doc, skipped_tree


@dataclass(frozen=True)
class Bounds:
    max_unpacked_bytes: int = 512 * 1024 * 1024
    max_members: int = 200_000
    max_files: int = 5_000
    max_file_bytes: int = 2 * 1024 * 1024
    deadline: float | None = None  # time.monotonic() value

    def seconds_left(self) -> float:
        """Until the deadline (unbounded without one)."""
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise UserError("indexing took longer than its time limit; index a smaller repository or folder")


@dataclass
class Tree:
    """The candidate documentation files of a source: relative path -> bytes."""

    files: dict[str, bytes] = field(default_factory=dict)
    configs: dict[str, bytes] = field(default_factory=dict)  # context7.json at the root or one below
    top: str = ""  # the archive's top folder (GitHub: owner-repo-sha)
    skipped_large: int = 0
    skipped_unsafe: int = 0
    truncated: bool = False  # stopped at max_files

    @property
    def config(self) -> bytes | None:
        """The repository's context7.json (at its root), when present."""
        return next((self.configs[name] for name in CONFIG_FILES if name in self.configs), None)


class _CountingReader(io.RawIOBase):
    """Decompressed bytes pass through here; past the limit reading fails."""

    def __init__(self, inner, limit: int) -> None:
        self._inner, self._limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._inner.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise UserError(f"the archive unpacks to more than {self._limit} bytes; refusing it")
        buffer[: len(data)] = data
        return len(data)


def safe_member_path(name: str) -> str | None:
    """The member's path below the top folder, or None if it is unsafe or the top folder itself."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return None
    parts = PurePosixPath(name).parts
    if any(p in ("..", "") for p in parts) or (parts and ":" in parts[0]):
        return None
    return name


def read_tarball(data: bytes | Path, bounds: Bounds, strip_top: bool = True) -> Tree:
    """Candidate doc files from a .tar.gz / .tar (bytes or a local file)."""
    import gzip

    raw = io.BytesIO(data) if isinstance(data, bytes) else open(data, "rb")  # noqa: SIM115
    try:
        head = raw.read(2)
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if head == b"\x1f\x8b" else raw
        counted = io.BufferedReader(_CountingReader(stream, bounds.max_unpacked_bytes), 1 << 16)
        tree = Tree()
        try:
            with tarfile.open(fileobj=counted, mode="r|") as tar:
                for n, member in enumerate(tar):
                    if n >= bounds.max_members:
                        raise UserError(f"the archive has more than {bounds.max_members} entries; refusing it")
                    if n % 256 == 0:
                        bounds.check_time()
                    name = safe_member_path(member.name.removeprefix("./"))
                    if name is None:
                        tree.skipped_unsafe += 1
                        continue
                    parts = PurePosixPath(name).parts
                    if strip_top:
                        if not tree.top:
                            tree.top = parts[0]
                        if parts[0] != tree.top:
                            tree.skipped_unsafe += 1
                            continue
                        parts = parts[1:]
                    if not parts:
                        continue
                    if not member.isreg():
                        if not member.isdir():
                            tree.skipped_unsafe += 1  # links, devices, fifos
                        continue
                    rel = "/".join(parts)
                    read = tar.extractfile(member).read  # type: ignore[union-attr]
                    _take(tree, rel, member.size, read, bounds)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise UserError(f"not a readable tar archive ({type(exc).__name__})") from None
        return tree
    finally:
        raw.close()


def read_directory(root: Path, bounds: Bounds) -> Tree:
    """Candidate doc files below `root`; symbolic links are not followed."""
    tree = Tree(top=root.name)
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        bounds.check_time()
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not os.path.islink(os.path.join(dirpath, d))
            and not skipped_tree(f"{rel_dir}/{d}/x".lstrip("/"), RepoConfig())
        )
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            rel = f"{rel_dir}/{name}".lstrip("/")

            def read(full: str = full) -> bytes:
                with open(full, "rb") as f:
                    return f.read(bounds.max_file_bytes + 1)

            _take(tree, rel, os.path.getsize(full), read, bounds)
    return tree


def _take(tree: Tree, rel: str, size: int, read: Callable[[], bytes], bounds: Bounds) -> None:
    if rel.rsplit("/", 1)[-1] in CONFIG_FILES and rel.count("/") <= 1:
        if size <= 64_000:
            tree.configs[rel] = read()
        return
    if not is_text_doc(rel) or skipped_tree(rel, RepoConfig()):
        return
    if size > bounds.max_file_bytes:
        tree.skipped_large += 1
        return
    if len(tree.files) >= bounds.max_files * 4:  # candidates; the selection keeps fewer
        tree.truncated = True
        return
    tree.files[rel] = read()
