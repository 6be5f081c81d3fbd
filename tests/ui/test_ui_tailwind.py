"""Tailwind v4 through the real compiler (tailwindcss from npm, in the long-lived Node worker)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from mcpfleet.common.errors import LimitExceeded, UserError, WorkerCrashed
from mcpfleet.servers.ui.settings import UiSettings, missing_node_parts
from mcpfleet.servers.ui.tailwind import RENAMED, TailwindWorker, compile_classes

SECTION = UiSettings()
pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(missing_node_parts(SECTION) is not None, reason=str(missing_node_parts(SECTION))),
]


async def tw(worker, classes: str, theme: str = "") -> dict:
    return await compile_classes(worker, classes, theme, SECTION)


async def test_spacing_compiles_to_the_spacing_variable(worker):
    answer = await tw(worker, "p-4")
    assert ".p-4 {\n  padding: calc(var(--spacing) * 4);\n}" in answer["css"]
    assert "--spacing: 0.25rem;" in answer["css"]  # the theme variable it uses is emitted
    assert answer["unknown"] == [] and answer["renamed"] == [] and answer["tailwind"].startswith("4.")


async def test_colours_variants_and_arbitrary_values(worker):
    answer = await tw(worker, "bg-red-500 hover:bg-sky-700 md:flex w-[37px] text-[#ff0000] bg-black/50")
    css = answer["css"]
    assert "background-color: var(--color-red-500);" in css
    assert "--color-red-500: oklch(63.7% 0.237 25.331);" in css
    assert "@media (hover: hover) {\n  .hover\\:bg-sky-700:hover {" in css
    assert "@media (width >= 48rem) {\n  .md\\:flex {\n    display: flex;" in css
    assert ".w-\\[37px\\] {\n  width: 37px;\n}" in css
    assert "color: #ff0000;" in css
    assert "color-mix(in oklab, var(--color-black) 50%, transparent)" in css
    assert answer["unknown"] == []


async def test_user_theme_colour(worker):
    answer = await tw(worker, "bg-brand text-brand/50", "@theme { --color-brand: #0af; }")
    assert "--color-brand: #0af;" in answer["css"] and "background-color: var(--color-brand);" in answer["css"]
    bare = await tw(worker, "bg-brand", "--color-brand: oklch(0.6 0.2 250);")
    assert "--color-brand: oklch(0.6 0.2 250);" in bare["css"]
    # without the theme, the same class is unknown: the compiler is not left holding earlier themes
    assert (await tw(worker, "bg-brand"))["unknown"] == ["bg-brand"]


async def test_unknown_classes_are_listed(worker):
    answer = await tw(worker, "p-4 not-a-class bg-redd-500 p-4")
    assert answer["unknown"] == ["not-a-class", "bg-redd-500"]
    # the finding leads the text: a client that cuts long output keeps it
    assert answer["text"].startswith("unknown (no CSS in Tailwind v4): not-a-class bg-redd-500\n")
    assert "not-a-class" not in answer["css"]


async def test_each_call_compiles_only_its_own_classes(worker):
    await tw(worker, "m-7")
    assert ".m-7" not in (await tw(worker, "p-2"))["css"]


async def test_v3_names_say_what_they_became(worker):
    answer = await tw(worker, "shadow-sm hover:flex-grow bg-opacity-50 outline-none ring rounded-t")
    renamed = {r["class"]: r["v4"] for r in answer["renamed"]}
    assert renamed == {
        "shadow-sm": "shadow-xs",
        "hover:flex-grow": "hover:grow",
        "bg-opacity-50": "bg-black/50",
        "outline-none": "outline-hidden",
        "ring": "ring-3",
        "rounded-t": "rounded-t-sm",
    }
    assert answer["unknown"] == ["bg-opacity-50"]  # removed in v4; the others still compile in v4
    assert "v3 name shadow-sm: use shadow-xs" in answer["text"]


async def test_every_v4_name_in_the_rename_table_compiles(worker):
    built = await worker.build(sorted(set(RENAMED.values())) + ["bg-black/50", "text-black/50", "border-black/50"])
    assert built["unknown"] == []


async def test_keyframes_in_a_user_theme_compile(worker):
    theme = (
        "@theme { --animate-wiggle: wiggle 1s ease-in-out infinite;"
        " @keyframes wiggle { 0%, 100% { rotate: -3deg; } 50% { rotate: 3deg; } } }"
    )
    css = (await tw(worker, "animate-wiggle", theme))["css"]
    assert "animation: var(--animate-wiggle);" in css and "@keyframes wiggle" in css


async def test_the_compiler_loads_nothing_outside_tailwindcss(worker):
    # Past the Python checks, the worker's own loaders still refuse (defence in depth).
    with pytest.raises(UserError, match='@import of "/etc/passwd" is not allowed'):
        await worker.build(["p-4"], '@import "/etc/passwd";')
    with pytest.raises(UserError, match="no plugins or configs"):
        await worker.build(["p-4"], '@plugin "node:child_process";')
    assert (await worker.build(["p-1"]))["unknown"] == []  # and it keeps serving


async def test_output_is_bounded():
    small = TailwindWorker(UiSettings(max_css_chars=1000))
    try:
        answer = await compile_classes(small, " ".join(f"m-{i}" for i in range(100)), "", small.section)
    finally:
        await small.aclose()
    assert answer["truncated"] and len(answer["css"]) == 1000 and "cut at 1000 characters" in answer["text"]


async def test_worker_restarts_after_a_kill(worker):
    first = worker.pid
    os.kill(first, signal.SIGKILL)
    await asyncio.sleep(0.2)
    answer = await tw(worker, "p-4")  # the dead worker is noticed and replaced
    assert "padding: calc(var(--spacing) * 4);" in answer["css"]
    assert worker.pid not in (None, first) and worker.restarts >= 1


async def test_worker_killed_mid_request_is_reported_then_replaced(worker):
    pid = worker.pid
    request = asyncio.create_task(worker.build([f"m-{i}" for i in range(200)]))
    await asyncio.sleep(0)
    os.kill(pid, signal.SIGKILL)
    try:
        await request
    except WorkerCrashed as exc:
        assert "restarted" in str(exc)
    assert (await worker.build(["p-4"]))["unknown"] == []
    assert worker.pid != pid


async def test_timeout_stops_the_worker_and_the_next_call_is_served():
    slow = TailwindWorker(UiSettings(compile_timeout=0.001))
    try:
        with pytest.raises(LimitExceeded, match="took longer than"):
            await slow.build([f"p-{i}" for i in range(300)], "@theme { --color-q: red; }")
        assert not slow.alive
        slow.section = UiSettings()  # a sane limit again
        assert (await slow.build(["p-4"]))["unknown"] == []
    finally:
        await slow.aclose()
