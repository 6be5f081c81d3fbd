"""Cost of marking outside text (common/untrusted.py): `untrusted_result` on megabyte inputs.

    python benchmarks/bench_untrusted.py [--rounds N] [--megabytes M]

Each case is about M MB of text returned as both the text content and one structured field, as
web_fetch and npm_readme do. Ordinary prose and CJK show the everyday cost; the hostile cases are
the shapes that would make a backtracking matcher quadratic (brackets that never close) or that
make the scanner do the most per match (every sequence different). Prints the best of N rounds in
milliseconds and the rate in MB/s; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

from mcpfleet.common.untrusted import untrusted_result


def cases(megabytes: float) -> dict[str, str]:
    def fill(unit: str) -> str:
        return unit * max(1, int(megabytes * 1_000_000 / len(unit)))

    return {
        "prose (markdown, links, html)": fill("Some [link](https://x) text with <b>html</b> and `code` here.\n"),
        "CJK": fill("漢字かなカナ。"),
        "repeated <|im_start|>": fill("<|im_start|>x "),
        "unclosed brackets": fill("<" + "|" * 100),
        "full-width <｜x｜>": fill("\uff1c\uff5cx\uff5c\uff1e "),
        "every sequence different": "".join(f"<|t{i}|>" for i in range(int(megabytes * 110_000))),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=float, default=1.0)
    args = parser.parse_args()
    for name, text in cases(args.megabytes).items():
        best = float("inf")
        for _ in range(args.rounds):
            start = time.perf_counter()
            untrusted_result(text, "https://example.org/", {"content": text})
            best = min(best, time.perf_counter() - start)
        print(f"{name:32s} {len(text) / 1e6:5.2f} MB  {best * 1000:7.0f} ms  {len(text) / 1e6 / best:6.1f} MB/s")


if __name__ == "__main__":
    main()
