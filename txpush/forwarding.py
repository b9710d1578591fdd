"""
What a reverse proxy forwards, as plain values: the request headers it sends
a backend (RFC 9110 7.6: hop-by-hop fields removed, C{X-Forwarded-*} and
C{Via} set), the response headers it relays, and the requests it refuses.

Pure: no Twisted; L{txpush.proxy} carries the decisions out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

import attrs

Header = tuple[bytes, bytes]
"""A header field: its name, lower-case, and its value."""

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
"""Fields that concern one connection only (RFC 9110 7.6.1), and the
C{Proxy-*} ones: never forwarded, either way."""

FORWARDED_FIELDS = frozenset(
    {b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded"}
)
"""The fields that say who the client is: replaced unless the client is a
trusted proxy."""

FRAMING = frozenset({b"content-length", b"host"})
"""Fields set anew on the forwarded request: the body's length (from the
body sent), and the host."""

CHAINED = frozenset({b"via", b"x-forwarded-for"})
"""Fields each hop extends: forwarded as one field, the hop's own last."""

VIA_NAME = b"txpush"
"""The pseudonym txpush gives itself in C{Via}."""

HOST_MODES = ("pass", "backend")
"""How the forwarded request's C{Host} is chosen: the client's, or the
backend's own authority."""


@attrs.frozen
class ForwardingConfig:
    """
    How requests are forwarded.

    @ivar hostMode: C{"pass"}: the backend gets the client's C{Host}; or
        C{"backend"}: the backend's own host and port.
    @ivar trustedProxies: The networks whose C{X-Forwarded-*} fields are
        kept and extended (a load balancer in front); every other client's
        are replaced.
    """

    hostMode: str = attrs.field(
        default="pass", validator=attrs.validators.in_(HOST_MODES)
    )
    trustedProxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def trusts(self, address: str | None) -> bool:
        """
        @param address: The client's IP address, if it has one.
        @return: Whether it is one of L{trustedProxies}.
        """
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trustedProxies)


def parseTrustedProxy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """
    @param value: An IP address or a network, such as C{10.0.0.0/8}.
    @return: The network.
    @raise ValueError: It is neither.
    """
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an IP address or network: give one such as "
            "127.0.0.1 or 10.0.0.0/8"
        ) from None


@attrs.frozen
class ClientRequest:
    """
    What the proxy knows of a client's request.

    @ivar method: The method.
    @ivar headers: Its header fields, names lower-case, in order.
    @ivar clientAddress: The client's IP address, if it has one.
    @ivar secure: Whether it came over TLS.
    @ivar host: The authority it asked for (C{Host} or C{:authority}).
    @ivar protocol: C{b"HTTP/1.1"}, C{b"HTTP/2"}...: for C{Via}.
    @ivar target: The request-target, C{/path?query}.
    """

    method: bytes
    headers: tuple[Header, ...]
    clientAddress: str | None
    secure: bool
    host: bytes | None
    protocol: bytes = b"HTTP/1.1"
    target: bytes = b"/"


def refusal(request: ClientRequest) -> tuple[int, bytes] | None:
    """
    Whether a request is one the proxy does not forward, and its answer.

    Protocol upgrades (WebSocket, h2c) are refused with C{501}: the
    backend's C{101} could not be relayed.  The request framings that
    smuggle a second request past a front (RFC 9112 6.3, 11.2) never reach
    here over HTTP/1.1, as Twisted answers them C{400}; the proxy refuses any
    that another server might, and forwards no length but its own.

    @param request: The request.
    A request-target other than an absolute path (origin-form) is refused
    with C{400}: it is appended to the backend's URL.

    @return: C{(status, body)} to answer, or L{None} to forward it.
    """
    if not request.target.startswith(b"/"):
        # Appended to the backend's URL, anything else could name another
        # port or host (RFC 9112 3.2: origin-form is what a server takes).
        return 400, b"the request-target must be an absolute path\n"
    names = [name for name, _ in request.headers]
    if b"upgrade" in names:
        return 501, b"txpush does not forward protocol upgrades (such as WebSocket)\n"
    if request.method == b"CONNECT":
        return 501, b"txpush does not forward CONNECT\n"
    lengths = {
        value.strip() for name, value in request.headers if name == b"content-length"
    }
    if b"transfer-encoding" in names and lengths:
        return 400, b"both Content-Length and Transfer-Encoding\n"
    if len(lengths) > 1 or any(not v.isdigit() for v in lengths):
        return 400, b"conflicting or invalid Content-Length\n"
    if any(b"\r" in v or b"\n" in v for _, v in request.headers):
        return 400, b"a header value holds a line break\n"
    return None


def _connectionTokens(headers: Iterable[Header]) -> set[bytes]:
    # The fields a Connection header names are hop-by-hop too (RFC 9110 7.6.1).
    return {
        token.strip().lower()
        for name, value in headers
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def _endToEnd(headers: Sequence[Header]) -> list[Header]:
    dropped = HOP_BY_HOP | _connectionTokens(headers)
    return [(name, value) for name, value in headers if name not in dropped]


def forwardedRequestHeaders(
    request: ClientRequest,
    config: ForwardingConfig,
    backendAuthority: bytes,
) -> list[Header]:
    """
    The header fields of the request forwarded to the backend.

    @param request: The client's request.
    @param config: How to forward.
    @param backendAuthority: The backend's C{host:port}.
    @return: Its fields, names lower-case, C{Host} first; without a
        C{Content-Length}, which the HTTP client sets from the body it
        sends.
    """
    trusted = config.trusts(request.clientAddress)
    kept = [
        (name, value)
        for name, value in _endToEnd(request.headers)
        if name not in FRAMING and (trusted or name not in FORWARDED_FIELDS)
    ]
    host = request.host if config.hostMode == "pass" and request.host else None
    headers: list[Header] = [(b"host", host or backendAuthority)]
    headers += [h for h in kept if h[0] not in CHAINED]
    # Only a trusted proxy's earlier clients are kept: this one follows.
    client = (request.clientAddress or "unknown").encode("ascii", "replace")
    earlier = [value for name, value in kept if name == b"x-forwarded-for"]
    headers.append((b"x-forwarded-for", b", ".join([*earlier, client])))
    if not any(n == b"x-forwarded-proto" for n, _ in headers):
        headers.append((b"x-forwarded-proto", b"https" if request.secure else b"http"))
    if request.host and not any(n == b"x-forwarded-host" for n, _ in headers):
        headers.append((b"x-forwarded-host", request.host))
    headers.append((b"via", _via(request.protocol, kept)))
    return headers


def _via(protocol: bytes, kept: Sequence[Header]) -> bytes:
    version = protocol.split(b"/", 1)[-1] or b"1.1"
    earlier = [value for name, value in kept if name == b"via"]
    return b", ".join([*earlier, version + b" " + VIA_NAME])


def relayedResponseHeaders(headers: Sequence[Header], protocol: bytes) -> list[Header]:
    """
    The header fields of the backend's response that the client gets: all
    but the hop-by-hop ones (its length and coding pass as they are), with
    txpush added to C{Via}.

    @param headers: The backend's fields, names lower-case.
    @param protocol: The backend response's protocol, C{b"HTTP/1.1"}.
    @return: The fields to relay.
    """
    kept = _endToEnd(headers)
    via = _via(protocol, kept)
    return [h for h in kept if h[0] != b"via"] + [(b"via", via)]


def informationalLinks(headers: Sequence[Header]) -> list[bytes]:
    """
    @param headers: The fields of a backend's C{103 Early Hints}.
    @return: Its C{Link} values, to relay as the request's one C{103}.
    """
    return [value for name, value in headers if name == b"link"]
