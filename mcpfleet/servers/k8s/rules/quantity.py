"""Kubernetes resource quantities ('512Mi', '1.5', '250m', '1e3') as numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

SUFFIXES: dict[str, int | Decimal] = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
# `\d+(?:\.\d*)?`, not `\d+\.?\d*`: the latter splits a run of digits every possible way before
# failing, quadratic on a long value ("1" * 40_000 + "x" took a minute).
QUANTITY_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
MAX_QUANTITY_CHARS = 100  # Kubernetes itself refuses much shorter ones


def parse_quantity(value: object) -> Decimal | None:
    """The quantity's value in base units, or None when it is not a quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    text = str(value).strip()
    if len(text) > MAX_QUANTITY_CHARS:
        return None
    m = QUANTITY_RE.match(text)
    if not m:
        return None
    try:
        return Decimal(m[1]) * SUFFIXES[m[2] or ""]
    except InvalidOperation:
        return None
