"""
The rules for a pushed request, as pure functions over bytes.

Given what the application asked to push and the page request it answers,
these decide whether the push is allowed and build the header block of the
promised request.  They follow Go's C{http.Pusher} and RFC 9113, section 8.4.
Nothing here touches the network: the Twisted glue calls them before it sends
a C{PUSH_PROMISE}.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Union

from txpush.assets import outsideProblem
from txpush.errors import (
    InvalidPushHeaderError,
    InvalidPushMethodError,
    InvalidPushTargetError,
)

HeaderName = Union[bytes, str]
"""A header name, as bytes or ASCII text."""

HeaderValue = Union[bytes, str]
"""A header value, as bytes or text (encoded as UTF-8)."""

PushHeaders = Union[
    Mapping[HeaderName, HeaderValue], Iterable[tuple[HeaderName, HeaderValue]]
]
"""Extra headers for a pushed request: a mapping or C{(name, value)} pairs."""

PUSHABLE_METHODS = frozenset({b"GET", b"HEAD"})
"""The methods a server may push: safe and cacheable ones."""

COPIED_REQUEST_HEADERS = (
    b"user-agent",
    b"accept-encoding",
    b"accept-language",
    b"cache-control",
)
"""
Headers of the page request that the pushed request inherits, so that the
pushed response is the one the client would have got (same encoding, same
language).  Cookies and credentials are deliberately absent.
"""

# The last five are connection-specific, forbidden in HTTP/2 (RFC 9113 8.2.2).
REFUSED_HEADERS = frozenset(
    {
        b"content-length",
        b"content-encoding",
        b"trailer",
        b"te",
        b"expect",
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    }
)
"""Headers a promised request may not carry, besides pseudo-headers."""

# RFC 9110 token characters, for header names (already lower case).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+\Z")
# A URL scheme (RFC 3986 section 3.1) followed by "://".
_ABSOLUTE_URL = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)(.*)\Z", re.S)
# What may appear in a request target: visible ASCII, no space.
_TARGET_CHARACTERS = re.compile(rb"[\x21-\x7e]*\Z")


def _asBytes(value: Union[bytes, str], what: str, error: type[Exception]) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("ascii")
        except UnicodeEncodeError:
            raise error(
                f"{what} {value!r} is not ASCII: percent-encode it first"
            ) from None
    raise error(f"{what} must be bytes or str, not {type(value).__name__}")


def pushMethod(method: Union[bytes, str]) -> bytes:
    """
    Check the method of a pushed request.

    @param method: The method, in any case.
    @return: The method in upper case, as bytes.
    @raise InvalidPushMethodError: It is not GET or HEAD.
    """
    normalized = _asBytes(method, "push method", InvalidPushMethodError).upper()
    if normalized not in PUSHABLE_METHODS:
        raise InvalidPushMethodError(
            f"cannot push a {method!r} request: only GET and HEAD can be pushed"
        )
    return normalized


def pushPath(target: Union[bytes, str], scheme: bytes, authority: bytes) -> bytes:
    """
    Turn a push target into the C{:path} of the promised request.

    @param target: An absolute path (C{/app.js?v=2}), or an absolute URL
        whose scheme and authority are the page's.  A fragment is dropped, as
        a client never sends one.
    @param scheme: The page request's scheme (C{b"https"} or C{b"http"}).
    @param authority: The page request's authority (C{b"example.com:8443"}).
    @return: The path, with its query if any.
    @raise InvalidPushTargetError: The target is empty, relative,
        scheme-relative (C{//host/x}), of another scheme or authority, or
        holds spaces, control or non-ASCII characters.
    """
    raw = _asBytes(target, "push target", InvalidPushTargetError)
    if not _TARGET_CHARACTERS.match(raw):
        raise InvalidPushTargetError(
            f"push target {raw!r} holds spaces, control or non-ASCII "
            "characters: percent-encode them"
        )
    path = raw
    url = _ABSOLUTE_URL.match(raw)
    if url is not None:
        targetScheme, targetAuthority, path = url.groups()
        if targetScheme.lower() != scheme.lower():
            raise InvalidPushTargetError(
                f"push target {raw!r} has scheme {targetScheme!r} but the page "
                f"was requested with {scheme!r}: a server may only push its own "
                "origin"
            )
        if targetAuthority.lower() != authority.lower():
            raise InvalidPushTargetError(
                f"push target {raw!r} names authority {targetAuthority!r} but "
                f"the page came for {authority!r}: a server may only push its "
                "own origin"
            )
        if not path:
            path = b"/"
    if path.startswith(b"//"):
        raise InvalidPushTargetError(
            f"push target {raw!r} is scheme-relative (it names another host): "
            "give an absolute path such as /app.js"
        )
    if not path.startswith(b"/"):
        raise InvalidPushTargetError(
            f"push target {raw!r} is not an absolute path: give one starting "
            "with /, or an absolute URL of the page's own origin"
        )
    path = path.split(b"#", 1)[0]
    problem = outsideProblem(path)
    if problem is not None:
        raise InvalidPushTargetError(f"push target {raw!r} {problem}")
    return path


def _headerValue(name: bytes, value: HeaderValue) -> bytes:
    if isinstance(value, str):
        encoded = value.encode("utf-8")
    elif isinstance(value, bytes):
        encoded = value
    else:
        raise InvalidPushHeaderError(
            f"value of push header {name!r} must be bytes or str, not "
            f"{type(value).__name__}"
        )
    if b"\r" in encoded or b"\n" in encoded or b"\x00" in encoded:
        raise InvalidPushHeaderError(
            f"value of push header {name!r} holds CR, LF or NUL"
        )
    return encoded.strip(b" \t")


def pushHeaders(headers: PushHeaders | None) -> list[tuple[bytes, bytes]]:
    """
    Check and normalize the extra headers the caller gives a pushed request.

    @param headers: A mapping or C{(name, value)} pairs, or L{None}.
    @return: C{(name, value)} pairs with lower-case byte names, in order.
    @raise InvalidPushHeaderError: A name is a pseudo-header, one of
        L{REFUSED_HEADERS}, or not a token; a value holds CR, LF or NUL.
    """
    if headers is None:
        return []
    try:
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    except TypeError:
        raise InvalidPushHeaderError(
            "push headers must be a mapping or (name, value) pairs, not "
            f"{type(headers).__name__}"
        ) from None
    checked = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidPushHeaderError(
                f"push header {pair!r} is not a (name, value) pair"
            )
        name, value = pair
        rawName = _asBytes(name, "push header name", InvalidPushHeaderError).lower()
        if rawName.startswith(b":"):
            raise InvalidPushHeaderError(
                f"push header {rawName!r} is a pseudo-header: the pushed "
                "request's pseudo-headers come from the target and the page"
            )
        if rawName in REFUSED_HEADERS:
            raise InvalidPushHeaderError(
                f"push header {rawName!r} may not be sent on a promised request "
                "(RFC 9113 section 8.4): leave it out"
            )
        if not _TOKEN.match(rawName):
            raise InvalidPushHeaderError(
                f"push header name {rawName!r} is not a valid header name"
            )
        checked.append((rawName, _headerValue(rawName, value)))
    return checked


def promisedRequestHeaders(
    method: bytes,
    scheme: bytes,
    authority: bytes,
    path: bytes,
    pageHeaders: Iterable[tuple[bytes, bytes]],
    extraHeaders: Iterable[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """
    Build the header block of a promised request.

    @param method: From L{pushMethod}.
    @param scheme: The page request's scheme.
    @param authority: The page request's authority.
    @param path: From L{pushPath}.
    @param pageHeaders: The page request's headers, C{(name, value)} pairs
        with lower-case names; only L{COPIED_REQUEST_HEADERS} are used.
    @param extraHeaders: From L{pushHeaders}; they replace copied headers of
        the same name.
    @return: The pseudo-headers, then the copied headers, then the extra ones.
    """
    extra = list(extraHeaders)
    overridden = {name for name, _ in extra}
    block = [
        (b":method", method),
        (b":scheme", scheme),
        (b":authority", authority),
        (b":path", path),
    ]
    block.extend(
        (name, value)
        for name, value in pageHeaders
        if name in COPIED_REQUEST_HEADERS and name not in overridden
    )
    block.extend(extra)
    return block
