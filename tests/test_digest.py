"""
The cache digest cookie: H2O's casper format, checked against vectors
recorded from a real H2O 2.2.5 and against a plain bit-by-bit reference
implementation of the format written here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txpush.digest import (
    DEFAULT_CAPACITY_BITS,
    DEFAULT_COOKIE_NAME,
    DEFAULT_MAX_AGE,
    MAX_COOKIE_VALUE_LENGTH,
    MAX_KEYS,
    CacheDigest,
    setCookieHeaderValue,
)
from txpush.testing.digests import bitsToValue

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors" / "h2o_casper.json").read_text("utf-8")
)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def referenceKey(path: str | bytes, capacityBits: int) -> int:
    """
    The key of a path, straight from the definition.
    """
    if isinstance(path, str):
        path = path.encode("utf-8")
    first4 = hashlib.sha1(path).digest()[:4]
    return int.from_bytes(first4, "little") % (1 << capacityBits)


def referenceCode(delta: int) -> str:
    """
    The Golomb-Rice code of one delta, 6 remainder bits, built bit by bit.
    """
    quotient, remainder = divmod(delta, 64)
    return (
        "0" * quotient
        + "1"
        + "".join(str((remainder >> i) & 1) for i in (5, 4, 3, 2, 1, 0))
    )


def referenceEncode(keys: Iterable[int]) -> str:
    """
    Encode a set of keys, straight from the definition.
    """
    bits = ""
    previous = -1
    for key in sorted(set(keys)):
        bits += referenceCode(key - previous - 1)
        previous = key
    return bitsToValue(bits)


def referenceDecode(value: str | bytes, capacityBits: int) -> list[int]:
    """
    Decode a value bit by bit, following the documented policy: an empty
    result for anything that is not unpadded base64url (or base64) text of at
    most MAX_COOKIE_VALUE_LENGTH characters, else the keys before the first
    one out of range, at most MAX_KEYS of them.
    """
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return []
    if (
        len(value) > MAX_COOKIE_VALUE_LENGTH
        or len(value) % 4 == 1
        or not re.fullmatch(r"[A-Za-z0-9_+/\-]*", value)
    ):
        return []
    standard = value.replace("-", "+").replace("_", "/")
    data = base64.b64decode(standard + "=" * (-len(value) % 4))
    stream = [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]
    keys: list[int] = []
    position = 0
    previous = -1
    while len(keys) < MAX_KEYS:
        quotient = 0
        while position < len(stream) and stream[position] == 0:
            quotient += 1
            position += 1
        if position + 7 > len(stream):
            break
        remainder = 0
        for bit in stream[position + 1 : position + 7]:
            remainder = remainder * 2 + bit
        position += 7
        key = previous + 1 + quotient * 64 + remainder
        if key >= 2**capacityBits:
            break
        keys.append(key)
        previous = key
    return keys


def digestOf(paths: Iterable[str | bytes], capacityBits: int = 13) -> CacheDigest:
    digest = CacheDigest(capacityBits)
    for path in paths:
        digest.add(path)
    return digest


def checkBounds(digest: CacheDigest, capacityBits: int) -> None:
    keys = digest.keys()
    assert len(digest) == len(keys) <= MAX_KEYS
    assert list(keys) == sorted(set(keys))
    assert all(0 <= key < 2**capacityBits for key in keys)


capacities = st.integers(min_value=1, max_value=15)
paths = st.one_of(
    st.text(max_size=40).map(lambda text: "/" + text),
    st.binary(max_size=40),
)


# The documented vector and the vectors recorded from H2O.


def test_casperVector() -> None:
    """
    {"/index.html"} has key 7700 at 13 bits (the key H2O's own unit test
    expects) and encodes as AAAAAAAAAAAAAAAAAAAAqA.
    """
    digest = CacheDigest()
    assert digest.add("/index.html")
    assert digest.keys() == (7700,)
    assert digest.cookieValue() == "AAAAAAAAAAAAAAAAAAAAqA"
    assert CacheDigest.fromCookieValue("AAAAAAAAAAAAAAAAAAAAqA") == digest


def test_vectorsCoverTheFormat() -> None:
    """
    The recorded vectors include a large set and non-default capacities.
    """
    assert len(VECTORS) >= 8
    assert max(len(vector["paths"]) for vector in VECTORS) >= 50
    assert {vector["capacityBits"] for vector in VECTORS} - {13}


@pytest.mark.parametrize(
    "vector",
    VECTORS,
    ids=[f"{v['capacityBits']}bits-{len(v['paths'])}paths" for v in VECTORS],
)
def test_h2oVectorEncode(vector: dict[str, Any]) -> None:
    """
    The set of paths encodes exactly as H2O encoded it.
    """
    digest = digestOf(vector["paths"], vector["capacityBits"])
    assert digest.cookieValue() == vector["cookieValue"]
    assert (
        referenceEncode(
            referenceKey(p, vector["capacityBits"]) for p in vector["paths"]
        )
        == (vector["cookieValue"])
    )


@pytest.mark.parametrize(
    "vector",
    VECTORS,
    ids=[f"{v['capacityBits']}bits-{len(v['paths'])}paths" for v in VECTORS],
)
def test_h2oVectorDecode(vector: dict[str, Any]) -> None:
    """
    H2O's value parses to the keys of its paths, and encodes back unchanged.
    """
    bits = vector["capacityBits"]
    parsed = CacheDigest.fromCookieValue(vector["cookieValue"], bits)
    expected = sorted({referenceKey(path, bits) for path in vector["paths"]})
    assert parsed.keys() == tuple(expected)
    assert parsed == digestOf(vector["paths"], bits)
    assert all(path in parsed for path in vector["paths"])
    assert parsed.cookieValue() == vector["cookieValue"]
    asBytes = CacheDigest.fromCookieValue(vector["cookieValue"].encode("ascii"), bits)
    assert asBytes == parsed


def test_queryAndRawPathAreKeyed() -> None:
    """
    The key is of the path as sent: query string and percent-encoding
    included, as H2O keys it.
    """
    assert digestOf(["/app.js?v=3"]).keys() == (referenceKey("/app.js?v=3", 13),)
    assert referenceKey("/app.js?v=3", 13) != referenceKey("/app.js", 13)
    assert "/app.js" not in digestOf(["/app.js?v=3"])
    assert len(digestOf(["/a%31.js", "/a1.js"])) == 2


# The digest as a set.


def test_emptyDigest() -> None:
    digest = CacheDigest()
    assert len(digest) == 0
    assert digest.keys() == ()
    assert digest.cookieValue() == ""
    assert "/index.html" not in digest
    assert digest.capacityBits == DEFAULT_CAPACITY_BITS == 13
    assert CacheDigest.fromCookieValue("") == digest


def test_addReportsChange() -> None:
    digest = CacheDigest()
    assert digest.add("/style.css") is True
    assert digest.add("/style.css") is False
    assert digest.add(b"/style.css") is False
    assert digest.add("/app.js") is True
    assert len(digest) == 2
    assert "/style.css" in digest and b"/app.js" in digest


def test_addCollidingPathDoesNotChange() -> None:
    """
    At one capacity bit, a third path always shares a key with one of two
    paths of different keys.
    """
    digest = CacheDigest(1)
    added = [path for path in ("/style.css", "/app.js", "/a1.js") if digest.add(path)]
    assert len(digest) == len(added) <= 2


def test_textIsEncodedAsUTF8() -> None:
    assert digestOf(["/caf\u00e9"]) == digestOf(["/caf\u00e9".encode()])
    assert digestOf(["/caf\udce9"]) == digestOf([b"/caf\xe9"])
    assert "/caf\udce9" in digestOf([b"/caf\xe9"])


def test_merge() -> None:
    first = digestOf(["/a.js", "/b.js"])
    second = digestOf(["/b.js", "/c.js"])
    assert first.merge(second) is True
    assert first == digestOf(["/a.js", "/b.js", "/c.js"])
    assert first.merge(second) is False
    assert first.merge(CacheDigest()) is False
    assert second == digestOf(["/b.js", "/c.js"])


def test_mergeDifferentCapacities() -> None:
    with pytest.raises(ValueError, match="capacity"):
        CacheDigest(13).merge(CacheDigest(12))


def test_equality() -> None:
    assert digestOf(["/a.js"]) == digestOf(["/a.js"])
    assert digestOf(["/a.js"]) != digestOf(["/b.js"])
    assert digestOf(["/a.js"], 13) != digestOf(["/a.js"], 14)
    assert CacheDigest() != "AAAA"
    with pytest.raises(TypeError):
        hash(CacheDigest())


def test_capacityBitsIsReadOnly() -> None:
    digest = CacheDigest(10)
    assert digest.capacityBits == 10
    with pytest.raises(AttributeError):
        digest.capacityBits = 11  # type: ignore[misc]


@pytest.mark.parametrize("bits", [0, 16, -1, 1.5, "13", None, True])
def test_invalidCapacity(bits: Any) -> None:
    with pytest.raises(ValueError, match="capacityBits"):
        CacheDigest(bits)
    with pytest.raises(ValueError, match="capacityBits"):
        CacheDigest.fromCookieValue("AAAA", bits)
    with pytest.raises(ValueError, match="capacityBits"):
        CacheDigest.fromCookieHeaders(None, capacityBits=bits)


@pytest.mark.parametrize("bits", [1, 15])
def test_extremeCapacities(bits: int) -> None:
    digest = digestOf(["/a.js", "/b.js", "/c.js"], bits)
    assert CacheDigest.fromCookieValue(digest.cookieValue(), bits) == digest
    checkBounds(digest, bits)


def test_repr() -> None:
    assert repr(digestOf(["/a.js"], 12)) == "<CacheDigest capacityBits=12 keys=1>"


# Invalid cookie values.


@pytest.mark.parametrize(
    "value",
    [
        "AAAAAAAAA6A=",  # padding
        "AAAAAAAAAAAAAAAAAAAAqA==",
        "AAAAA",  # length 1 more than a multiple of 4
        "AAAAAAAAA*A",  # outside the alphabet
        "AAAA AAAA6A",
        "AAAAAAAAA6A\n",
        "AAAAAAAAA6\u00e9",  # not ASCII
        b"AAAAAAAAA6\xff",  # bytes that are not UTF-8
        "\udcff",
        "AAAAAAAAA6A;",
    ],
)
def test_invalidBase64GivesEmpty(value: str | bytes) -> None:
    assert len(CacheDigest.fromCookieValue(value)) == 0


def test_standardAlphabetAccepted() -> None:
    """
    Like H2O, "+" and "/" are read as "-" and "_".
    """
    value = next(v["cookieValue"] for v in VECTORS if "-" in v["cookieValue"])
    bits = next(v["capacityBits"] for v in VECTORS if v["cookieValue"] == value)
    standard = value.replace("-", "+").replace("_", "/")
    parsed = CacheDigest.fromCookieValue(standard, bits)
    assert len(parsed) > 0
    assert parsed == CacheDigest.fromCookieValue(value, bits)


def test_lengthCap() -> None:
    """
    Trailing zero bits are harmless up to the length cap; past it the whole
    value is ignored.
    """
    value = digestOf(["/a.js", "/b.js"]).cookieValue()
    atCap = value + "A" * (MAX_COOKIE_VALUE_LENGTH - len(value))
    assert CacheDigest.fromCookieValue(atCap) == digestOf(["/a.js", "/b.js"])
    assert len(CacheDigest.fromCookieValue(atCap + "AAAA")) == 0
    assert len(CacheDigest.fromCookieValue(atCap.encode("ascii") + b"AAAA")) == 0


def test_keyBeyondCapacityEndsDecoding() -> None:
    """
    A run of zero bits that pushes a key past the capacity ends decoding; the
    keys before it are kept.  The same value at a larger capacity keeps it.
    """
    value = bitsToValue(referenceCode(5) + referenceCode(200 * 64) + referenceCode(0))
    assert CacheDigest.fromCookieValue(value, 13).keys() == (5,)
    assert CacheDigest.fromCookieValue(value, 15).keys() == (
        5,
        6 + 200 * 64,
        7 + 200 * 64,
    )


def test_hugeZeroRunEndsDecoding() -> None:
    """
    A value of nothing but zero bits, or zero bits then a code, gives no keys.
    """
    assert len(CacheDigest.fromCookieValue("A" * MAX_COOKIE_VALUE_LENGTH)) == 0
    value = "A" * (MAX_COOKIE_VALUE_LENGTH - 4) + "gAAA"
    assert len(CacheDigest.fromCookieValue(value, 15)) == 0


@pytest.mark.parametrize("end", ["gAAA", "AAAQ", "AAAA"])
def test_zeroRunOfTheMaximumLength(end: str) -> None:
    """
    Long runs of zero bits, which a backtracking scan would retry bit by bit
    in quadratic time, read as a digest of no keys, the same each time.
    (How long it takes: bench/bench_digest.py, whose figures are in
    bench/results/digest.md.)
    """
    value = "A" * (MAX_COOKIE_VALUE_LENGTH - 4) + end
    digest = CacheDigest.fromCookieValue(value, 15)
    assert len(digest) == 0
    assert CacheDigest.fromCookieValue(value, 15) == digest


def test_maxKeys() -> None:
    """
    Decoding stops at MAX_KEYS keys, keeping the smallest.
    """
    value = bitsToValue(referenceCode(0) * (MAX_KEYS + 10))
    assert len(value) <= MAX_COOKIE_VALUE_LENGTH
    parsed = CacheDigest.fromCookieValue(value, 15)
    assert parsed.keys() == tuple(range(MAX_KEYS))


def test_incompleteLastCodeIgnored() -> None:
    """
    A code cut short at the end (a one bit without its 6 remainder bits) is
    taken as padding.
    """
    value = bitsToValue(referenceCode(100) + "0001011")
    assert CacheDigest.fromCookieValue(value).keys() == (100,)


def test_largerCapacityDigestReadAtSmaller() -> None:
    """
    A digest written at 15 bits read at 13 keeps its keys below 2 ** 13.
    """
    vector = next(v for v in VECTORS if v["capacityBits"] == 15)
    keys15 = CacheDigest.fromCookieValue(vector["cookieValue"], 15).keys()
    keys13 = CacheDigest.fromCookieValue(vector["cookieValue"], 13).keys()
    assert keys13 == tuple(key for key in keys15 if key < 2**13)
    assert 0 < len(keys13) < len(keys15)


# Reading Cookie header fields.

VALUE = digestOf(["/style.css", "/app.js"]).cookieValue()
OTHER = digestOf(["/other.js"]).cookieValue()
EXPECTED = digestOf(["/style.css", "/app.js"])


@pytest.mark.parametrize(
    "headers",
    [
        [b"h2o_casper=" + VALUE.encode()],
        [b"a=b; h2o_casper=" + VALUE.encode() + b"; c=d"],
        [b"a=b;h2o_casper=" + VALUE.encode() + b";c=d"],
        [b"a=b", b"h2o_casper=" + VALUE.encode(), b"c=d"],
        [b"a=b", b"c=d; h2o_casper=" + VALUE.encode()],
        [b"h2o_casper = " + VALUE.encode() + b" ;a=b"],
        [b"a=b;\th2o_casper=" + VALUE.encode()],
        [b'h2o_casper="' + VALUE.encode() + b'"'],
        [
            b"xh2o_casper=" + OTHER.encode(),
            b"h2o_casper_1=" + OTHER.encode(),
            b"h2o_casper=" + VALUE.encode(),
        ],
    ],
)
def test_cookieFound(headers: list[bytes]) -> None:
    assert CacheDigest.fromCookieHeaders(headers) == EXPECTED
    assert CacheDigest.fromCookieHeaders(iter(headers)) == EXPECTED


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        [b""],
        [b"a=b; c=d"],
        [b"h2o_casper"],
        [b"H2O_CASPER=" + VALUE.encode()],
        [b"h2o_casper=; a=b"],
        [b";;;==;=;"],
        [b"h2o_casper=!!!!"],
        [b"h2o_casper=" + VALUE.encode() + b"=="],
        [b"\xff\xfe\x00h2o_casper=\xff"],
    ],
)
def test_cookieAbsentOrGarbage(headers: list[bytes] | None) -> None:
    digest = CacheDigest.fromCookieHeaders(headers)
    assert len(digest) == 0
    assert digest.capacityBits == 13


def test_duplicateCookieFirstWins() -> None:
    value, other = VALUE.encode(), OTHER.encode()
    assert (
        CacheDigest.fromCookieHeaders(
            [b"h2o_casper=" + value + b"; h2o_casper=" + other]
        )
        == EXPECTED
    )
    assert (
        CacheDigest.fromCookieHeaders([b"h2o_casper=" + value, b"h2o_casper=" + other])
        == EXPECTED
    )
    assert CacheDigest.fromCookieHeaders(
        [b"a=b", b"h2o_casper=" + other, b"h2o_casper=" + value]
    ) == (digestOf(["/other.js"]))
    # The first one wins even when it is invalid.
    assert (
        len(CacheDigest.fromCookieHeaders([b"h2o_casper=*", b"h2o_casper=" + value]))
        == 0
    )


def test_cookieNameAndCapacity() -> None:
    value = digestOf(["/a.js"], 10).cookieValue().encode()
    headers = [b"h2o_casper=" + OTHER.encode(), b"digest=" + value]
    digest = CacheDigest.fromCookieHeaders(
        headers, cookieName=b"digest", capacityBits=10
    )
    assert digest == digestOf(["/a.js"], 10)


@given(
    st.lists(st.binary(max_size=60), max_size=5),
    st.lists(
        st.sampled_from([b"h2o_casper=", b"; ", b";", b"=", b"A", b"gA", b"_-"]),
        max_size=20,
    ),
    capacities,
)
def test_anyHeadersNeverRaise(
    headers: list[bytes], pieces: list[bytes], bits: int
) -> None:
    digest = CacheDigest.fromCookieHeaders(
        [*headers, b"".join(pieces)], capacityBits=bits
    )
    checkBounds(digest, bits)


# Writing the Set-Cookie field.


def test_setCookieHeaderValue() -> None:
    digest = digestOf(["/style.css"])
    assert setCookieHeaderValue(digest) == (
        b"h2o_casper="
        + digest.cookieValue().encode()
        + b"; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax"
    )
    assert DEFAULT_MAX_AGE == 30 * 24 * 3600
    assert DEFAULT_COOKIE_NAME == b"h2o_casper"


def test_setCookieHeaderValueOptions() -> None:
    digest = digestOf(["/a.js"], 10)
    header = setCookieHeaderValue(digest, cookieName=b"my-digest_1", maxAge=0)
    assert header.startswith(b"my-digest_1=" + digest.cookieValue().encode() + b"; ")
    attributes = header.split(b"; ")[1:]
    assert attributes == [
        b"Path=/",
        b"Max-Age=0",
        b"Secure",
        b"HttpOnly",
        b"SameSite=Lax",
    ]
    assert setCookieHeaderValue(CacheDigest()).startswith(b"h2o_casper=; Path=/;")


def test_setCookieRoundTrip() -> None:
    """
    What is written is what is read back from the Cookie field.
    """
    digest = digestOf([f"/a{i}.js" for i in range(100)])
    header = setCookieHeaderValue(digest, cookieName=b"d")
    crumb = header.split(b";")[0]
    assert CacheDigest.fromCookieHeaders([b"x=1; " + crumb]) == CacheDigest()
    assert CacheDigest.fromCookieHeaders([b"x=1; " + crumb], cookieName=b"d") == digest


@pytest.mark.parametrize(
    "name",
    [
        b"",
        b"a b",
        b"a;b",
        b"a=b",
        b"a,b",
        b'a"b',
        b"caf\xc3\xa9",
        b"a\x00",
        b"(a)",
        b"a/b",
    ],
)
def test_setCookieInvalidName(name: bytes) -> None:
    with pytest.raises(ValueError, match="cookie name"):
        setCookieHeaderValue(CacheDigest(), cookieName=name)


@pytest.mark.parametrize("maxAge", [-1, 1.5, "10", None])
def test_setCookieInvalidMaxAge(maxAge: Any) -> None:
    with pytest.raises(ValueError, match="maxAge"):
        setCookieHeaderValue(CacheDigest(), maxAge=maxAge)


# Properties.


@given(st.lists(paths, max_size=60), capacities)
def test_roundTrip(pathList: list[str | bytes], bits: int) -> None:
    """
    Any set of paths encodes as the reference encoding, parses back to the
    same digest, and has no false negatives.
    """
    digest = digestOf(pathList, bits)
    value = digest.cookieValue()
    assert value == referenceEncode(referenceKey(path, bits) for path in pathList)
    parsed = CacheDigest.fromCookieValue(value, bits)
    assert parsed == digest
    assert parsed.cookieValue() == value
    assert all(path in parsed for path in pathList)
    assert len(digest) == len({referenceKey(path, bits) for path in pathList})


@given(st.sets(st.integers(min_value=0, max_value=2**15 - 1), max_size=300), capacities)
def test_decodeAnyKeySet(keys: set[int], bits: int) -> None:
    """
    Any set of keys in range, sparse or dense, decodes from its reference
    encoding; keys out of range end decoding.
    """
    value = referenceEncode(keys)
    parsed = CacheDigest.fromCookieValue(value, bits)
    assert parsed.keys() == tuple(key for key in sorted(keys) if key < 2**bits)
    if all(key < 2**bits for key in keys):
        assert parsed.cookieValue() == value


codeStreams = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 3), st.integers(0, 600)),
        st.integers(0, 63),
    ),
    max_size=80,
).flatmap(
    lambda codes: st.sampled_from(["", "0", "1", "0001", "100", "0000000000"]).map(
        lambda tail: bitsToValue(
            "".join(referenceCode(q * 64 + r) for q, r in codes) + tail
        )
    )
)


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(),
        st.binary(),
        st.text(alphabet=BASE64URL + "+/=", max_size=300),
        codeStreams,
    ),
    capacities,
)
def test_anyValueWithinBounds(value: str | bytes, bits: int) -> None:
    """
    Any text or bytes is read without raising, as the bit-by-bit reference
    reads it, within bounds, and re-encodes to a value that reads the same.
    """
    digest = CacheDigest.fromCookieValue(value, bits)
    checkBounds(digest, bits)
    assert list(digest.keys()) == referenceDecode(value, bits)
    assert CacheDigest.fromCookieValue(digest.cookieValue(), bits) == digest


overLongValues = st.tuples(
    st.text(alphabet=BASE64URL, min_size=1, max_size=60),
    st.integers(min_value=1, max_value=4000),
).map(
    lambda pair: (pair[0] * (MAX_COOKIE_VALUE_LENGTH // len(pair[0]) + 2 + pair[1]))[
        : MAX_COOKIE_VALUE_LENGTH + pair[1]
    ]
)


@settings(max_examples=50)
@given(overLongValues)
def test_overLongValueGivesEmpty(value: str) -> None:
    """
    A value longer than the cap gives an empty digest, whatever it would
    decode to.
    """
    assert len(value) > MAX_COOKIE_VALUE_LENGTH
    assert len(CacheDigest.fromCookieValue(value)) == 0
    assert len(CacheDigest.fromCookieValue(value.encode("ascii"), 15)) == 0


@pytest.mark.parametrize(("bits", "count"), [(10, 50), (13, 100)])
def test_falsePositiveRate(bits: int, count: int) -> None:
    """
    Paths never added are reported present at the rate of occupied slots,
    k / 2 ** bits, within 5 binomial standard deviations (a chance of about
    6e-7 of failing for a correct digest; the seed is fixed anyway).  A wrong
    mask or a key that ignored part of the hash would be far off.
    """
    rng = random.Random(20240611 + bits)
    added = {f"/assets/{rng.getrandbits(64):016x}.js" for _ in range(count)}
    digest = digestOf(added, bits)
    occupied = len(digest)
    # The number of distinct keys itself matches the balls-in-bins expectation.
    slots = 2**bits
    expectedOccupied = slots * (1 - (1 - 1 / slots) ** count)
    assert abs(occupied - expectedOccupied) <= 5

    probes = 20000
    hits = sum(f"/probe/{rng.getrandbits(64):016x}.js" in digest for _ in range(probes))
    rate = occupied / slots
    sigma = math.sqrt(probes * rate * (1 - rate))
    assert abs(hits - probes * rate) <= 5 * sigma, (hits, probes * rate, sigma)
