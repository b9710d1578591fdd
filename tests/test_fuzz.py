"""
Hostile input to the parsers of what clients and backends send: the digest
cookie and Link headers.  Every file of the fuzzing corpus (tests/fuzz_corpus,
grown by bench/fuzz_digest.py under atheris) is replayed through the parsers,
and hypothesis adds random bytes, enormous values and pathological bit
patterns; none may raise, and the documented bounds must hold.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from txpush.assets import pathProblem
from txpush.digest import MAX_COOKIE_VALUE_LENGTH, MAX_KEYS, CacheDigest
from txpush.linkheader import (
    DEFAULT_MAX_LINKS,
    MAX_LINK_HEADER_BYTES,
    parsePreloadLinks,
)

ROOT = Path(__file__).parent.parent
CORPUS = Path(__file__).parent / "fuzz_corpus"
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
SLOWEST_INPUT_SECONDS = 0.25
"""
A generous bound on one input through every parser (docs/digest.md measures
the slowest cookie at 0.35 ms); a quadratic path would take far longer.
"""


def _harness() -> Any:
    """bench/fuzz_digest.py, imported (it does not need atheris to be)."""
    name = "txpush_bench_fuzz_digest"
    if name not in sys.modules:
        path = ROOT / "bench" / "fuzz_digest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def corpusFiles() -> list[Path]:
    """The corpus, in a stable order."""
    return sorted(CORPUS.iterdir())


def test_corpusIsThere():
    """The corpus holds the seeds and what fuzzing added."""
    assert len(corpusFiles()) >= 30


def test_replayCorpus():
    """
    Every corpus file, through every parser (as the fuzzer fed it: see
    bench/fuzz_digest.py), raises nothing, keeps the documented bounds, and
    takes less than a quarter of a second.
    """
    harness = _harness()
    slowest = (0.0, "")
    for path in corpusFiles():
        data = path.read_bytes()
        started = time.perf_counter()
        harness.checkInput(data)
        elapsed = time.perf_counter() - started
        slowest = max(slowest, (elapsed, path.name))
    assert slowest[0] < SLOWEST_INPUT_SECONDS, slowest


def test_replayCorpusExplicitBounds():
    """
    The bounds, checked here rather than by the harness: each corpus file's
    payload read as a cookie value gives at most MAX_KEYS keys below the
    capacity, none for a value over MAX_COOKIE_VALUE_LENGTH; read as Link
    fields, at most 64 links, each to a safe path of the site, found within
    the first MAX_LINK_HEADER_BYTES bytes.
    """
    harness = _harness()
    for path in corpusFiles():
        bits, _maxLinks, payload = harness.splitInput(path.read_bytes())
        digest = CacheDigest.fromCookieValue(payload, bits)
        assert len(digest) <= MAX_KEYS
        keys = digest.keys()
        assert all(key < 2**bits for key in keys)
        if len(payload) > MAX_COOKIE_VALUE_LENGTH:
            assert len(digest) == 0
        fields = payload.split(b"\n")
        links = parsePreloadLinks(fields, b"https", b"example.com:8443")
        assert len(links) <= DEFAULT_MAX_LINKS
        window = b"\n".join(fields)[: MAX_LINK_HEADER_BYTES + len(fields)]
        for link in links:
            assert pathProblem(link.asset.path) is None
            assert link.asset.path in window


# Hypothesis: random bytes, enormous values, pathological bit patterns.

capacities = st.integers(min_value=1, max_value=15)


def bitsToValue(bits: str) -> str:
    """A bit string, zero padded to bytes, as unpadded base64url."""
    import base64

    bits += "0" * (-len(bits) % 8)
    data = int(bits or "0", 2).to_bytes(len(bits) // 8, "big") if bits else b""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


pathologicalBits = st.one_of(
    # Long runs of zeros: huge quotients.
    st.integers(0, 40_000).map(lambda n: bitsToValue("0" * n + "1000000")),
    # All ones: the densest valid code.
    st.integers(0, 24_000).map(lambda n: bitsToValue("1" * n)),
    # Alternating and periodic patterns.
    st.tuples(
        st.sampled_from(["01", "10", "0001", "1110", "10000000", "0000001"]),
        st.integers(0, 6000),
    ).map(lambda p: bitsToValue(p[0] * p[1])),
    # Codes whose deltas run the keys past any capacity.
    st.lists(st.integers(0, 2**16), max_size=3000).map(
        lambda deltas: bitsToValue(
            "".join("0" * (d >> 6) + "1" + format(d & 63, "06b") for d in deltas)
        )
    ),
)

enormousValues = st.one_of(
    st.tuples(st.sampled_from(list(BASE64URL)), st.integers(4000, 200_000)).map(
        lambda p: p[0] * p[1]
    ),
    st.text(alphabet=BASE64URL, min_size=4090, max_size=4100),
    st.binary(min_size=4000, max_size=70_000),
)


def _checkDigest(digest: CacheDigest, bits: int) -> None:
    keys = digest.keys()
    assert len(keys) <= MAX_KEYS
    assert all(0 <= key < 2**bits for key in keys)
    assert list(keys) == sorted(set(keys))
    encoded = digest.cookieValue()
    assert len(encoded) <= 2475
    assert CacheDigest.fromCookieValue(encoded, bits) == digest


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(st.binary(max_size=6000), pathologicalBits, enormousValues), capacities
)
def test_anyCookieValue(value, bits):
    """
    Random bytes, enormous values and pathological bit patterns read as a
    digest cookie value without raising, within the bounds, in bounded
    time; anything longer than MAX_COOKIE_VALUE_LENGTH reads as empty.
    """
    started = time.perf_counter()
    digest = CacheDigest.fromCookieValue(value, bits)
    elapsed = time.perf_counter() - started
    _checkDigest(digest, bits)
    if len(value) > MAX_COOKIE_VALUE_LENGTH:
        assert len(digest) == 0
    assert elapsed < SLOWEST_INPUT_SECONDS


cookieFields = st.lists(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda before, value, after: before + b"h2o_casper=" + value + after,
            st.binary(max_size=40),
            st.one_of(pathologicalBits.map(str.encode), st.binary(max_size=200)),
            st.binary(max_size=40),
        ),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(cookieFields, capacities)
def test_anyCookieFields(fields, bits):
    """
    Any Cookie fields, with or without the digest crumb among others, read
    without raising and within the bounds.
    """
    digest = CacheDigest.fromCookieHeaders(fields, b"h2o_casper", bits)
    _checkDigest(digest, bits)


@pytest.mark.parametrize("bits", [1, 13, 15])
def test_worstCookieValuesAreFast(bits):
    """
    The slowest values known (random base64url of the maximum length, a
    digest of MAX_KEYS keys, a zero run then a code) each read in well under
    the bound.
    """
    import random

    rng = random.Random(bits)
    values = [
        "".join(rng.choice(BASE64URL) for _ in range(MAX_COOKIE_VALUE_LENGTH)),
        bitsToValue("0" * (MAX_COOKIE_VALUE_LENGTH * 6 - 8) + "1000000"),
        bitsToValue("1" * (MAX_COOKIE_VALUE_LENGTH * 6)),
        bitsToValue("1000000" * MAX_KEYS),
    ]
    for value in values:
        started = time.perf_counter()
        for _ in range(10):
            CacheDigest.fromCookieValue(value, bits)
        assert (time.perf_counter() - started) / 10 < 0.02, value[:20]


linkFields = st.lists(
    st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    b"<",
                    b">",
                    b"/",
                    b"..",
                    b"%2e",
                    b"%2f",
                    b"\\",
                    b";",
                    b",",
                    b'"',
                    b"=",
                    b" ",
                    b"rel",
                    b"preload",
                    b"as",
                    b"nopush",
                    b"https://example.com:8443",
                    b"//",
                    b"a.js",
                    b"\r\n",
                    b"\xff",
                ]
            ),
            max_size=80,
        ).map(b"".join),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(linkFields, st.integers(-2, 100))
def test_anyLinkFields(fields, maxLinks):
    """
    Any Link field values, of random bytes or of the pieces of links (dot
    segments, encoded slashes, backslashes, quotes, CR LF, other origins),
    parse without raising into at most maxLinks links to safe paths of the
    site, each from the first MAX_LINK_HEADER_BYTES bytes.
    """
    _harness()._checkLinks(fields, maxLinks)


def test_thousandsOfLinkFields():
    """
    Ten thousand Link fields cost no more than the first 16 KiB of them,
    and give at most DEFAULT_MAX_LINKS links.
    """
    fields = [b"</a%d.js>; rel=preload" % i for i in range(10_000)]
    started = time.perf_counter()
    links = parsePreloadLinks(fields, b"https", b"example.com")
    assert time.perf_counter() - started < 0.1
    assert len(links) == DEFAULT_MAX_LINKS
