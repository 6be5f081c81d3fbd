"""Package tarballs built in memory, as `npm pack` lays them out (`package/...`, gzipped tar)."""

from __future__ import annotations

import io
import tarfile


def make_tarball(files: dict[str, str | bytes], root: str = "package") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size, info.mtime = len(data), 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
