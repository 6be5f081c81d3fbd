"""`mcpfleet docs index|search|list` as a user runs them: real subprocesses, progress bar on stderr."""

from __future__ import annotations

import subprocess

from docs_forge import WIDGETS_MAIN, build_tarball, write_tree
from fleet_testing import mcpfleet_cmd, subprocess_env


def run(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = subprocess_env(MCPFLEET_SERVERS__DOCS__INDEX_PATH=str(tmp_path / "cli.sqlite"), **env)
    return subprocess.run(mcpfleet_cmd("docs", *args), capture_output=True, text=True, timeout=120, env=env)


def test_index_a_folder_then_search_and_list(tmp_path):
    root = write_tree(tmp_path / "handbook", WIDGETS_MAIN)
    indexed = run(tmp_path, "index", str(root))
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed local/handbook@local: 6 files" in indexed.stdout
    bar_lines = [line for line in indexed.stderr.splitlines() if line.startswith("[")]
    assert bar_lines[0].startswith("[" + "." * 30 + "]   0%") and bar_lines[-1].startswith("[" + "#" * 30 + "] 100%")

    found = run(tmp_path, "search", "local/handbook", "redis backend replicas", "--tokens", "300")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("## Caching > Redis backend\nsource: docs/guides/caching.mdx")
    assert "local/handbook@local: " in found.stderr

    none = run(tmp_path, "search", "local/handbook", "zeppelin")
    assert none.returncode == 1 and "no section of local/handbook@local matches" in none.stdout

    listed = run(tmp_path, "list")
    assert "local/handbook@local (default)  6 files" in listed.stdout


def test_index_a_local_tarball_with_a_name(tmp_path):
    archive = tmp_path / "export.tar.gz"
    archive.write_bytes(
        build_tarball({"docs/ops.md": "# Ops\n\n## Paging\n\nThe on-call rota is in the wiki.\n"}, top="x-1")
    )
    done = run(tmp_path, "index", str(archive), "--name", "ops", "--quiet")
    assert done.returncode == 0 and done.stderr == ""
    assert "indexed local/ops@local: 1 files" in done.stdout


def test_errors_are_one_clean_line(tmp_path):
    missing = run(tmp_path, "index", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "mcpfleet: error:" in missing.stderr and "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    unknown = run(tmp_path, "search", "nobody/none", "x", MCPFLEET_SERVERS__DOCS__INDEX_ON_DEMAND="false")
    assert unknown.returncode == 2 and "not indexed" in unknown.stderr
    local_ref = run(tmp_path, "index", str(tmp_path), "--ref", "main")
    assert local_ref.returncode == 2 and "no refs" in local_ref.stderr


def test_readme_example_on_real_docs(tmp_path):
    # the README's "on a docs tree" example, on the real ollama docs in ../shared (read in place)
    from shared_data import shared_path

    root = shared_path("peer-data", "docs", "ollama")
    indexed = run(tmp_path, "index", str(root), "--name", "ollama", "--quiet")
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed local/ollama@local: 62 files" in indexed.stdout
    found = run(tmp_path, "search", "ollama", "keep a model loaded in memory", "--tokens", "1000")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith(
        "## FAQ > How do I keep a model loaded in memory or make it unload immediately?\nsource: docs/faq.mdx"
    )
    assert "keep_alive" in found.stdout
