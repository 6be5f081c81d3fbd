"""What `ui_component` gives against what the real shadcn CLI writes (`shadcn add NAME --dry-run --view`).

Both read the official registry (../shared/peer-data/shadcn-registry, new-york-v4) served on
127.0.0.1. For each item: do the item's own files match the CLI's byte for byte (after our import
rewrite and paging to the end of each file), the npm dependencies of the tree, and the number of
CSS variables installed. `--before` runs the same comparison with the ui code of an older commit.

Needs the shadcn CLI installed somewhere (offline use is fine once installed):

    npm install --prefix /tmp/shadcn-cli shadcn@4.23.1
    python benchmarks/compare_ui_shadcn.py --cli /tmp/shadcn-cli/node_modules/.bin/shadcn [--before REV]

Printed, not asserted (tests/ui/test_ui_shadcn_registry.py holds the assertions).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from mcpfleet.common.http import OutboundClient
from mcpfleet.common.settings import load_settings
from mcpfleet.servers.ui.settings import UiSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from local_http import serving  # noqa: E402 - the tests' fake remote, serving a folder read-only
from shadcn_sample import COMPARED as ITEMS  # noqa: E402 - the 17 items the ui tests compare

SHARED = Path(os.environ.get("MCPFLEET_SHARED_DIR") or ROOT.parent / "shared") / "peer-data" / "shadcn-registry"
# The CLI needs a base colour for any `add`; the subset in ../shared has none (README there), so a
# neutral one with no variables is served beside it (it adds nothing to what is compared).
NEUTRAL = {
    "inlineColors": {"light": {}, "dark": {}},
    "cssVars": {"light": {}, "dark": {}},
    "cssVarsV4": {"light": {}, "dark": {}},
    "inlineColorsTemplate": "",
    "cssVarsTemplate": "",
}
COMPONENTS_JSON = {
    "$schema": "https://ui.shadcn.com/schema.json",
    "style": "new-york",
    "rsc": True,
    "tsx": True,
    "tailwind": {"config": "", "css": "app/globals.css", "baseColor": "neutral", "cssVariables": True, "prefix": ""},
    "iconLibrary": "lucide",
    "aliases": {
        "components": "@/components",
        "utils": "@/lib/utils",
        "ui": "@/components/ui",
        "lib": "@/lib",
        "hooks": "@/hooks",
    },
}


def scratch_project(where: Path) -> Path:
    """A Next.js app as `shadcn init` leaves it (nothing installed: the dry run reads files only)."""
    (where / "app").mkdir(parents=True)
    (where / "package.json").write_text(
        json.dumps(
            {
                "name": "scratch",
                "private": True,
                "dependencies": {"next": "15.3.0", "react": "19.0.0", "react-dom": "19.0.0", "tailwindcss": "^4.1.0"},
            }
        )
    )
    (where / "tsconfig.json").write_text(json.dumps({"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}))
    (where / "components.json").write_text(json.dumps(COMPONENTS_JSON))
    (where / "app" / "globals.css").write_text('@import "tailwindcss";\n')
    (where / "next.config.mjs").write_text("export default {}\n")
    return where


def cli_add(cli: str, project: Path, registry: str, name: str) -> dict:
    """The CLI's dry run: files it would write (path → content), npm deps, CSS variables added."""
    env = {**os.environ, "REGISTRY_URL": f"{registry}/r", "CI": "1", "NO_COLOR": "1"}
    run = functools.partial(subprocess.run, cwd=project, env=env, capture_output=True, text=True, timeout=180)
    summary = run([cli, "add", name, "--dry-run"]).stdout
    files: dict[str, str] = {}
    # `--view` alone shows 5 files; each file is asked for by its path
    for path in re.findall(r"^│ \+ (\S+)\s+(?:create|overwrite)", summary, re.MULTILINE):
        lines = []
        for line in run([cli, "add", name, "--dry-run", "--view", path]).stdout.splitlines():
            if line.startswith("│ │ ") or line == "│ │":
                lines.append(line[4:])
        files[path] = "\n".join(lines)
    deps = re.search(r"├ Dependencies \(\d+\)\n((?:│ \+ .*\n)+)", summary)
    css = re.search(r"(\d+) CSS variables? added", summary)
    return {
        "files": files,
        "npm": sorted(re.findall(r"│ \+ (\S+)", deps.group(1))) if deps else [],
        "css_vars": int(css.group(1)) if css else 0,
    }


def load_registry_module(rev: str | None):
    """The ui server's registry.py as of `rev` (the working tree when None)."""
    if rev is None:
        from mcpfleet.servers.ui import registry

        return registry
    for where in ("mcpfleet/servers/ui/registry.py", "servers/ui/registry.py"):  # the folder before 2026-12-02
        shown = subprocess.run(["git", "show", f"{rev}:{where}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise SystemExit(f"no registry.py at {rev}: {shown.stderr.strip()}")
    source = shown.stdout
    path = Path(tempfile.mkdtemp()) / "registry_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("registry_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


async def component(module, client, name: str, **paging) -> dict:
    """The item's structured content: a typed result's `as_dict()`, or the dict older revisions returned."""
    answer = await module.get_component(client, name, None, None, **paging)
    return answer.as_dict() if hasattr(answer, "as_dict") else answer


async def ours(module, client, name: str) -> dict:
    answer = await component(module, client, name)
    contents = {}
    for f in answer["files"]:
        text = f["content"] or ""
        if "total_length" not in f:  # code without paging: what the answer holds is all there is
            contents[f["path"]] = text
            continue
        start = 0 if f["content"] is None else f["next_start_index"]
        for _ in range(20):  # page the file to its end
            if start is None:
                break
            more = (await component(module, client, name, file=f["path"], start_index=start))["files"][0]
            text, start = text + more["content"], more["next_start_index"]
        contents[f["path"]] = text
    css_vars = sum(len(v) for v in (answer["cssVars"] or {}).values())
    return {"files": contents, "npm": answer["npm_all"], "css_vars": css_vars}


async def compare(cli: str, rev: str | None, items: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        www = Path(tmp) / "www"
        (www / "r" / "colors").mkdir(parents=True)
        (www / "r" / "styles").symlink_to(SHARED / "r" / "styles")
        (www / "r" / "index.json").symlink_to(SHARED / "r" / "index.json")
        (www / "r" / "colors" / "neutral.json").write_text(json.dumps(NEUTRAL))
        with serving(static=www) as base:
            project = scratch_project(Path(tmp) / "app")
            settings = load_settings(
                http={"allow": ["127.0.0.1"]},
                servers={
                    "ui": {
                        "official_index": f"{base}/r/index.json",
                        "official_item": f"{base}/r/styles/{{style}}/{{name}}.json",
                    }
                },
            )
            section = settings.server_section("ui", UiSettings)
            module = load_registry_module(rev)
            agree = 0
            print(f"{'item':18} {'files same':>10} {'npm':>5} {'css vars (ours/cli)':>20}")
            async with OutboundClient(settings.http, allow=section.allow) as http:
                client = module.RegistryClient(http, section)
                for name in items:
                    theirs = cli_add(cli, project, base, name)
                    mine = await ours(module, client, name)
                    written = {c.rstrip("\n") for c in theirs["files"].values()}
                    same = sum(1 for c in mine["files"].values() if c.rstrip("\n") in written)
                    npm_ok = set(mine["npm"]) == set(theirs["npm"])
                    full = same == len(mine["files"]) and npm_ok and mine["css_vars"] == theirs["css_vars"]
                    agree += full
                    print(
                        f"{name:18} {same:>4}/{len(mine['files']):<5} {'ok' if npm_ok else 'DIFF':>5} "
                        f"{mine['css_vars']:>9}/{theirs['css_vars']:<10} {'' if full else '<- differs'}"
                    )
        print(
            f"\n{agree} of {len(items)} items agree fully with `shadcn add` ({'rev ' + rev if rev else 'working tree'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", default="shadcn", help="the shadcn CLI binary")
    parser.add_argument("--before", default=None, help="a git revision whose ui registry.py to compare instead")
    parser.add_argument("--items", nargs="*", default=list(ITEMS), help="item names (default: the 17 compared)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent")
    asyncio.run(compare(args.cli, args.before, args.items))


if __name__ == "__main__":
    main()
