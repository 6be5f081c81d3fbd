"""Reading archives and folders safely, and choosing which files are documentation."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time

import pytest

from docs_forge import WIDGETS_MAIN, build_tarball, write_tree
from mcpfleet.common.errors import UserError
from mcpfleet.servers.docs.archive import Bounds, read_directory, read_tarball, safe_member_path
from mcpfleet.servers.docs.indexer import select_paths
from mcpfleet.servers.docs.selection import RepoConfig, wanted


def test_github_tarball_top_folder_is_stripped_and_only_text_docs_kept():
    tree = read_tarball(build_tarball(WIDGETS_MAIN), Bounds())
    assert tree.top == "acme-widgets-abc1234"
    assert "docs/getting-started.md" in tree.files and "README.md" in tree.files
    assert "src/widgets.py" not in tree.files  # not a doc type
    assert not any(p.startswith("node_modules/") for p in tree.files)  # vendored
    assert not any(p.startswith("docs/build/") for p in tree.files)  # generated


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"# x\n", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def test_unsafe_members_are_skipped():
    extra = [
        _member("/etc/passwd.md"),
        _member("top/../../escape.md"),
        _member("top/docs/link.md", tarfile.SYMTYPE, link="/etc/shadow"),
        _member("top/docs/hard.md", tarfile.LNKTYPE, link="top/README.md"),
        _member("top/docs/dev.md", tarfile.CHRTYPE),
        _member("other-top/docs/x.md"),
    ]
    tree = read_tarball(build_tarball({"README.md": "# ok\n"}, top="top", extra=extra), Bounds())
    assert set(tree.files) == {"README.md"}
    assert tree.skipped_unsafe == 6
    assert safe_member_path("a/../b") is None and safe_member_path("C:/x") is None
    assert safe_member_path("top/docs/a.md") == "top/docs/a.md"


def test_gzip_bomb_stops_at_the_unpacked_limit():
    # 200 MB of zeros compresses to ~200 KB; the reader must stop long before unpacking it all
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("top/docs/zeros.md")
        info.size = 200 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(raw.getvalue(), compresslevel=9)
    assert len(bomb) < 1_000_000
    with pytest.raises(UserError, match="unpacks to more than"):
        read_tarball(bomb, Bounds(max_unpacked_bytes=10 * 1024 * 1024))


def test_member_file_and_size_bounds():
    files = {f"docs/p{i}.md": f"# Page {i}\n" for i in range(30)} | {"docs/huge.md": "# H\n" + "x" * 5000}
    tree = read_tarball(build_tarball(files), Bounds(max_files=2, max_file_bytes=1000))
    assert tree.skipped_large == 1 and "docs/huge.md" not in tree.files
    assert tree.truncated and len(tree.files) == 8  # candidates are capped at 4 x max_files
    with pytest.raises(UserError, match="more than 5 entries"):
        read_tarball(build_tarball(files), Bounds(max_members=5))


def test_time_limit_applies():
    with pytest.raises(UserError, match="time limit"):
        read_tarball(build_tarball(WIDGETS_MAIN), Bounds(deadline=time.monotonic() - 1))


def test_not_a_tarball_is_a_clear_error():
    with pytest.raises(UserError, match="not a readable tar archive"):
        read_tarball(b"\x1f\x8b" + b"garbage" * 10, Bounds())


def test_directory_reading_skips_symlinks_and_vendored(tmp_path):
    root = write_tree(tmp_path / "proj", WIDGETS_MAIN)
    secret = tmp_path / "secret.md"
    secret.write_text("# secret\n")
    os.symlink(secret, root / "docs" / "linked.md")
    os.symlink(tmp_path, root / "docs" / "loop")
    tree = read_directory(root, Bounds())
    assert "docs/getting-started.md" in tree.files
    assert not any("linked" in p or "loop" in p for p in tree.files)
    assert not any(p.startswith("node_modules") for p in tree.files)


def test_default_selection_is_docs_folders_and_readme():
    config = RepoConfig()
    assert wanted("README.md", config) and wanted("docs/a/b.rst", config) and wanted("website/docs/x.mdx", config)
    assert not wanted("src/notes.md", config)
    assert not wanted("docs/CHANGELOG.md", config)
    assert not wanted("docs/.hidden/x.md", config)
    assert not wanted("docs/image.png", config)


def test_context7_config_decides_folders_and_exclusions():
    raw = b'{"folders": ["handbook"], "excludeFolders": ["handbook/old", "drafts"], "excludeFiles": ["skip.md"]}'
    config = RepoConfig.parse(raw)
    assert wanted("handbook/a.md", config)
    assert not wanted("docs/a.md", config)  # not in folders
    assert not wanted("handbook/old/a.md", config)
    assert not wanted("handbook/x/drafts/a.md", config)
    assert not wanted("handbook/skip.md", config)
    assert RepoConfig.parse(b"[1, 2]") == RepoConfig()  # odd files are ignored
    assert RepoConfig.parse(b"{bad").folders == ()


def test_context7_json_inside_a_tarball_is_honoured():
    files = dict(WIDGETS_MAIN) | {"context7.json": '{"folders": ["docs/guides"]}'}
    tree = read_tarball(build_tarball(files), Bounds())
    assert select_paths(tree, (), 100) == ["docs/guides/caching.mdx"]


def test_repos_without_docs_folders_fall_back_to_all_markdown():
    files = {"README.md": "# R\n", "notes/x.md": "# X\n", "pkg/usage.md": "# U\n", "notes.txt": "n"}
    tree = read_tarball(build_tarball(files), Bounds())
    assert select_paths(tree, (), 100) == ["README.md", "notes/x.md", "pkg/usage.md"]
