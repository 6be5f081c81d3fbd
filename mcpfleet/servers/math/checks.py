"""Checks of the small arguments every math tool takes: whole numbers in a range, operation names.

Ranges are checked here rather than in the tool schemas (which stay short: they are paid on every
turn), and each refusal says what is allowed, so a model can correct its call.
"""

from __future__ import annotations

from typing import Any

from mcpfleet.servers.math.parser import MathInputError


def bounded_int(value: Any, name: str, low: int, high: int) -> int:
    """`value` as an int in [low, high], or a MathInputError saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MathInputError(f"{name} must be a whole number between {low} and {high}")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise MathInputError(f"{name} must be a whole number between {low} and {high}, got {value!r}")
    return number


def pick_operation(operation: Any, aliases: dict[str, str]) -> str:
    """The canonical operation name for `operation`, or an error listing the valid ones."""
    key = str(operation).strip().lower().replace("-", "_").replace(" ", "_") if operation is not None else ""
    if key not in aliases:
        valid = ", ".join(dict.fromkeys(aliases.values()))
        raise MathInputError(f"unknown operation {operation!r}; valid operations: {valid}")
    return aliases[key]
