"""
The pure rules of a pushed request: targets, methods, headers, and the
promised request's header block.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.errors import (
    InvalidPushHeaderError,
    InvalidPushMethodError,
    InvalidPushTargetError,
    PushError,
)
from txpush.pushrequest import (
    COPIED_REQUEST_HEADERS,
    REFUSED_HEADERS,
    promisedRequestHeaders,
    pushHeaders,
    pushMethod,
    pushPath,
)

HTTPS = b"https"
AUTHORITY = b"example.com:8443"


@pytest.mark.parametrize(
    ("target", "path"),
    [
        (b"/app.js", b"/app.js"),
        ("/app.js?v=3", b"/app.js?v=3"),
        (b"/", b"/"),
        (b"/a/b/c.css#frag", b"/a/b/c.css"),
        (b"https://example.com:8443/app.js", b"/app.js"),
        (b"HTTPS://EXAMPLE.com:8443/x?y", b"/x?y"),
        (b"https://example.com:8443", b"/"),
        (b"https://example.com:8443?q", b"?q"),
    ],
)
def test_acceptedTargets(target, path):
    """
    Absolute paths, and absolute URLs of the page's origin (scheme and host
    compared without case), give the :path to promise.
    """
    if path.startswith(b"?"):
        with pytest.raises(InvalidPushTargetError):
            pushPath(target, HTTPS, AUTHORITY)
    else:
        assert pushPath(target, HTTPS, AUTHORITY) == path


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (b"app.js", "not an absolute path"),
        (b"", "not an absolute path"),
        (b"./app.js", "not an absolute path"),
        (b"//example.com:8443/app.js", "scheme-relative"),
        (b"http://example.com:8443/app.js", "scheme"),
        (b"https://example.com/app.js", "authority"),
        (b"https://other.example:8443/app.js", "authority"),
        (b"/files/../secret", "outside the site"),
        (b"/%2e%2e/secret", "outside the site"),
        (b"/a%5csecret", "outside the site"),
        (b"/a b", "spaces"),
        (b"/a\tb", "spaces"),
        (b"/a\x7f", "spaces"),
        ("/\u00e9", "not ASCII"),
        (None, "bytes or str"),
    ],
)
def test_refusedTargets(target, reason):
    """
    Each refused target raises InvalidPushTargetError saying why.
    """
    with pytest.raises(InvalidPushTargetError, match=reason):
        pushPath(target, HTTPS, AUTHORITY)


@given(st.binary(max_size=64))
def test_anyTargetIsAPathOrRefused(target):
    """
    Whatever the target, the result is an absolute path without fragment,
    in visible ASCII, or a typed refusal.
    """
    try:
        path = pushPath(target, HTTPS, AUTHORITY)
    except InvalidPushTargetError:
        return
    assert path.startswith(b"/") and not path.startswith(b"//")
    assert b"#" not in path
    assert all(0x21 <= byte <= 0x7E for byte in path)


@pytest.mark.parametrize(("method", "expected"), [(b"GET", b"GET"), ("head", b"HEAD")])
def test_pushableMethods(method, expected):
    """
    GET and HEAD, in any case, as bytes or str.
    """
    assert pushMethod(method) == expected


@pytest.mark.parametrize(
    "method", [b"POST", b"PUT", b"PATCH", b"DELETE", "CONNECT", b"", 1]
)
def test_unpushableMethods(method):
    """
    Any other method raises InvalidPushMethodError, which is a ValueError and
    a PushError.
    """
    with pytest.raises(InvalidPushMethodError) as info:
        pushMethod(method)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, PushError)


def test_headersFromMappingOrPairs():
    """
    Headers come as a mapping or as pairs, names are lower-cased, str values
    are UTF-8 encoded, surrounding blanks are dropped, order is kept.
    """
    expected = [(b"x-a", b"1"), (b"accept", b"text/css"), (b"x-u", "\u00e9".encode())]
    assert (
        pushHeaders({"X-A": "1", b"Accept": b" text/css ", "x-u": "\u00e9"}) == expected
    )
    assert (
        pushHeaders([("X-A", "1"), (b"Accept", b"text/css"), ("x-u", "\u00e9")])
        == expected
    )
    assert pushHeaders(None) == []


@pytest.mark.parametrize("name", [*sorted(REFUSED_HEADERS), b":path", b":authority"])
def test_refusedHeaderNames(name):
    """
    Pseudo-headers and the refused headers, in any case.
    """
    for spelling in (name, name.upper(), name.decode()):
        with pytest.raises(InvalidPushHeaderError, match=r"pseudo-header|may not"):
            pushHeaders([(spelling, b"x")])


@given(st.binary(min_size=1, max_size=20), st.binary(max_size=20))
def test_anyHeaderIsCleanOrRefused(name, value):
    """
    Whatever the header, it is refused or comes out as a token name and a
    value without CR, LF or NUL.
    """
    try:
        [(checkedName, checkedValue)] = pushHeaders([(name, value)])
    except InvalidPushHeaderError:
        return
    assert checkedName == name.lower()
    assert checkedName not in REFUSED_HEADERS and not checkedName.startswith(b":")
    assert not set(checkedValue) & {0, 10, 13}


def test_promisedRequestHeaders():
    """
    Pseudo-headers first, then the copied page headers, then the caller's,
    which replace copied ones of the same name; nothing else is copied.
    """
    page = [
        (b"user-agent", b"ua"),
        (b"cookie", b"secret"),
        (b"accept-language", b"en"),
        (b"authorization", b"secret"),
        (b"accept-encoding", b"gzip"),
    ]
    block = promisedRequestHeaders(
        b"GET",
        HTTPS,
        AUTHORITY,
        b"/a.js",
        page,
        [(b"accept-language", b"fr"), (b"x", b"1")],
    )
    assert block == [
        (b":method", b"GET"),
        (b":scheme", HTTPS),
        (b":authority", AUTHORITY),
        (b":path", b"/a.js"),
        (b"user-agent", b"ua"),
        (b"accept-encoding", b"gzip"),
        (b"accept-language", b"fr"),
        (b"x", b"1"),
    ]
    assert set(COPIED_REQUEST_HEADERS) == {
        b"user-agent",
        b"accept-encoding",
        b"accept-language",
        b"cache-control",
    }
