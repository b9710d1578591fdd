"""
The cache digest cookie, in the format of H2O's C{http2-casper} ("casper").

A L{CacheDigest} is a small probabilistic set of the asset paths a client
has been sent.  It travels in a cookie, so that on a later visit the server
can skip pushing what the client probably has cached.  The format is H2O's,
byte for byte, so a client moving between an H2O front end and a txpush
server keeps a single digest.

Format
======

  - The key of a path is the first 4 bytes of SHA-1 of the path as sent,
    query string included (C{/app.js?v=3}), read as a little-endian
    unsigned 32-bit integer and masked to its low C{capacityBits} bits.
  - The keys are sorted and deduplicated, and each is written as a delta:
    the first key itself, then each key minus the previous one minus one.
    A delta is written in a Golomb-Rice code with 6 fixed remainder bits:
    C{delta >> 6} zero bits, a one bit, then the low 6 bits of the delta,
    most significant bit first.  H2O uses 6 remainder bits whatever the
    capacity.
  - The bits are packed most significant bit first, the last byte padded
    with zero bits, and the bytes written in base64url without C{=}
    padding.  There is no header and no count: a reader stops when the bits
    run out.

Invalid input
=============

A cookie value comes from the client and may be anything.  Reading one
never raises and takes time and memory bounded by L{MAX_COOKIE_VALUE_LENGTH}
and L{MAX_KEYS}: no more than C{7 * MAX_KEYS + 2 ** capacityBits / 64} bits
are decoded, the most that L{MAX_KEYS} keys in range can take.

  - A value that is not base64url text gives an B{empty} digest: one longer
    than L{MAX_COOKIE_VALUE_LENGTH}, with a character outside the alphabet
    (non-ASCII text and bytes included), with C{=} padding, or whose length
    is 1 more than a multiple of 4.  Like H2O, the standard base64
    characters C{+} and C{/} are accepted for C{-} and C{_}.
  - A value that is base64url but not a clean code gives its B{valid
    prefix}: the keys decoded, in order, before the first key that would be
    2 ** capacityBits or more (from a run of zero bits, say), and at most
    L{MAX_KEYS} of them.  Keys are increasing, so every key after the first
    one out of range would be out of range too.  The keys kept are still
    right: a key below the capacity in a digest written with more capacity
    bits is the key, at this capacity, of the path it came from.  An
    incomplete code at the end is the zero padding and is ignored.

H2O ignores the whole cookie when its base64 is invalid, as this module
does.  It differs on the rest: it keeps keys beyond the capacity (no path
can match them, yet they are written back into every later cookie), and it
ignores the whole cookie when it decodes more than 2 ** capacityBits keys.

Cookie header
=============

L{CacheDigest.fromCookieHeaders} reads every crumb of every C{Cookie} field.
H2O 2.2.5 reads the cookie only from a field that holds nothing else (C{a=b;
h2o_casper=...} is ignored, and so is C{h2o_casper=...; a=b}).  When the
cookie appears more than once, the first one wins: user agents send cookies
with longer paths first (RFC 6265, section 5.4), and taking the union, as
H2O does, would let a stale or foreign copy add keys, and so skip pushes the
client needs.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate
from operator import sub

__all__ = [
    "DEFAULT_CAPACITY_BITS",
    "DEFAULT_COOKIE_NAME",
    "DEFAULT_MAX_AGE",
    "MAX_COOKIE_VALUE_LENGTH",
    "MAX_KEYS",
    "CacheDigest",
    "setCookieHeaderValue",
]

DEFAULT_CAPACITY_BITS = 13
"""
The default number of bits of a key, as in H2O: 2 ** 13 slots give about a
1% false-positive rate for 100 assets.
"""

DEFAULT_COOKIE_NAME = b"h2o_casper"
"""
The default name of the cookie, H2O's, so that both servers share the digest.
"""

DEFAULT_MAX_AGE = 30 * 24 * 3600
"""
The default lifetime of the cookie in seconds (30 days), renewed each time
the digest changes.
"""

MAX_COOKIE_VALUE_LENGTH = 4096
"""
The longest cookie value that is decoded; a longer one gives an empty digest.
User agents keep cookies of up to about 4096 bytes, and a digest of
L{MAX_KEYS} keys takes at most 2475 characters at any capacity (a set of 100
keys at 13 bits takes about 130).
"""

MAX_KEYS = 2048
"""
The most keys decoded from a cookie value; the smallest ones are kept.  At
the default capacity a quarter of the slots are then taken, and every fourth
path that was never sent would be taken as cached.
"""

_MAX_CAPACITY_BITS = 15
_REMAINDER_BITS = 6
_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/"
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_STANDARD_TO_URL = bytes.maketrans(b"+/", b"-_")
_TOKEN = (
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)
_OWS = b" \t"

# One code: a run of zero bits, a one bit, 6 remainder bits (the bit string
# holds only "0" and "1").  Every search matches where it starts, an incomplete
# code at the end included, so the scan is linear: a pattern that could fail
# would be retried at each bit of a long run of zeros, in quadratic time.
_CODE = re.compile(r"0*+(?:1.{0,6})?", re.DOTALL)


class _DecodeTable(dict[str, int]):
    """
    Maps a code, as a string of "0" and "1", to its delta plus one.  Codes
    with short quotients are precomputed; others are computed, not stored,
    so that client input cannot grow the table.
    """

    def __missing__(self, code: str) -> int:
        return ((len(code) - 7) << _REMAINDER_BITS) + int(code[-6:], 2) + 1


class _EncodeTable(dict[int, str]):
    """
    Maps a delta plus one to its code, as a string of "0" and "1".
    """

    def __missing__(self, step: int) -> str:
        delta = step - 1
        return "0" * (delta >> _REMAINDER_BITS) + "1" + format(delta & 63, "06b")


_ENCODE = _EncodeTable()
_ENCODE.update((step, _ENCODE.__missing__(step)) for step in range(1, 1025))
_DECODE = _DecodeTable((code, step) for step, code in _ENCODE.items())


def _checkCapacity(capacityBits: int) -> int:
    if type(capacityBits) is not int or not 1 <= capacityBits <= _MAX_CAPACITY_BITS:
        raise ValueError(
            f"capacityBits must be an integer from 1 to {_MAX_CAPACITY_BITS},"
            f" not {capacityBits!r}"
        )
    return capacityBits


# Keys of the same few asset paths are asked for on every request.
@functools.lru_cache(maxsize=8192)
def _key(path: str | bytes, capacityBits: int) -> int:
    if isinstance(path, str):
        # Undecodable bytes escaped as surrogates hash as the bytes they were.
        path = path.encode("utf-8", "surrogateescape")
    digest = hashlib.sha1(path, usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "little") & ((1 << capacityBits) - 1)


def _decodeKeys(value: str | bytes, capacityBits: int) -> list[int]:
    """
    Decode a cookie value into sorted keys, following the policy in the
    module docstring.  Never raises.
    """
    if len(value) > MAX_COOKIE_VALUE_LENGTH:
        return []
    if isinstance(value, str):
        if not value.isascii():
            return []
        value = value.encode("ascii")
    if value.translate(None, _BASE64URL) or len(value) % 4 == 1:
        return []
    try:
        data = binascii.a2b_base64(
            value.translate(_URL_TO_STANDARD) + b"=" * (-len(value) % 4)
        )
    except binascii.Error:
        return []
    if not data:
        return []
    size = len(data) * 8
    # A leading sentinel bit keeps the leading zeros in bin()'s output.
    bits = bin(int.from_bytes(data, "big") | (1 << size))[3:]
    # The codes of MAX_KEYS valid keys cannot run past this many bits: each
    # takes 7 bits, and their quotients add up to less than capacity / 64.
    capacity = 1 << capacityBits
    bits = bits[: 7 * min(MAX_KEYS, capacity) + (capacity >> _REMAINDER_BITS)]
    codes = _CODE.findall(bits)
    # Only the last matches can be incomplete: zero padding, a one bit cut
    # short, the empty match at the end.
    while codes and (len(codes[-1]) < 7 or codes[-1][-7] != "1"):
        codes.pop()
    keys = list(accumulate(map(_DECODE.__getitem__, codes), initial=-1))
    del keys[0]
    del keys[bisect_left(keys, capacity) :]
    del keys[MAX_KEYS:]
    return keys


def _encodeKeys(keys: Iterable[int]) -> str:
    ordered = sorted(keys)
    bits = "".join(map(_ENCODE.__getitem__, map(sub, ordered, [-1, *ordered])))
    padding = -len(bits) % 8
    data = (int(bits or "0", 2) << padding).to_bytes((len(bits) + padding) // 8, "big")
    encoded = binascii.b2a_base64(data, newline=False)
    return encoded.translate(_STANDARD_TO_URL, b"=").decode("ascii")


class CacheDigest:
    """
    A set of asset paths with no false negatives and a small rate of false
    positives, stored in the C{h2o_casper} cookie format.

    A digest is mutable: L{add}, L{discard} and L{merge} change it in place
    and tell whether they did, so that the cookie is sent again only when it
    changed.
    It is therefore not hashable.  Two digests are equal when they have the
    same capacity and the same keys.
    """

    __slots__ = ("_capacityBits", "_keys")

    def __init__(self, capacityBits: int = DEFAULT_CAPACITY_BITS) -> None:
        """
        Create an empty digest.

        @param capacityBits: The number of bits of a key, from 1 to 15; the
            digest has 2 ** capacityBits slots.
        @raise ValueError: If C{capacityBits} is not an integer from 1 to 15.
        """
        self._capacityBits = _checkCapacity(capacityBits)
        self._keys: set[int] = set()

    @classmethod
    def fromCookieValue(
        cls, value: str | bytes, capacityBits: int = DEFAULT_CAPACITY_BITS
    ) -> CacheDigest:
        """
        Read a digest from a cookie value, as sent by the client.

        @param value: The cookie value: base64url text without padding.
        @param capacityBits: The number of bits of a key, from 1 to 15.
        @return: The digest; an empty one or the valid prefix if C{value} is
            invalid, as the module docstring describes.  Never raises for any
            C{value}.
        @raise ValueError: If C{capacityBits} is not an integer from 1 to 15.
        """
        digest = cls(capacityBits)
        digest._keys.update(_decodeKeys(value, capacityBits))
        return digest

    @classmethod
    def fromCookieHeaders(
        cls,
        cookieHeaders: Iterable[bytes] | None,
        cookieName: bytes = DEFAULT_COOKIE_NAME,
        capacityBits: int = DEFAULT_CAPACITY_BITS,
    ) -> CacheDigest:
        """
        Read a digest from the C{Cookie} fields of a request.

        Every crumb (C{name=value} pair) of every field is considered, so the
        cookie is found among other cookies in one field and in any of
        several fields, as HTTP/2 clients may send them.  If the cookie
        appears more than once, the first one wins.  A value in double quotes
        is read without them.

        @param cookieHeaders: The values of the C{Cookie} fields, in order, as
            from C{request.requestHeaders.getRawHeaders(b"cookie")}; L{None}
            when there are none.
        @param cookieName: The name of the cookie.
        @param capacityBits: The number of bits of a key, from 1 to 15.
        @return: The digest: empty when the cookie is absent, or as
            L{fromCookieValue} reads its value.  Never raises for any header
            values.
        @raise ValueError: If C{capacityBits} is not an integer from 1 to 15.
        """
        return cls.fromCookieValue(
            _findCookie(cookieHeaders or (), cookieName), capacityBits
        )

    @property
    def capacityBits(self) -> int:
        """
        The number of bits of a key: the digest has 2 ** capacityBits slots.
        """
        return self._capacityBits

    def add(self, path: str | bytes) -> bool:
        """
        Record that the client was sent C{path}.

        @param path: The path as sent, including any query string.  Text is
            encoded as UTF-8 (with C{surrogateescape}); request paths on the
            wire are ASCII.
        @return: C{True} if the digest changed, C{False} if C{path} (or a path
            with the same key) was already in it.
        """
        size = len(self._keys)
        self._keys.add(_key(path, self._capacityBits))
        return len(self._keys) != size

    def discard(self, path: str | bytes) -> bool:
        """
        Forget that the client was sent C{path}.

        A key stands for every path that hashes to it, so this also forgets
        any other path with the same key: that one may then be pushed again,
        which is the safe side of a digest.

        @param path: The path as sent, including any query string.
        @return: C{True} if the digest changed, C{False} if C{path}'s key was
            not in it.
        """
        size = len(self._keys)
        self._keys.discard(_key(path, self._capacityBits))
        return len(self._keys) != size

    def merge(self, other: CacheDigest) -> bool:
        """
        Add every key of C{other} to this digest.

        @param other: A digest of the same capacity.
        @return: C{True} if this digest changed.
        @raise ValueError: If the capacities differ.
        """
        if other._capacityBits != self._capacityBits:
            raise ValueError(
                f"cannot merge a digest of {other._capacityBits} capacity bits"
                f" into one of {self._capacityBits}"
            )
        size = len(self._keys)
        self._keys |= other._keys
        return len(self._keys) != size

    def keys(self) -> tuple[int, ...]:
        """
        @return: The keys of the digest, sorted; each is less than
            2 ** capacityBits.
        """
        return tuple(sorted(self._keys))

    def cookieValue(self) -> str:
        """
        Encode the digest as a cookie value.

        @return: The base64url value, without padding, byte for byte as H2O
            writes it; the empty string for an empty digest.
        """
        return _encodeKeys(self._keys)

    def __contains__(self, path: str | bytes) -> bool:
        """
        @param path: The path as sent, including any query string.
        @return: C{True} if the client was probably sent C{path}: always for a
            path that was added, and for others with a probability of about
            C{len(self) / 2 ** capacityBits}.
        """
        return _key(path, self._capacityBits) in self._keys

    def __len__(self) -> int:
        """
        @return: The number of distinct keys.
        """
        return len(self._keys)

    def __eq__(self, other: object) -> bool:
        """
        @return: Whether C{other} is a digest with the same capacity and keys.
        """
        if not isinstance(other, CacheDigest):
            return NotImplemented
        return self._capacityBits == other._capacityBits and self._keys == other._keys

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<CacheDigest capacityBits={self._capacityBits} keys={len(self._keys)}>"


def _findCookie(cookieHeaders: Iterable[bytes], cookieName: bytes) -> bytes:
    """
    Find the value of the first crumb named C{cookieName}.

    @return: The value, or C{b""} when there is none.
    """
    for header in cookieHeaders:
        if cookieName not in header:
            continue
        for crumb in header.split(b";"):
            name, equals, value = crumb.partition(b"=")
            if equals and name.strip(_OWS) == cookieName:
                value = value.strip(_OWS)
                if len(value) >= 2 and value[0] == value[-1] == 0x22:
                    value = value[1:-1]
                return value
    return b""


def setCookieHeaderValue(
    digest: CacheDigest,
    cookieName: bytes = DEFAULT_COOKIE_NAME,
    maxAge: int = DEFAULT_MAX_AGE,
) -> bytes:
    """
    Build the C{Set-Cookie} field value that stores C{digest} in the client.

    The value is C{NAME=VALUE; Path=/; Max-Age=N; Secure; HttpOnly;
    SameSite=Lax}.  Unlike H2O's, the cookie is hidden from scripts
    (C{HttpOnly}), not sent on cross-site subrequests (C{SameSite=Lax}), and
    expires a fixed time after the last change rather than on a fixed date.

    @param digest: The digest to store.
    @param cookieName: The name of the cookie: an RFC 7230 token.
    @param maxAge: The lifetime of the cookie in seconds; 0 deletes it.
    @return: The field value.
    @raise ValueError: If C{cookieName} is not a token or C{maxAge} is not a
        non-negative integer.
    """
    if not cookieName or cookieName.translate(None, _TOKEN):
        raise ValueError(f"cookie name must be a token, not {cookieName!r}")
    if type(maxAge) is not int or maxAge < 0:
        raise ValueError(f"maxAge must be a non-negative integer, not {maxAge!r}")
    value = digest.cookieValue().encode("ascii")
    return b"%s=%s; Path=/; Max-Age=%d; Secure; HttpOnly; SameSite=Lax" % (
        cookieName,
        value,
        maxAge,
    )
