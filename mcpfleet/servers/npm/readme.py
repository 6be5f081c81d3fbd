"""A package's README: from the packument when it has one, else from the tarball, read in memory.

Tarballs come from the outside world, so reading one is bounded everywhere: the download (the
registry client's cap), the decompressed stream (a gzip bomb stops at `max_unpacked` bytes), the
number of tar members looked at, and the README itself. Nothing touches the disk, and only regular
files are read (links and devices are skipped).
"""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from typing import Any

_README = re.compile(r"^readme(\.(md|markdown|txt|rst|mdown|mkdn))?$", re.IGNORECASE)
MAX_MEMBERS = 5000


class _TooLarge(Exception):
    pass


class _BoundedGunzip(io.RawIOBase):
    """A read-only stream of the gunzipped bytes, failing past `limit` decompressed bytes."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._src = io.BytesIO(data)
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._buf = b""
        self._out = 0
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            if self._z.eof:
                return 0
            chunk = self._z.unconsumed_tail or self._src.read(65536)
            if not chunk:
                return 0
            self._buf = self._z.decompress(chunk, 1 << 20)
            self._out += len(self._buf)
            if self._out > self._limit:
                raise _TooLarge
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def readme_from_tarball(data: bytes, *, max_unpacked: int = 50_000_000, max_readme: int = 1_000_000) -> str | None:
    """The README at the top of the package folder in a .tgz, or None (no README, or unreadable)."""
    try:
        with tarfile.open(fileobj=io.BufferedReader(_BoundedGunzip(data, max_unpacked)), mode="r|") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    return None
                parts = member.name.lstrip("./").split("/")
                if len(parts) == 2 and member.isreg() and _README.match(parts[1]):
                    handle = tar.extractfile(member)
                    if handle is None:
                        return None
                    text = handle.read(max_readme).decode("utf-8", errors="replace")
                    return text
    except (_TooLarge, tarfile.TarError, zlib.error, OSError, EOFError):
        return None
    return None


def readme_from_packument(packument: dict[str, Any], version: str) -> str | None:
    """The README a packument carries for `version` (per version, or the top-level one for latest)."""
    manifest = packument.get("versions", {}).get(version) or {}
    text = manifest.get("readme")
    if not text and _newest_publish(packument) == version:
        # The top-level README is latest's on registry.npmjs.org but the last published one's on
        # Verdaccio; where latest is also the last published version the two agree.
        if version == (packument.get("dist-tags") or {}).get("latest"):
            text = packument.get("readme")
    if isinstance(text, str) and text.strip() and not text.startswith("ERROR: No README data found"):
        return text
    return None


def _newest_publish(packument: dict[str, Any]) -> str | None:
    times = {
        v: t
        for v, t in (packument.get("time") or {}).items()
        if v in packument.get("versions", {}) and isinstance(t, str)
    }
    return max(times, key=times.__getitem__) if times else None
