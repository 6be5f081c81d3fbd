"""Tailwind CSS v4 facts: the real compiler in one long-lived Node worker, v3→v4 renames, theme tokens.

The worker (node/worker.mjs) reads one JSON request per line and answers one JSON line. Requests
go one at a time (compiling is single-threaded work in Node anyway); a request that passes its
time limit, or a worker that dies, is answered with an error and the worker is started afresh on
the next call. The worker runs under Node's permission model: it may read only the tailwindcss
package and its own script, cannot spawn processes, and cannot turn strings into code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mcpfleet.common.errors import FleetError, LimitExceeded, UserError, WorkerCrashed
from mcpfleet.common.workers import confined_command
from mcpfleet.servers.ui.settings import INSTALL_HINT, NODE_DIR, UiSettings

log = logging.getLogger("mcpfleet.ui.tailwind")
WORKER_SCRIPT = NODE_DIR / "worker.mjs"
CHECKER_PACKAGES = ("css-tree", "mdn-data", "source-map-js")

# --- v3 names that v4 renamed ------------------------------------------------------------------

# v3 class → v4 class. Several v3 names still compile in v4 but mean the next size down
# (`shadow-sm` is v3's `shadow-xs`), so they are reported whether or not they compile.
_RENAMED: dict[str, str] = {
    "shadow-sm": "shadow-xs",
    "shadow": "shadow-sm",
    "drop-shadow-sm": "drop-shadow-xs",
    "drop-shadow": "drop-shadow-sm",
    "blur-sm": "blur-xs",
    "blur": "blur-sm",
    "backdrop-blur-sm": "backdrop-blur-xs",
    "backdrop-blur": "backdrop-blur-sm",
    "rounded-sm": "rounded-xs",
    "rounded": "rounded-sm",
    "outline-none": "outline-hidden",
    "ring": "ring-3",
    "flex-grow": "grow",
    "flex-grow-0": "grow-0",
    "flex-shrink": "shrink",
    "flex-shrink-0": "shrink-0",
    "overflow-ellipsis": "text-ellipsis",
    "decoration-slice": "box-decoration-slice",
    "decoration-clone": "box-decoration-clone",
}
for _side in ("t", "r", "b", "l", "s", "e", "tl", "tr", "br", "bl", "ss", "se", "es", "ee"):
    _RENAMED[f"rounded-{_side}-sm"] = f"rounded-{_side}-xs"
    _RENAMED[f"rounded-{_side}"] = f"rounded-{_side}-sm"
for _way in ("t", "tr", "r", "br", "b", "bl", "l", "tl"):  # still compiles in v4, as a deprecated alias
    _RENAMED[f"bg-gradient-to-{_way}"] = f"bg-linear-to-{_way}"
RENAMED: dict[str, str] = dict(_RENAMED)

# v3 opacity utilities, removed in v4: the colour takes an opacity modifier instead.
_OPACITY = re.compile(r"^(bg|text|border|divide|ring|placeholder)-opacity-(\d+|\[[^\]]+\])$")
_OPACITY_EXAMPLE = {
    "bg": "bg-black/{n}",
    "text": "text-black/{n}",
    "border": "border-black/{n}",
    "divide": "divide-black/{n}",
    "ring": "ring-black/{n}",
    "placeholder": "placeholder-black/{n}",
}


def _split_variants(candidate: str) -> tuple[str, str]:
    """`hover:md:shadow-sm` → (`hover:md:`, `shadow-sm`); colons inside [...] or (...) are not separators."""
    depth, cut = 0, -1
    for i, ch in enumerate(candidate):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth = max(depth - 1, 0)
        elif ch == ":" and depth == 0:
            cut = i
    return candidate[: cut + 1], candidate[cut + 1 :]


def v3_rename(candidate: str) -> dict[str, str] | None:
    """What a v3 class became in v4, or None when the name was not renamed."""
    variants, utility = _split_variants(candidate)
    important = ""
    if utility.startswith("!"):
        important, utility = "!", utility[1:]
    elif utility.endswith("!"):
        important, utility = "!", utility[:-1]
    if utility in RENAMED:
        return {
            "class": candidate,
            "v4": f"{variants}{important}{RENAMED[utility]}",
            "note": f"v3's {utility} is v4's {RENAMED[utility]}",
        }
    match = _OPACITY.match(utility)
    if match:
        kind, amount = match.groups()
        example = _OPACITY_EXAMPLE[kind].format(n=amount)
        return {
            "class": candidate,
            "v4": f"{variants}{important}{example}",
            "note": f"{kind}-opacity-* was removed in v4; put the opacity on the colour, e.g. {example}",
        }
    return None


# --- the v4 spelling of a class ------------------------------------------------------------------

# v3's `w-[--x]` meant `width: var(--x)`; v4 reads it literally (`width: --x`, invalid CSS) and
# writes the variable as `w-(--x)`. A type hint (`text-[length:--x]`) moves along.
_V3_VAR = re.compile(r"\[((?:[a-z][a-z-]{0,30}:)?--[A-Za-z0-9_-]{1,100})\]")
_NEGATIVE_ZERO = re.compile(r"^-([a-z][a-z-]*)-0$")
_LOGICAL_INSET = re.compile(r"^(-?)(start|end)-(auto|full|px)$")


def v4_spelling(candidate: str) -> dict[str, str] | None:
    """The spelling Tailwind 4.3's own canonicaliser gives a class, where it differs.

    The rules are the compiler's (`canonicalizeCandidates`), kept here because its first call
    costs seconds per design system; tests check them against it: the important mark goes last
    (`!p-2` → `p-2!`), a v3 variable reference takes parentheses (`w-[--x]` → `w-(--x)`), a
    negated zero drops its sign (`-mt-0` → `mt-0`), `start-auto|full|px` is `inset-s-...`."""
    variants, utility = _split_variants(candidate)
    notes, important = [], ""
    if utility.startswith("!") and len(utility) > 1:
        utility, important = utility[1:], "!"
        notes.append("the important mark goes at the end in v4")
    elif utility.endswith("!"):
        utility, important = utility[:-1], "!"
    if not utility.startswith("[") and _V3_VAR.search(utility):
        utility = _V3_VAR.sub(lambda m: f"({m.group(1)})", utility)
        notes.append("v3's [--var] is v4's (--var): in v4 [--var] is the literal text --var")
    elif (zero := _NEGATIVE_ZERO.match(utility)) and f"{zero.group(1)}-0" not in RENAMED:
        utility = f"{zero.group(1)}-0"
        notes.append("a negated zero is zero")
    elif inset := _LOGICAL_INSET.match(utility):
        sign, side, value = inset.groups()
        utility = f"{sign}inset-{side[0]}-{value}"
        notes.append(f"{side}-* is deprecated in Tailwind 4.3; inset-{side[0]}-* is its name")
    if not notes:
        return None
    return {"class": candidate, "v4": f"{variants}{utility}{important}", "note": "; ".join(notes)}


# --- checking what callers send ------------------------------------------------------------------

# A user theme may only define theme variables (with keyframes for --animate-*) and variants:
# `@custom-variant dark (&:is(.dark *));` as shadcn projects declare it, or the block form with
# `@variant`/`@slot` (and conditions: @media, @supports, @container) inside. Everything that can load files or code, or add utilities, is refused
# before the text reaches Node: @import, @plugin, @config, @source, @utility, @reference, @apply...
_AT_RULE = re.compile(r"@([^\s{;(\"']*)")
_ALLOWED_AT_RULES = {"theme", "keyframes", "custom-variant", "variant", "slot", "media", "supports", "container"}
_VARIANT_STATEMENT = re.compile(
    r"@custom-variant[ \t]+[A-Za-z0-9_-]{1,60}[ \t]*\([^;{}]{0,500}\)[ \t]*;", re.IGNORECASE
)
_TOP_LEVEL = re.compile(r"@(theme|custom-variant)\b[^{]*", re.IGNORECASE)

# What `shadcn init` writes into a project's globals.css for Tailwind v4 (apps/v4 and the CLI's
# template): `dark:` is the .dark class, and the semantic colours and radii map onto its variables.
SHADCN_DARK = "@custom-variant dark (&:is(.dark *));"
_SHADCN_COLORS = (
    "background",
    "foreground",
    "card",
    "card-foreground",
    "popover",
    "popover-foreground",
    "primary",
    "primary-foreground",
    "secondary",
    "secondary-foreground",
    "muted",
    "muted-foreground",
    "accent",
    "accent-foreground",
    "destructive",
    "border",
    "input",
    "ring",
    "chart-1",
    "chart-2",
    "chart-3",
    "chart-4",
    "chart-5",
    "sidebar",
    "sidebar-foreground",
    "sidebar-primary",
    "sidebar-primary-foreground",
    "sidebar-accent",
    "sidebar-accent-foreground",
    "sidebar-border",
    "sidebar-ring",
)
_SHADCN_RADII = {
    "sm": "calc(var(--radius) - 4px)",
    "md": "calc(var(--radius) - 2px)",
    "lg": "var(--radius)",
    "xl": "calc(var(--radius) + 4px)",
}
SHADCN_THEME = (
    "@theme inline {\n"
    + "".join(
        [f"  --color-{name}: var(--{name});\n" for name in _SHADCN_COLORS]
        + [f"  --radius-{size}: {value};\n" for size, value in _SHADCN_RADII.items()]
    )
    + "}"
)
PRESETS = ("tailwind", "shadcn")
_DECLARES_DARK = re.compile(r"@custom-variant\s+dark\b", re.IGNORECASE)


def with_preset(theme_css: str, preset: str) -> str:
    """The theme text for `preset`: plain Tailwind, or a shadcn/ui project's globals.css before the user's."""
    if preset == "tailwind":
        return theme_css
    if preset != "shadcn":
        raise UserError(f"preset must be one of {', '.join(PRESETS)}")
    dark = "" if _DECLARES_DARK.search(theme_css) else SHADCN_DARK + "\n"
    return f"{dark}{SHADCN_THEME}\n{theme_css}".strip()


def dark_variant(theme_css: str) -> str:
    """What `dark:` means under this theme, for the answer."""
    match = re.search(r"@custom-variant\s+dark\b([^;{]*)", theme_css, re.IGNORECASE)
    if match:
        return "@custom-variant dark" + match.group(1).rstrip()
    return "@media (prefers-color-scheme: dark) (Tailwind's default)"


def check_classes(classes: str, section: UiSettings) -> list[str]:
    """The whitespace-separated classes, deduplicated in order, within the configured bounds."""
    found = list(dict.fromkeys(classes.split()))
    if not found:
        raise UserError("give at least one class, e.g. 'p-4 hover:bg-sky-500 md:flex'")
    if len(found) > section.max_classes:
        raise UserError(f"{len(found)} classes given; at most {section.max_classes} per call")
    for candidate in found:
        if len(candidate) > section.max_class_chars:
            raise UserError(f"class {candidate[:40]!r}... is longer than {section.max_class_chars} characters")
    return found


def check_theme(theme: str, section: UiSettings) -> str:
    """The user's theme CSS: `@theme { ... }` blocks and `@custom-variant`s; bare declarations are wrapped."""
    theme = theme.strip()
    if not theme:
        return ""
    if len(theme) > section.max_theme_chars:
        raise UserError(f"the theme has {len(theme)} characters; at most {section.max_theme_chars}")
    for match in _AT_RULE.finditer(theme):
        name = match.group(1).lower()
        if name not in _ALLOWED_AT_RULES:
            shown = "@" + match.group(1)[:30]
            raise UserError(
                f"{shown!r} is not allowed in the theme: only @theme blocks (with @keyframes) "
                "and @custom-variant (with @variant, @slot)"
            )
    if not re.search(r"@(theme|custom-variant)\b", theme, re.IGNORECASE):
        theme = "@theme {\n" + theme + "\n}"
    for header in _top_level_blocks(_VARIANT_STATEMENT.sub("", theme)):
        if not _TOP_LEVEL.fullmatch(header):
            raise UserError(
                f"only @theme and @custom-variant blocks are allowed at the top of the theme, not {header[:40]!r}"
            )
    return theme


def _top_level_blocks(css: str) -> list[str]:
    """The headers of the top-level blocks; UserError if braces do not balance or text sits outside a block."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    headers, depth, start = [], 0, 0
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                headers.append(css[start:i].strip())
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise UserError("the theme's braces { } do not balance")
            if depth == 0:
                start = i + 1
    if depth != 0:
        raise UserError("the theme's braces { } do not balance")
    if css[start:].strip():
        raise UserError(
            f"only @theme and @custom-variant blocks are allowed at the top of the theme, not {css[start:].strip()[:40]!r}"
        )
    return headers


# --- the worker ----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _node_facts(node: str) -> tuple[int, str | None]:
    """Node's major version and its permission-model flag (`--permission` from 22.13/23.5 on,
    `--experimental-permission` before), read from `node --help` rather than guessed from the version."""
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
        helptext = subprocess.run([node, "--help"], capture_output=True, text=True, timeout=10, check=True).stdout
        major = int(version.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0, None
    for flag in ("--permission", "--experimental-permission"):
        if re.search(rf"^\s*{flag}\b", helptext, re.MULTILINE):
            return major, flag
    return major, None


def _permission_flags(node: str, readable: list[Path]) -> list[str]:
    major, flag = _node_facts(node)
    if major < 20:
        raise UserError(f"Node.js 20 or later is needed for Tailwind v4 ({node!r} is version {major or 'unknown'})")
    if flag is None:  # a Node without the permission model: the loaders' refusals still hold
        log.warning("node %s has no permission model; the Tailwind worker runs without file-read limits", node)
        return []
    return [flag, *(f"--allow-fs-read={p}" for p in readable)]


class TailwindWorker:
    """One Node process running the Tailwind compiler, restarted when it times out or dies."""

    def __init__(self, section: UiSettings) -> None:
        self.section = section
        self.tailwind_dir = section.tailwind_dir().resolve()
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._stderr_tail = b""
        self._stderr_task: asyncio.Task | None = None
        self.version: str | None = None
        self.restarts = 0

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None  # as `alive`

    def checker_dirs(self) -> list[Path]:
        """css-tree and what it reads (mdn-data's grammars), installed beside tailwindcss."""
        return [self.tailwind_dir.parent / name for name in CHECKER_PACKAGES]

    def command(self) -> list[str]:
        section = self.section
        script = WORKER_SCRIPT.resolve()
        return [
            section.node,
            f"--max-old-space-size={section.worker_memory_mb}",
            "--disallow-code-generation-from-strings",
            "--no-warnings",
            *_permission_flags(section.node, [self.tailwind_dir, *self.checker_dirs(), script]),
            str(script),
            str(self.tailwind_dir),
        ]

    async def start(self) -> None:
        async with self._lock:
            await self._ensure_started()

    async def warm(self) -> None:
        """Start Node and build the default design system once (the server's start-up does this).

        A failure is logged, not raised: calls start the worker again, and readiness says so meanwhile.
        """
        try:
            await self.build(["p-4"])
        except FleetError as exc:
            log.warning("tailwind worker did not start: %s", exc)

    async def ready(self) -> bool:
        """Whether the worker runs, starting a stopped one (after a timeout) first.

        Not only the next call revives it: a replica that reports itself unready would get no call.
        """
        if not self.alive:
            try:
                await self.start()
            except FleetError:
                return False
        return self.alive

    async def _ensure_started(self) -> None:
        if self.alive:
            return
        if self._proc is not None:
            self.restarts += 1
        # A JSON line can be several times the CSS it carries (escapes); leave room.
        limit = 8 * self.section.max_css_chars + 65_536
        try:
            readable = [self.tailwind_dir, *self.checker_dirs(), WORKER_SCRIPT.resolve()]
            self._proc = await asyncio.create_subprocess_exec(
                *confined_command(self.command(), readable_paths=[str(p) for p in readable]),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=str(self.tailwind_dir),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_ENV": "production"},
                limit=limit,
            )
        except OSError as exc:
            raise WorkerCrashed(
                f"cannot start the Tailwind worker with {self.section.node!r}: {exc.strerror}"
            ) from None
        self._stderr_task = asyncio.create_task(self._drain_stderr(self._proc))
        answer = await self._exchange({"op": "ping"}, timeout=max(self.section.compile_timeout, 20.0))
        self.version = answer.get("version")
        log.info("tailwind worker started", extra={"pid": self._proc.pid, "tailwind": self.version})

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while chunk := await proc.stderr.read(4096):
            self._stderr_tail = (self._stderr_tail + chunk)[-2000:]

    async def build(self, classes: list[str], theme: str = "") -> dict[str, Any]:
        """Compile `classes` (with `theme` after the default theme): css, unknown classes, truncated."""
        request = {"op": "build", "classes": classes, "theme": theme, "max_chars": self.section.max_css_chars}
        async with self._lock:
            await self._ensure_started()
            return await self._exchange(request, timeout=self.section.compile_timeout)

    async def canonicalize(self, classes: list[str], timeout: float = 120.0) -> dict[str, str]:
        """The compiler's own canonical spelling of each class that has another (slow on first use)."""
        async with self._lock:
            await self._ensure_started()
            answer = await self._exchange({"op": "canonicalize", "classes": classes}, timeout=timeout)
        return answer.get("canonical", {})

    async def _exchange(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        request = {"id": next(self._ids), **request}
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), timeout)
        except TimeoutError:
            await self._kill()
            raise LimitExceeded(
                f"the Tailwind compiler took longer than {timeout:g}s; it was stopped (send fewer classes)"
            ) from None
        except (ConnectionError, ValueError, asyncio.LimitOverrunError) as exc:
            await self._kill()
            raise WorkerCrashed(f"the Tailwind worker failed ({type(exc).__name__}); it will be restarted") from None
        if not line:
            await self._kill()
            detail = self._stderr_tail.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            log.warning("tailwind worker exited", extra={"stderr": self._stderr_tail.decode("utf-8", "replace")})
            raise WorkerCrashed(f"the Tailwind worker stopped; it will be restarted {detail[0][:200]}".rstrip())
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            await self._kill()
            raise WorkerCrashed("the Tailwind worker sent a broken answer; it will be restarted") from None
        if answer.get("id") != request["id"]:
            await self._kill()
            raise WorkerCrashed("the Tailwind worker answered out of turn; it will be restarted")
        if not answer.get("ok"):
            raise UserError(f"Tailwind could not compile this: {answer.get('error', 'unknown error')}")
        return answer

    async def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(proc.wait(), 5)

    async def aclose(self) -> None:
        async with self._lock:
            proc = self._proc
            if proc is not None and proc.returncode is None:
                assert proc.stdin is not None
                proc.stdin.close()  # the worker ends when its input does
                try:
                    await asyncio.wait_for(proc.wait(), 3)
                except TimeoutError:
                    await self._kill()
            if self._stderr_task is not None:
                self._stderr_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._stderr_task
            self._proc = None


async def compile_classes(
    worker: TailwindWorker, classes: str, theme: str, section: UiSettings, preset: str = "tailwind"
) -> dict[str, Any]:
    """The `ui_tailwind` answer: compiled CSS, unknown classes, classes whose CSS is invalid, v3
    names and the v4 spelling of each class, what `dark:` means, with a text rendering."""
    candidates = check_classes(classes, section)
    theme_css = with_preset(check_theme(theme, section), preset)
    built = await worker.build(candidates, theme_css)
    renamed = [r for r in (v3_rename(c) for c in candidates) if r is not None]
    done = {r["class"] for r in renamed}
    spelling = [r for r in (v4_spelling(c) for c in candidates if c not in done) if r is not None]
    fixes = {r["class"]: r["v4"] for r in renamed + spelling}
    invalid = [{**bad, "v4": fixes.get(bad["class"])} for bad in built.get("invalid", [])]
    unknown = list(built.get("unknown", []))
    css = built.get("css", "")
    # The findings come first: a client that cuts long output must not lose them under the CSS.
    lines = []
    if unknown:
        lines.append("unknown (no CSS in Tailwind v4): " + " ".join(unknown))
    for bad in invalid:
        fix = f"; write {bad['v4']}" if bad["v4"] else ""
        lines.append(
            f"invalid CSS from {bad['class']}: {bad['property']}: {bad['value']} "
            f"(not a valid {bad['property']} value{fix})"
        )
    for r in renamed:
        lines.append(f"v3 name {r['class']}: use {r['v4']} ({r['note']})")
    told = {bad["class"] for bad in invalid if bad["v4"]}
    for r in spelling:
        if r["class"] not in told:  # the invalid-CSS line already gave the v4 form
            lines.append(f"v4 spelling of {r['class']}: {r['v4']} ({r['note']})")
    if preset != "tailwind" or "dark:" in classes:
        lines.append(f"/* dark: is {dark_variant(theme_css)} */")
    lines.append(css.rstrip() or "/* no CSS */")
    if built.get("truncated"):
        lines.append(f"/* cut at {section.max_css_chars} characters; send fewer classes */")
    return {
        "text": "\n".join(lines),
        "css": css,
        "unknown": unknown,
        "invalid": invalid,
        "renamed": renamed,
        "spelling": spelling,
        "dark": dark_variant(theme_css),
        "checked": bool(built.get("checked")),
        "truncated": bool(built.get("truncated")),
        "tailwind": built.get("version"),
    }


# --- theme tokens --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeToken:
    name: str
    value: str
    deprecated: bool = False


_DECLARATION = re.compile(r"(--[A-Za-z0-9_.-]+)\s*:\s*([^;{}]*);")


def _blocks(css: str, header: re.Pattern[str]) -> list[tuple[str, str]]:
    """(header text, body) of each top-level block whose header matches, braces balanced."""
    found = []
    for match in header.finditer(css):
        start = css.find("{", match.end())
        if start < 0:
            break
        depth, i = 0, start
        while i < len(css):
            if css[i] == "{":
                depth += 1
            elif css[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        found.append((css[match.start() : start], css[start + 1 : i]))
    return found


def _strip_nested(body: str) -> str:
    """The block body without nested blocks (@keyframes), so only its own declarations remain."""
    out, depth = [], 0
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return re.sub(r"@keyframes[^;]*$", "", "".join(out), flags=re.MULTILINE)


def parse_theme_tokens(css: str) -> list[ThemeToken]:
    """`--name: value;` declarations of every `@theme` block; blocks marked `reference` are v3 leftovers."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    tokens: dict[str, ThemeToken] = {}
    for header, body in _blocks(css, re.compile(r"@theme\b[^{]*")):
        deprecated = "reference" in header.split()
        for name, value in _DECLARATION.findall(_strip_nested(body)):
            if name not in tokens:
                tokens[name] = ThemeToken(name, " ".join(value.split()), deprecated)
    return list(tokens.values())


@lru_cache(maxsize=4)
def _theme_tokens(path: str, mtime: float) -> tuple[ThemeToken, ...]:
    return tuple(parse_theme_tokens(Path(path).read_text(encoding="utf-8")))


def theme_tokens(section: UiSettings) -> tuple[ThemeToken, ...]:
    path = section.tailwind_dir() / "theme.css"
    try:
        return _theme_tokens(str(path), path.stat().st_mtime)
    except OSError:
        raise UserError(f"the Tailwind theme is not installed here ({INSTALL_HINT})") from None


def namespace(name: str) -> str:
    """`--color-red-500` → `color`, `--text-sm--line-height` → `text`, `--spacing` → `spacing`."""
    return name[2:].split("-", 1)[0]


def theme_answer(section: UiSettings, prefix: str | None, limit: int = 300) -> dict[str, Any]:
    """Default theme tokens whose name starts with `prefix` (`--color-red`, `color`, `text-sm`)."""
    tokens = theme_tokens(section)
    if prefix:
        wanted = "--" + prefix.strip().lstrip("-")
        chosen = [t for t in tokens if t.name.startswith(wanted)]
        if not chosen:
            known = ", ".join(sorted({namespace(t.name) for t in tokens}))
            raise UserError(f"no theme token starts with {wanted!r}; namespaces: {known}")
    else:
        chosen = list(tokens)
    if prefix is None or len(chosen) > limit:
        counts: dict[str, int] = {}
        for t in chosen:
            counts[namespace(t.name)] = counts.get(namespace(t.name), 0) + 1
        if prefix is None or len(counts) > 1:
            text = "Namespaces (tokens): " + ", ".join(f"{k} ({v})" for k, v in counts.items())
            return {
                "text": text + "\nPass prefix, e.g. 'color-sky' or 'breakpoint'.",
                "namespaces": counts,
                "tokens": {},
            }
        chosen = chosen[:limit]
    lines = [
        f"{t.name}: {t.value};" + ("  /* v3 compatibility, not emitted */" if t.deprecated else "") for t in chosen
    ]
    return {
        "text": "\n".join(lines),
        "tokens": {t.name: t.value for t in chosen},
        "deprecated": [t.name for t in chosen if t.deprecated],
    }
