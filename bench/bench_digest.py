"""
Benchmark of the cache digest cookie (txpush.digest).

Run: python bench/bench_digest.py

Prints a Markdown table of the median time per call, in microseconds, of
parsing a cookie value, one lookup, encoding, and parsing then encoding, for
digests of 10, 100 and 1000 paths at the default capacity, then the time to
parse hostile values of the maximum length (tests/test_digest.py and
tests/test_fuzz.py check what these values read as; the time is here), and
the time to parse ten thousand Link fields, of which the parser reads the
first 16 KiB.  Writes the same text to bench/results/digest.md.
"""

from __future__ import annotations

import platform
import random
import statistics
import sys
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from txpush.digest import MAX_COOKIE_VALUE_LENGTH, MAX_KEYS, CacheDigest
from txpush.linkheader import parsePreloadLinks
from txpush.testing.digests import bitsToValue

REPEAT = 15
SIZES = (10, 100, 1000)
RESULTS = Path(__file__).resolve().parent / "results" / "digest.md"


def median(function: Callable[[], object]) -> float:
    """
    @return: The median time of one call of C{function} in microseconds, over
        C{REPEAT} runs of about 0.05 seconds each.
    """
    timer = timeit.Timer(function)
    number, _ = timer.autorange()  # enough calls for 0.2 s
    number = max(1, number // 4)
    runs = timer.repeat(repeat=REPEAT, number=number)
    return statistics.median(runs) / number * 1e6


def sizeRow(size: int, rng: random.Random) -> tuple[str, ...]:
    paths = [f"/assets/{rng.getrandbits(48):012x}.js" for _ in range(size)]
    digest = CacheDigest()
    for path in paths:
        digest.add(path)
    value = digest.cookieValue()
    probe = paths[size // 2]
    timings = [
        median(lambda: CacheDigest.fromCookieValue(value)),
        median(lambda: probe in digest),
        median(digest.cookieValue),
        median(lambda: CacheDigest.fromCookieValue(value).cookieValue()),
    ]
    return (
        f"{size}",
        f"{len(digest)}",
        f"{len(value)}",
        *(f"{timing:.1f}" for timing in timings),
    )


def hostileRows(rng: random.Random) -> list[tuple[str, ...]]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    randomValue = "".join(rng.choice(alphabet) for _ in range(MAX_COOKIE_VALUE_LENGTH))
    full = CacheDigest(15)
    while len(full) < MAX_KEYS:
        full.add(f"/full/{rng.getrandbits(48):012x}.js")
    zeros = "A" * (MAX_COOKIE_VALUE_LENGTH - 4)
    overLong = "A" * (MAX_COOKIE_VALUE_LENGTH + 1)
    cases = [
        ("random base64url, 13 bits", randomValue, 13),
        ("random base64url, 15 bits", randomValue, 15),
        ("a digest of MAX_KEYS keys, 15 bits", full.cookieValue(), 15),
        ("zero bits then one code, 15 bits", zeros + "gAAA", 15),
        ("zero bits then AAAQ, 15 bits", zeros + "AAAQ", 15),
        ("zero bits only, 15 bits", zeros + "AAAA", 15),
        ("one character over the cap", overLong, 13),
    ]
    for bits in (1, 13, 15):
        longZeroRun = bitsToValue("0" * (MAX_COOKIE_VALUE_LENGTH * 6 - 8) + "1000000")
        cases += [
            (f"a zero run then a code, {bits} bits", longZeroRun, bits),
            (
                f"all ones, {bits} bits",
                bitsToValue("1" * (MAX_COOKIE_VALUE_LENGTH * 6)),
                bits,
            ),
            (
                f"MAX_KEYS codes of 1000000, {bits} bits",
                bitsToValue("1000000" * MAX_KEYS),
                bits,
            ),
        ]
    rows: list[tuple[str, ...]] = []
    for name, value, bits in cases:
        keys = len(CacheDigest.fromCookieValue(value, bits))
        timing = median(partial(CacheDigest.fromCookieValue, value, bits))
        rows.append((name, f"{len(value)}", f"{keys}", f"{timing:.1f}"))
    return rows


def linkRow() -> tuple[str, ...]:
    fields = [b"</a%d.js>; rel=preload" % i for i in range(10_000)]
    links = len(parsePreloadLinks(fields, b"https", b"example.com"))
    timing = median(partial(parsePreloadLinks, fields, b"https", b"example.com"))
    return (f"{len(fields)}", f"{links}", f"{timing:.1f}")


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def main() -> None:
    rng = random.Random(1)
    sizeTable = table(
        (
            "paths",
            "keys",
            "value chars",
            "parse",
            "lookup (`in`)",
            "encode",
            "parse + encode",
        ),
        [sizeRow(size, rng) for size in SIZES],
    )
    hostileTable = table(("value", "chars", "keys kept", "parse"), hostileRows(rng))
    linkTable = table(("Link fields", "links kept", "parse"), [linkRow()])
    text = "\n".join(
        [
            "# Cache digest benchmark",
            "",
            f"Median microseconds per call (timeit, {REPEAT} runs),"
            f" Python {platform.python_version()} on {platform.machine()},"
            " 13 capacity bits unless noted.",
            "",
            sizeTable,
            "",
            "Parsing the largest values (the longest a digest of MAX_KEYS keys"
            " takes, and hostile values of the maximum length):",
            "",
            hostileTable,
            "",
            "Parsing ten thousand Link fields (the parser reads the first"
            " 16 KiB of them):",
            "",
            linkTable,
            "",
        ]
    )
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
