"""What the prolog tools do, without MCP: goals against the caller's knowledge bases, storing checked
programs, listing, showing and deleting them.

Prolog itself runs in the server's worker pool; `run(target, *args, timeout=...)` calls an
`engine.py` target there (the server passes its pool call in, tests may pass the engine itself).
Results are typed: `as_dict()` is the structured content, `text()` what the model reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from mcpfleet.common.errors import UserError
from mcpfleet.servers.prolog.settings import PrologSettings
from mcpfleet.servers.prolog.store import KbInfo, KbStore, check_name

Run = Callable[..., Awaitable[Any]]
Action = Literal["list", "show", "delete"]
MAX_PROBLEMS = 10  # errors named in a refusal to store


@dataclass(frozen=True)
class Stored:
    """A program that passed `engine.check` and is now stored under `kb`."""

    kb: str
    report: dict[str, Any]  # engine.check's report: ok, predicates, clauses, errors, warnings

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.report.items() if k != "text"} | {"kb": self.kb}

    def text(self) -> str:
        return f"stored {self.kb!r}: " + (", ".join(self.report.get("predicates", [])) or "no predicates")


@dataclass(frozen=True)
class Listing:
    kbs: tuple[KbInfo, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"kbs": [{"kb": i.name, "bytes": i.size, "updated": i.updated} for i in self.kbs]}

    def text(self) -> str:
        return ", ".join(f"{i.name} ({i.size} bytes)" for i in self.kbs) or "no knowledge bases"


@dataclass(frozen=True)
class Shown:
    kb: str
    program: str

    def as_dict(self) -> dict[str, Any]:
        return {"kb": self.kb, "program": self.program}

    def text(self) -> str:
        return self.program


@dataclass(frozen=True)
class Deleted:
    kb: str

    def as_dict(self) -> dict[str, Any]:
        return {"kb": self.kb, "deleted": True}

    def text(self) -> str:
        return f"deleted {self.kb!r}"


class KnowledgeBases:
    """The three tools' logic over one store and one way to run the engine."""

    def __init__(self, store: KbStore, run: Run, section: PrologSettings) -> None:
        self.store = store
        self.run = run
        self.section = section

    async def programs(self, caller: str, names: list[str]) -> list[str]:
        """The texts of the caller's knowledge bases `names`, in order; an unknown one is a UserError."""
        texts = []
        for name in names:
            text = await self.store.get(caller, check_name(name))
            if text is None:
                raise UserError(f"no knowledge base named {name!r}; prolog_consult stores one, prolog_kb lists yours")
            texts.append(text)
        return texts

    def time_limit(self, asked: float) -> float:
        """Seconds a query may run: the asked ones (0 = the default), at most `max_time_limit`."""
        return min(asked or self.section.time_limit, self.section.max_time_limit)

    async def query(
        self, caller: str, goal: str, program: str, names: list[str], max_solutions: int, timeout: float
    ) -> dict[str, Any]:
        """`engine.query`'s answer (a dict with `text`): it crosses the worker boundary as plain data."""
        texts = await self.programs(caller, names)
        limit = self.time_limit(timeout)
        return await self.run(
            "query",
            goal,
            program or None,
            texts or None,
            max_solutions,
            limit,
            self.section.inference_limit,
            timeout=limit + 5,
        )

    async def consult(self, caller: str, kb: str, program: str) -> Stored:
        """Check `program` in the engine and store it as `kb`; a program with errors is refused by line."""
        check_name(kb)
        report = await self.run("check", program)
        if not report.get("ok"):
            problems = "; ".join(
                f"line {e.get('line', '?')}: {e.get('message')}" for e in report.get("errors", [])[:MAX_PROBLEMS]
            )
            raise UserError(f"not stored: {problems or report.get('text', 'the program has errors')}")
        await self.store.put(caller, kb, program)
        return Stored(kb, report)

    async def manage(self, caller: str, action: Action, kb: str) -> Listing | Shown | Deleted:
        """List the caller's knowledge bases, or show or delete the one named `kb`."""
        if action == "list":
            return Listing(tuple(await self.store.list(caller)))
        if not kb:
            raise UserError(f"name the knowledge base to {action}")
        if action == "show":
            text = await self.store.get(caller, check_name(kb))
            if text is None:
                raise UserError(f"no knowledge base named {kb!r}")
            return Shown(kb, text)
        if not await self.store.delete(caller, check_name(kb)):
            raise UserError(f"no knowledge base named {kb!r}")
        return Deleted(kb)
