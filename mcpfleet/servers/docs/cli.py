"""`mcpfleet docs index|search|list`: the docs index without MCP, with a progress bar on stderr."""

from __future__ import annotations

import argparse
import sys

from mcpfleet.servers.docs import SPEC


def register(add) -> None:
    docs = add(SPEC.name, SPEC.cli_help)  # the line `mcpfleet --help` shows
    sub = docs.add_subparsers(dest="docs_command", metavar="ACTION", required=True)

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="TOML or YAML settings file (also: MCPFLEET_CONFIG)",
        )
        return p

    index = action("index", "index a repository (owner/repo, gitlab:group/repo) or a local folder or tarball")
    index.add_argument("source", metavar="REPO_OR_DIR")
    index.add_argument("--ref", help="branch or tag (default: the default branch)")
    index.add_argument("--name", help="library name for a local source (default: the folder's name)")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.set_defaults(handler=_index)

    search = action("search", "print the best-matching sections of an indexed library")
    search.add_argument("library", metavar="LIBRARY", help="id such as fastapi/fastapi[@ref], or a catalog name")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--tokens", type=int, default=4000, help="token budget (default 4000)")
    search.set_defaults(handler=_search)

    lst = action("list", "list indexed libraries and their versions")
    lst.set_defaults(handler=_list)


def _librarian(args):
    from mcpfleet.common.settings import load_settings
    from mcpfleet.servers.docs.library import open_librarian

    return open_librarian(load_settings(getattr(args, "config", None)))


class ProgressBar:
    """A one-line text bar on stderr, redrawn in place when stderr is a terminal."""

    def __init__(self, stream=sys.stderr, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.tty = stream.isatty()
        self.last = ""

    async def __call__(self, done: float, total: float, message: str) -> None:
        fraction = max(0.0, min(1.0, done / total if total else 0.0))
        filled = int(fraction * self.width)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction * 100:3.0f}% {message}"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            self.stream.write("\r\x1b[2K" + line[:200])
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _index(args) -> int:
    import asyncio

    librarian, client = _librarian(args)
    bar = ProgressBar()

    async def run():
        try:
            return await librarian.index_source(
                args.source, args.ref, local_roots=None, name=args.name, progress=bar if not args.quiet else _silent
            )
        finally:
            bar.finish()
            await client.aclose()

    result = asyncio.run(run()).as_dict()
    print(
        f"indexed {result['library']}@{result['ref']}: {result['files']} files, {result['chunks']} sections "
        f"in {result['seconds']} s" + (" (stopped at max_files)" if result["truncated"] else "")
    )
    return 0


async def _silent(done: float, total: float, message: str) -> None:
    return None


def _search(args) -> int:
    import asyncio

    librarian, client = _librarian(args)

    async def run():
        try:
            return await librarian.search(args.library, args.query, max(50, args.tokens), progress=ProgressBar())
        finally:
            await client.aclose()

    result = asyncio.run(run())
    print(result["header"], file=sys.stderr)
    print(result["text"])
    return 0 if result["sections"] else 1


def _list(args) -> int:
    librarian, _client = _librarian(args)
    versions = librarian.index.versions()
    if not versions:
        print("nothing indexed yet: mcpfleet docs index OWNER/REPO")
        return 0
    for v in versions:
        default = " (default)" if v.is_default else ""
        print(f"{v.library}@{v.ref}{default}  {v.files} files, {v.chunks} sections  {v.source}")
    return 0
