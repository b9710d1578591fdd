"""
Hostile input to the parsers of what clients and backends send: the digest
cookie and Link headers.  Every file of the fuzzing corpus (tests/fuzz_corpus,
grown by bench/fuzz_digest.py under atheris) is replayed through the parsers,
and hypothesis adds random bytes, enormous values and pathological bit
patterns; none may raise, and the documented bounds must hold.
"""

from __future__ import annotations

from pathlib import Path

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
from txpush.testing import fuzzing
from txpush.testing.digests import bitsToValue

CORPUS = Path(__file__).parent / "fuzz_corpus"
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def corpusFiles() -> list[Path]:
    """The corpus, in a stable order."""
    return sorted(CORPUS.iterdir())


def test_corpusIsThere():
    """The corpus holds the seeds and what fuzzing added."""
    assert len(corpusFiles()) >= 30


def test_replayCorpus():
    """
    Every corpus file, through every parser (as the fuzzer fed it: see
    L{txpush.testing.fuzzing}), raises nothing and keeps the documented
    bounds.  (How long the slowest takes: C{bench/fuzz_digest.py --time}.)
    """
    for path in corpusFiles():
        fuzzing.checkInput(path.read_bytes())


def test_replayCorpusExplicitBounds():
    """
    The bounds, checked here rather than by the harness: each corpus file's
    payload read as a cookie value gives at most MAX_KEYS keys below the
    capacity, none for a value over MAX_COOKIE_VALUE_LENGTH; read as Link
    fields, at most 64 links, each to a safe path of the site, found within
    the first MAX_LINK_HEADER_BYTES bytes.
    """
    for path in corpusFiles():
        bits, _maxLinks, payload = fuzzing.splitInput(path.read_bytes())
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
    digest cookie value without raising, within the bounds; anything longer
    than MAX_COOKIE_VALUE_LENGTH reads as empty.
    """
    digest = CacheDigest.fromCookieValue(value, bits)
    _checkDigest(digest, bits)
    if len(value) > MAX_COOKIE_VALUE_LENGTH:
        assert len(digest) == 0


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
def test_worstCookieValuesAreRead(bits):
    """
    The slowest values known (random base64url of the maximum length, a
    zero run then a code, all ones, a digest of MAX_KEYS keys) each read
    within the bounds, the same each time.  (How long each takes:
    bench/bench_digest.py.)
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
        digest = CacheDigest.fromCookieValue(value, bits)
        _checkDigest(digest, bits)
        assert CacheDigest.fromCookieValue(value, bits) == digest, value[:20]


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
    fuzzing.checkLinks(fields, maxLinks)


def test_thousandsOfLinkFields():
    """
    Of ten thousand Link fields, the parser reads no further than the first
    MAX_LINK_HEADER_BYTES bytes, and gives at most DEFAULT_MAX_LINKS links.
    (How long it takes: bench/bench_digest.py.)
    """
    fields = [b"</a%d.js>; rel=preload" % i for i in range(10_000)]
    read = 0

    def counted():
        nonlocal read
        for field in fields:
            read += 1
            yield field

    links = parsePreloadLinks(counted(), b"https", b"example.com")
    within = 0
    total = 0
    for field in fields:
        total += len(field)
        if total > MAX_LINK_HEADER_BYTES:
            break
        within += 1
    assert read <= within + 1 < len(fields)
    assert len(links) == DEFAULT_MAX_LINKS
