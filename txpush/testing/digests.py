"""
Helpers for tests of cache digests: writing bit patterns as cookie values,
and reading the digest cookie a response set.
"""

from __future__ import annotations

import base64

from txpush.digest import DEFAULT_COOKIE_NAME, CacheDigest
from txpush.testing.h2client import Stream


def bitsToValue(bits: str) -> str:
    """
    Pack a string of C{"0"} and C{"1"}, most significant bit first, zero
    padded to whole bytes, into an unpadded base64url cookie value.

    @param bits: The bits.
    @return: The value.
    """
    bits += "0" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def digestCookies(stream: Stream, name: bytes = DEFAULT_COOKIE_NAME) -> list[bytes]:
    """
    The digest cookies a response set, as the C{NAME=VALUE} a client sends
    back.

    @param stream: The response's stream.
    @param name: The digest cookie's name.
    @return: One for each Set-Cookie header of that cookie, in order.
    """
    return [
        value.split(b";", 1)[0]
        for key, value in stream.headers or []
        if key == b"set-cookie" and value.startswith(name + b"=")
    ]


def digestCookie(stream: Stream, name: bytes = DEFAULT_COOKIE_NAME) -> bytes | None:
    """
    The first digest cookie a response set, as the C{NAME=VALUE} a client
    sends back.

    @param stream: The response's stream.
    @param name: The digest cookie's name.
    @return: The cookie, or L{None} when the response set none.
    """
    cookies = digestCookies(stream, name)
    return cookies[0] if cookies else None


def cookieDigest(
    stream: Stream, name: bytes = DEFAULT_COOKIE_NAME
) -> CacheDigest | None:
    """
    The digest in the first digest cookie a response set.

    @param stream: The response's stream.
    @param name: The digest cookie's name.
    @return: The digest, or L{None} when the response set no digest cookie.
    """
    cookie = digestCookie(stream, name)
    if cookie is None:
        return None
    return CacheDigest.fromCookieValue(cookie.split(b"=", 1)[1])
