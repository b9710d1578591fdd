"""
The checks the digest and Link fuzzer (bench/fuzz_digest.py) runs on each
input, and tests/test_fuzz.py runs on its corpus: every parser of what
clients and backends send, and the bounds they document.

Each input drives every parser, so that one corpus serves them all:

  - byte 0 picks the capacity (1 to 15 bits), byte 1 the C{maxLinks} given
    to the Link parser (0 to 79, past the default of 64);
  - the rest, the payload, is read as a cookie value (as bytes, and as text
    decoded as Latin-1, which holds any byte), as C{Cookie} fields (split
    at newlines) and as C{Link} field values (split at newlines).

The parsers are imported inside the checks, not here, so that the fuzzer
can import them under its instrumentation after importing this module.
"""

from __future__ import annotations

import re

SCHEME = b"https"
AUTHORITY = b"example.com:8443"
COOKIE_NAME = b"h2o_casper"
BASE64URL = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/"
)
MAX_ENCODED_LENGTH = 2475
"""The longest cookie value a digest is encoded to (docs/digest.md)."""


def splitInput(data: bytes) -> tuple[int, int, bytes]:
    """
    Cut a fuzzer input into the capacity bits, the Link parser's
    C{maxLinks} and the payload.

    @param data: The input.
    @return: The capacity in bits, C{maxLinks} and the payload.
    """
    capacityBits = 1 + (data[0] % 15 if data else 12)
    maxLinks = data[1] % 80 if len(data) > 1 else 64
    return capacityBits, maxLinks, data[2:]


def checkInput(data: bytes) -> None:
    """
    Run one input through every parser and check the documented bounds.

    @param data: The input (see L{splitInput}).

    @raise AssertionError: A bound does not hold.
    @raise Exception: A parser raised, which it never may.
    """
    capacityBits, maxLinks, payload = splitInput(data)
    checkCookieValue(payload, capacityBits)
    checkCookieHeaders(payload.split(b"\n"), capacityBits)
    checkLinks(payload.split(b"\n"), maxLinks)


def checkDigest(digest: object, capacityBits: int) -> None:
    """
    Check a parsed digest: a L{CacheDigest} of at most C{MAX_KEYS} sorted,
    distinct keys below the capacity, whose encoding is within bounds and
    reads back the same.

    @param digest: What a parser returned.
    @param capacityBits: The capacity it was given.
    """
    from txpush.digest import MAX_KEYS, CacheDigest

    assert isinstance(digest, CacheDigest)
    keys = digest.keys()
    assert len(keys) == len(digest) <= MAX_KEYS
    assert all(0 <= key < 2**capacityBits for key in keys)
    assert list(keys) == sorted(set(keys))
    encoded = digest.cookieValue()
    assert len(encoded) <= MAX_ENCODED_LENGTH
    assert CacheDigest.fromCookieValue(encoded, capacityBits) == digest


def checkCookieValue(payload: bytes, capacityBits: int) -> None:
    """
    Read C{payload} as a cookie value, as bytes and as Latin-1 text; check
    the digests, and that overlong or non-base64url values read as empty.

    @param payload: The value.
    @param capacityBits: The capacity to read it with.
    """
    from txpush.digest import MAX_COOKIE_VALUE_LENGTH, CacheDigest

    digest = CacheDigest.fromCookieValue(payload, capacityBits)
    checkDigest(digest, capacityBits)
    notBase64 = any(byte not in BASE64URL for byte in payload) or len(payload) % 4 == 1
    if len(payload) > MAX_COOKIE_VALUE_LENGTH or notBase64:
        assert len(digest) == 0
    text = payload.decode("latin-1")
    fromText = CacheDigest.fromCookieValue(text, capacityBits)
    checkDigest(fromText, capacityBits)
    assert fromText == (digest if text.isascii() else CacheDigest(capacityBits))


def checkCookieHeaders(fields: list[bytes], capacityBits: int) -> None:
    """
    Read C{fields} as Cookie fields; check the digest, and that it is empty
    when no field names the digest cookie.

    @param fields: The field values.
    @param capacityBits: The capacity to read them with.
    """
    from txpush.digest import CacheDigest

    digest = CacheDigest.fromCookieHeaders(fields, COOKIE_NAME, capacityBits)
    checkDigest(digest, capacityBits)
    if not any(COOKIE_NAME in field for field in fields):
        assert len(digest) == 0


def checkLinks(fields: list[bytes], maxLinks: int) -> None:
    """
    Parse C{fields} as Link field values; check that there are at most
    C{maxLinks} distinct links, each to a safe path found within the first
    C{MAX_LINK_HEADER_BYTES} bytes, and that each formats and parses back
    to itself.

    @param fields: The field values.
    @param maxLinks: The parser's limit.
    """
    from txpush.assets import asTypeProblem, pathProblem
    from txpush.linkheader import (
        MAX_LINK_HEADER_BYTES,
        formatPreloadLink,
        parsePreloadLinks,
    )

    links = parsePreloadLinks(fields, SCHEME, AUTHORITY, maxLinks)
    assert len(links) <= max(0, maxLinks)
    paths = [link.asset.path for link in links]
    assert len(set(paths)) == len(paths)
    read = b""
    for field in fields:
        if len(read) + len(field) > MAX_LINK_HEADER_BYTES:
            break
        read += field + b"\n"
    for link in links:
        path = link.asset.path
        assert pathProblem(path) is None, path
        assert asTypeProblem(link.asset.asType) is None
        assert re.fullmatch(rb"/[\x21-\x7e]*", path), path
        assert path in read, path
        again = parsePreloadLinks(
            [formatPreloadLink(link.asset, link.nopush)], SCHEME, AUTHORITY
        )
        assert again == [link], (link, again)
