"""The dummy server's logic: no MCP here, a typed result with `as_dict()` and `text()`."""

from __future__ import annotations

from dataclasses import dataclass

from mcpfleet.common.errors import UserError


@dataclass(frozen=True)
class Repeated:
    word: str
    times: int

    def as_dict(self) -> dict:
        """The structured content."""
        return {"word": self.word, "times": self.times}

    def text(self) -> str:
        """What the model reads."""
        return " ".join([self.word] * self.times)


def repeat(word: str, times: int) -> Repeated:
    word = word.strip()
    if not word or " " in word:
        raise UserError("give one word to repeat, e.g. 'hello'")
    return Repeated(word, times)
