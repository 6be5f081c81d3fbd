"""mcpfleet.tokens: the o200k_base encoder loads once, also when first calls come together."""

from __future__ import annotations

import threading
import time

from mcpfleet import tokens


def test_concurrent_first_calls_load_the_encoder_once(monkeypatch):
    loads: list[int] = []
    start = threading.Barrier(8)

    def slow_load():
        loads.append(1)
        time.sleep(0.2)  # a load long enough that every thread arrives while it runs
        return lambda text: list(text.encode())

    monkeypatch.setattr(tokens, "_loaded", [])
    monkeypatch.setattr(tokens, "_load", slow_load)

    def first_call() -> None:
        start.wait(timeout=30)
        assert tokens.count_tokens("abc") == 3

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert loads == [1]


def test_the_real_encoder_counts_o200k_tokens():
    assert tokens.count_tokens("hello world") == 2
