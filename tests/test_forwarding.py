"""
L{txpush.forwarding}: the pure rules of what the reverse proxy forwards,
relays and refuses (RFC 9110 7.6), with examples and hypothesis
properties.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.forwarding import (
    FORWARDED_FIELDS,
    HOP_BY_HOP,
    VIA_NAME,
    ClientRequest,
    ForwardingConfig,
    Header,
    forwardedRequestHeaders,
    informationalLinks,
    parseTrustedProxy,
    refusal,
    relayedResponseHeaders,
)

BACKEND = b"127.0.0.1:8000"

SET_BY_TXPUSH = frozenset(
    {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"via"}
)
"""The fields the forwarded request gets from txpush, whatever came."""


def request(
    *headers: Header,
    method: bytes = b"GET",
    client: str | None = "192.0.2.10",
    secure: bool = False,
    host: bytes | None = b"www.example",
    protocol: bytes = b"HTTP/1.1",
) -> ClientRequest:
    """A client's request with these fields."""
    return ClientRequest(
        method=method,
        headers=tuple(headers),
        clientAddress=client,
        secure=secure,
        host=host,
        protocol=protocol,
    )


def forwarded(
    clientRequest: ClientRequest, config: ForwardingConfig | None = None
) -> list[Header]:
    """The fields of the request forwarded to L{BACKEND}."""
    return forwardedRequestHeaders(clientRequest, config or ForwardingConfig(), BACKEND)


def valuesOf(headers: list[Header], name: bytes) -> list[bytes]:
    """Every value of a field, in order."""
    return [value for key, value in headers if key == name]


def names(headers: list[Header]) -> set[bytes]:
    """The names of the fields."""
    return {name for name, _ in headers}


TRUSTING = ForwardingConfig(trustedProxies=(parseTrustedProxy("192.0.2.0/24"),))


# Hop-by-hop fields.


@pytest.mark.parametrize("name", sorted(HOP_BY_HOP))
def test_hopByHopFieldDropped(name):
    """Each hop-by-hop field (and each Proxy-* one) is not forwarded."""
    headers = forwarded(request((name, b"anything"), (b"x-kept", b"1")))
    assert name not in names(headers)
    assert valuesOf(headers, b"x-kept") == [b"1"]


def test_fieldsNamedByConnectionDropped():
    """
    The fields a Connection header names are dropped, whatever the case
    and spacing of its tokens, from each of its fields.
    """
    headers = forwarded(
        request(
            (b"connection", b"X-Foo ,  KEEP-alive,,x-BAR"),
            (b"connection", b"x-third"),
            (b"x-foo", b"1"),
            (b"x-bar", b"2"),
            (b"x-third", b"3"),
            (b"x-fooo", b"kept"),
        )
    )
    assert not names(headers) & {b"connection", b"x-foo", b"x-bar", b"x-third"}
    assert valuesOf(headers, b"x-fooo") == [b"kept"]


def test_connectionNamingForwardedFieldsFromATrustedProxy():
    """
    A trusted proxy's X-Forwarded-For that its Connection header names is
    hop-by-hop: not extended, replaced.
    """
    headers = forwarded(
        request(
            (b"connection", b"X-Forwarded-For"),
            (b"x-forwarded-for", b"203.0.113.1"),
        ),
        TRUSTING,
    )
    assert valuesOf(headers, b"x-forwarded-for") == [b"192.0.2.10"]


def test_endToEndFieldsKeptInOrder():
    """The other fields pass, in order, repeated ones too."""
    headers = forwarded(
        request(
            (b"accept", b"text/html"),
            (b"cookie", b"a=1"),
            (b"cookie", b"b=2"),
            (b"user-agent", b"test"),
        )
    )
    assert [h for h in headers if h[0] in (b"accept", b"cookie", b"user-agent")] == [
        (b"accept", b"text/html"),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
        (b"user-agent", b"test"),
    ]


def test_contentLengthNotForwarded():
    """The client's Content-Length is not forwarded: the body's is sent."""
    headers = forwarded(request((b"content-length", b"5"), method=b"POST"))
    assert b"content-length" not in names(headers)


# X-Forwarded-* from a client that is not trusted: replaced.


def test_forwardedFieldsReplaced():
    """
    A client's X-Forwarded-For, -Proto, -Host and Forwarded are not
    forwarded: txpush's own say who the client is.
    """
    headers = forwarded(
        request(
            (b"x-forwarded-for", b"203.0.113.66"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-host", b"evil.example"),
            (b"forwarded", b"for=203.0.113.66"),
        )
    )
    assert valuesOf(headers, b"x-forwarded-for") == [b"192.0.2.10"]
    assert valuesOf(headers, b"x-forwarded-proto") == [b"http"]
    assert valuesOf(headers, b"x-forwarded-host") == [b"www.example"]
    assert valuesOf(headers, b"forwarded") == []


@pytest.mark.parametrize(("secure", "proto"), [(False, b"http"), (True, b"https")])
def test_forwardedProto(secure, proto):
    """X-Forwarded-Proto says whether the client came over TLS."""
    headers = forwarded(request(secure=secure))
    assert valuesOf(headers, b"x-forwarded-proto") == [proto]


def test_clientWithoutAnAddress():
    """A client with no IP address (a UNIX socket) is "unknown"."""
    headers = forwarded(request(client=None))
    assert valuesOf(headers, b"x-forwarded-for") == [b"unknown"]


def test_noHostNoForwardedHost():
    """A request without a Host gets no X-Forwarded-Host."""
    headers = forwarded(request(host=None))
    assert valuesOf(headers, b"x-forwarded-host") == []


# From a trusted proxy: kept and extended.


def test_trustedProxyExtended():
    """
    A trusted proxy's X-Forwarded-For is extended with its address (its
    fields joined, in order); its -Proto, -Host and Forwarded are kept.
    """
    headers = forwarded(
        request(
            (b"x-forwarded-for", b"203.0.113.1, 198.51.100.2"),
            (b"x-forwarded-for", b"198.51.100.3"),
            (b"x-forwarded-proto", b"https"),
            (b"x-forwarded-host", b"shop.example"),
            (b"forwarded", b"for=203.0.113.1"),
        ),
        TRUSTING,
    )
    assert valuesOf(headers, b"x-forwarded-for") == [
        b"203.0.113.1, 198.51.100.2, 198.51.100.3, 192.0.2.10"
    ]
    assert valuesOf(headers, b"x-forwarded-proto") == [b"https"]
    assert valuesOf(headers, b"x-forwarded-host") == [b"shop.example"]
    assert valuesOf(headers, b"forwarded") == [b"for=203.0.113.1"]


def test_trustedProxyWithoutForwardedFields():
    """A trusted proxy that sends none gets them made."""
    headers = forwarded(request(secure=True), TRUSTING)
    assert valuesOf(headers, b"x-forwarded-for") == [b"192.0.2.10"]
    assert valuesOf(headers, b"x-forwarded-proto") == [b"https"]
    assert valuesOf(headers, b"x-forwarded-host") == [b"www.example"]


def test_untrustedBesideTrusted():
    """A client outside the trusted networks gets replaced fields."""
    headers = forwarded(
        request((b"x-forwarded-for", b"203.0.113.1"), client="198.51.100.9"),
        TRUSTING,
    )
    assert valuesOf(headers, b"x-forwarded-for") == [b"198.51.100.9"]


@pytest.mark.parametrize(
    ("networks", "address", "trusted"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["10.0.0.0/8"], "10.200.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.1/8"], "10.9.9.9", True),
        (["::1"], "::1", True),
        (["2001:db8::/32"], "2001:db8:1::5", True),
        (["2001:db8::/32"], "127.0.0.1", False),
        (["127.0.0.1"], None, False),
        (["127.0.0.1"], "localhost", False),
        ([], "127.0.0.1", False),
    ],
)
def test_trusts(networks, address, trusted):
    """Which client addresses a configuration trusts."""
    config = ForwardingConfig(
        trustedProxies=tuple(parseTrustedProxy(n) for n in networks)
    )
    assert config.trusts(address) is trusted


@pytest.mark.parametrize("value", ["nonsense", "", "10.0.0.0/33", "1.2.3.4.5", "::g"])
def test_parseTrustedProxyMistakes(value):
    """Neither an address nor a network: the message says what to give."""
    with pytest.raises(ValueError, match="not an IP address or network"):
        parseTrustedProxy(value)


def test_parseTrustedProxy():
    """An address is a network of one."""
    assert parseTrustedProxy("192.0.2.1") == ipaddress.ip_network("192.0.2.1/32")
    assert parseTrustedProxy("10.1.0.0/16") == ipaddress.ip_network("10.1.0.0/16")


# Host.


def test_hostPassed():
    """By default the backend gets the client's Host, first."""
    headers = forwarded(request((b"host", b"www.example"), host=b"www.example"))
    assert headers[0] == (b"host", b"www.example")
    assert valuesOf(headers, b"host") == [b"www.example"]


def test_hostPassedWithoutOne():
    """A request without a Host gets the backend's."""
    headers = forwarded(request(host=None))
    assert valuesOf(headers, b"host") == [BACKEND]


def test_hostOfTheBackend():
    """With hostMode backend, the backend gets its own authority."""
    headers = forwarded(
        request((b"host", b"www.example")), ForwardingConfig(hostMode="backend")
    )
    assert headers[0] == (b"host", BACKEND)
    assert valuesOf(headers, b"host") == [BACKEND]
    assert valuesOf(headers, b"x-forwarded-host") == [b"www.example"]


def test_hostModeChecked():
    """Only the two modes are accepted."""
    with pytest.raises(ValueError):
        ForwardingConfig(hostMode="x")


# Via.


@pytest.mark.parametrize(
    ("protocol", "via"),
    [
        (b"HTTP/1.1", b"1.1 txpush"),
        (b"HTTP/1.0", b"1.0 txpush"),
        (b"HTTP/2", b"2 txpush"),
    ],
)
def test_via(protocol, via):
    """Via names the client's protocol version, and txpush."""
    headers = forwarded(request(protocol=protocol))
    assert valuesOf(headers, b"via") == [via]
    assert via.endswith(VIA_NAME)


def test_viaChainedInOneField():
    """
    An earlier Via is chained: one Via field, the earlier hops first, and
    no hop twice.
    """
    headers = forwarded(
        request((b"via", b"1.1 cdn"), (b"via", b"1.0 balancer"), protocol=b"HTTP/2")
    )
    assert valuesOf(headers, b"via") == [b"1.1 cdn, 1.0 balancer, 2 txpush"]


# Responses.


def test_responseHopByHopDropped():
    """
    A response's hop-by-hop fields and those its Connection names are not
    relayed; the rest are, repeated Set-Cookie apart and in order.
    """
    relayed = relayedResponseHeaders(
        [
            (b"connection", b"keep-alive, X-Backend-Only"),
            (b"keep-alive", b"timeout=5"),
            (b"transfer-encoding", b"chunked"),
            (b"x-backend-only", b"secret"),
            (b"set-cookie", b"a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT"),
            (b"set-cookie", b"b=2"),
            (b"content-encoding", b"gzip"),
            (b"etag", b'"v1"'),
        ],
        b"HTTP/1.1",
    )
    assert not names(relayed) & (HOP_BY_HOP | {b"x-backend-only"})
    assert valuesOf(relayed, b"set-cookie") == [
        b"a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
        b"b=2",
    ]
    assert valuesOf(relayed, b"content-encoding") == [b"gzip"]
    assert valuesOf(relayed, b"etag") == [b'"v1"']
    assert valuesOf(relayed, b"via") == [b"1.1 txpush"]


def test_responseViaChained():
    """A backend's own Via is chained in the one field."""
    relayed = relayedResponseHeaders([(b"via", b"1.1 app")], b"HTTP/1.1")
    assert valuesOf(relayed, b"via") == [b"1.1 app, 1.1 txpush"]


def test_informationalLinks():
    """A backend's 103 gives its Link values, in order, nothing else."""
    assert informationalLinks(
        [
            (b"link", b"</a.css>; rel=preload; as=style"),
            (b"x-other", b"1"),
            (b"link", b"</b.js>; rel=preload; as=script"),
        ]
    ) == [b"</a.css>; rel=preload; as=style", b"</b.js>; rel=preload; as=script"]
    assert informationalLinks([]) == []


# Refusals.


@pytest.mark.parametrize(
    ("headers", "method", "status"),
    [
        ([(b"upgrade", b"websocket"), (b"connection", b"upgrade")], b"GET", 501),
        ([(b"upgrade", b"h2c")], b"GET", 501),
        ([], b"CONNECT", 501),
        ([(b"content-length", b"5"), (b"transfer-encoding", b"chunked")], b"POST", 400),
        ([(b"transfer-encoding", b"chunked"), (b"content-length", b"0")], b"POST", 400),
        ([(b"content-length", b"5"), (b"content-length", b"6")], b"POST", 400),
        ([(b"content-length", b"5, 5")], b"POST", 400),
        ([(b"content-length", b"-1")], b"POST", 400),
        ([(b"content-length", b"+5")], b"POST", 400),
        ([(b"content-length", b"")], b"POST", 400),
        ([(b"x-a", b"a\r\nx-injected: 1")], b"GET", 400),
        ([(b"x-a", b"a\nb")], b"GET", 400),
        ([(b"x-a", b"a\rb")], b"GET", 400),
    ],
)
def test_refused(headers, method, status):
    """Upgrades and CONNECT are 501; ambiguous framings and line breaks 400."""
    refused = refusal(request(*headers, method=method))
    assert refused is not None
    assert refused[0] == status
    assert refused[1].endswith(b"\n")


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-length", b"5")],
        [(b"content-length", b"5"), (b"content-length", b"5")],
        [(b"content-length", b" 5 ")],
        [(b"transfer-encoding", b"chunked")],
        [(b"connection", b"keep-alive"), (b"x-a", b"one two")],
    ],
)
def test_notRefused(headers):
    """Ordinary requests, and identical duplicate lengths, are forwarded."""
    assert refusal(request(*headers, method=b"POST")) is None


# Properties.

_TOKEN = st.from_regex(rb"\A[a-z][a-z0-9-]{0,8}\Z", fullmatch=True)
_NAME = st.one_of(
    st.sampled_from(
        sorted(HOP_BY_HOP | FORWARDED_FIELDS | SET_BY_TXPUSH | {b"content-length"})
    ),
    st.sampled_from([b"x-foo", b"x-bar", b"cookie", b"accept", b"user-agent"]),
    _TOKEN,
)
_VALUE = st.binary(max_size=20).map(
    lambda v: v.replace(b"\r", b"").replace(b"\n", b"").replace(b",", b"")
)


@st.composite
def _connectionValue(draw: st.DrawFn) -> bytes:
    # A Connection value naming some fields, in any case, with any spacing.
    tokens = []
    for token in draw(st.lists(_NAME, max_size=4)):
        upper = draw(st.lists(st.booleans(), min_size=len(token), max_size=len(token)))
        tokens.append(
            b"".join(
                token[i : i + 1].upper() if up else token[i : i + 1]
                for i, up in enumerate(upper)
            )
        )
    separator = draw(st.sampled_from([b",", b", ", b" , ", b",,"]))
    return separator.join(tokens)


_FIELD = st.one_of(
    st.tuples(_NAME, _VALUE),
    st.tuples(st.just(b"connection"), _connectionValue()),
)

_ADDRESS = st.one_of(
    st.none(),
    st.ip_addresses(v=4).map(str),
    st.sampled_from(["127.0.0.1", "192.0.2.10", "::1"]),
)

_REQUEST = st.builds(
    ClientRequest,
    method=st.sampled_from([b"GET", b"POST", b"HEAD"]),
    headers=st.lists(_FIELD, max_size=12).map(tuple),
    clientAddress=_ADDRESS,
    secure=st.booleans(),
    host=st.one_of(st.none(), st.sampled_from([b"www.example", b"localhost:8443"])),
    protocol=st.sampled_from([b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2"]),
)

_CONFIG = st.builds(
    ForwardingConfig,
    hostMode=st.sampled_from(["pass", "backend"]),
    trustedProxies=st.lists(
        st.sampled_from(["127.0.0.1", "192.0.2.0/24", "0.0.0.0/0", "::1"]).map(
            parseTrustedProxy
        ),
        max_size=2,
    ).map(tuple),
)


def _named(clientRequest: ClientRequest) -> set[bytes]:
    # What the request's Connection fields name, as a recipient reads them.
    return {
        token.strip().lower()
        for name, value in clientRequest.headers
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


@given(_REQUEST, _CONFIG)
def test_noHopByHopFieldSurvives(clientRequest, config):
    """
    Whatever the request: no hop-by-hop field and no field its Connection
    names is forwarded (but those txpush sets itself); every other field
    passes as it came, in order; there is exactly one Host, first, and one
    X-Forwarded-For, ending with the client's address.
    """
    headers = forwardedRequestHeaders(clientRequest, config, BACKEND)
    dropped = HOP_BY_HOP | _named(clientRequest)
    assert not names(headers) & HOP_BY_HOP
    assert not (names(headers) - SET_BY_TXPUSH) & dropped
    assert headers[0][0] == b"host"
    assert len(valuesOf(headers, b"host")) == 1
    (forwardedFor,) = valuesOf(headers, b"x-forwarded-for")
    client = (clientRequest.clientAddress or "unknown").encode()
    assert forwardedFor.rsplit(b", ", 1)[-1] == client
    trusted = config.trusts(clientRequest.clientAddress)
    passed = [
        field
        for field in clientRequest.headers
        if field[0] not in dropped | SET_BY_TXPUSH | {b"content-length"}
        and (trusted or field[0] not in FORWARDED_FIELDS)
    ]
    assert [h for h in headers if h[0] not in SET_BY_TXPUSH] == passed


@given(_REQUEST, _CONFIG)
def test_forwardedFieldsSayWhoTheClientIs(clientRequest, config):
    """
    From a client that is not trusted, X-Forwarded-For is its address
    alone, X-Forwarded-Proto its scheme, X-Forwarded-Host its Host, and
    Forwarded is gone; Host follows the mode.
    """
    headers = forwardedRequestHeaders(clientRequest, config, BACKEND)
    if config.hostMode == "backend" or clientRequest.host is None:
        assert headers[0] == (b"host", BACKEND)
    else:
        assert headers[0] == (b"host", clientRequest.host)
    if config.trusts(clientRequest.clientAddress):
        return
    client = (clientRequest.clientAddress or "unknown").encode()
    assert valuesOf(headers, b"x-forwarded-for") == [client]
    scheme = b"https" if clientRequest.secure else b"http"
    assert valuesOf(headers, b"x-forwarded-proto") == [scheme]
    expectedHost = [clientRequest.host] if clientRequest.host else []
    assert valuesOf(headers, b"x-forwarded-host") == expectedHost
    assert valuesOf(headers, b"forwarded") == []


@given(_REQUEST, _CONFIG)
def test_oneViaEndingWithTxpush(clientRequest, config):
    """Exactly one Via is forwarded, its last hop txpush's."""
    headers = forwardedRequestHeaders(clientRequest, config, BACKEND)
    (via,) = valuesOf(headers, b"via")
    version = clientRequest.protocol.split(b"/", 1)[1]
    assert via.rsplit(b", ", 1)[-1] == version + b" " + VIA_NAME


@given(st.lists(_FIELD, max_size=12))
def test_relayedResponseKeepsNoHopByHopField(fields):
    """
    A response relays no hop-by-hop field nor one its Connection names,
    the others in order, and one Via.
    """
    relayed = relayedResponseHeaders(fields, b"HTTP/1.1")
    named = {
        token.strip().lower()
        for name, value in fields
        if name == b"connection"
        for token in value.split(b",")
        if token.strip()
    }
    dropped = HOP_BY_HOP | named
    assert not (names(relayed) - {b"via"}) & dropped
    assert [h for h in relayed if h[0] != b"via"] == [
        h for h in fields if h[0] not in dropped | {b"via"}
    ]
    (via,) = valuesOf(relayed, b"via")
    assert via.endswith(b"1.1 txpush")


@given(st.lists(_FIELD, max_size=8), st.sampled_from([b"GET", b"POST", b"CONNECT"]))
def test_refusalNeverRaises(fields, method):
    """Any request is either forwarded or answered 400 or 501."""
    refused = refusal(request(*fields, method=method))
    assert refused is None or refused[0] in (400, 501)
    if any(name == b"upgrade" for name, _ in fields) or method == b"CONNECT":
        assert refused is not None and refused[0] == 501
