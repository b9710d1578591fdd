"""
L{ReverseProxyResource}: forwards requests to an HTTP/1.1 backend over a
keep-alive connection pool and relays its responses, streaming, so that the
cache-aware resource around it pushes and hints from the backend's C{Link}
headers and relays its C{103 Early Hints}.

What is forwarded is L{txpush.forwarding}'s to decide; this module carries
it out with Twisted's C{Agent}.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import CancelledError, Deferred, TimeoutError
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    FileBodyProducer,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from txpush._twisted.informational import HintingConnectionPool, InformationalHeaders
from txpush._twisted.requests import abortResponse, sendEarlyHints
from txpush.forwarding import (
    ClientRequest,
    ForwardingConfig,
    forwardedRequestHeaders,
    informationalLinks,
    refusal,
    relayedResponseHeaders,
)

DEFAULT_PROXY_TIMEOUT = 60.0
"""Seconds a backend has to start its response before the client gets
C{504}."""

REPLACED_BY_BACKEND = (b"server", b"date")
"""Fields Twisted sets on every response that the backend's replace."""

MAX_PERSISTENT_PER_BACKEND = 16
"""Idle keep-alive connections kept open to one backend."""


class BackendURLError(ValueError):
    """
    A backend URL txpush cannot forward to; the message says what to give.
    """


def parseBackendURL(url: str) -> bytes:
    """
    @param url: A backend's base URL, C{http://HOST:PORT}, with no path but
        C{/}: requests are forwarded with their own path and query.
    @return: It, as bytes, without a final C{/}.
    @raise BackendURLError: It is not such a URL.
    """
    parts = urlsplit(url)
    hint = "give the backend as http://HOST:PORT, such as http://127.0.0.1:8000"
    if parts.scheme != "http" or not parts.hostname:
        raise BackendURLError(f"{url!r} is not an http:// URL: {hint}")
    try:
        # urlsplit checks the port only when asked for it.
        _ = parts.port
    except ValueError:
        raise BackendURLError(f"{url!r} has no valid port: {hint}") from None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BackendURLError(
            f"{url!r} has a path: requests keep their own path; {hint}"
        )
    return f"http://{parts.netloc}".encode("ascii")


def newConnectionPool(reactor: Any) -> HintingConnectionPool:
    """
    @param reactor: The reactor.
    @return: A persistent pool of backend connections that reports their
        informational responses.
    """
    pool = HintingConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = MAX_PERSISTENT_PER_BACKEND
    # A request on a pooled connection the backend closed meanwhile is
    # retried once on a new one (idempotent methods only, as Agent does).
    pool.retryAutomatically = True
    return pool


@implementer(IPushProducer)
class _BodyRelay(Protocol):
    """
    Writes a backend's response body to the client's request as it comes,
    pausing the backend's connection while the client does not read.
    """

    def __init__(self, proxied: _ProxiedRequest) -> None:
        self.proxied = proxied

    def connectionMade(self) -> None:
        self.proxied.request.registerProducer(self, True)

    def dataReceived(self, data: bytes) -> None:
        # A read already in flight may land after a pause: it is written.
        if not self.proxied.clientGone:
            self.proxied.request.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.proxied.bodyEnded(reason)

    # deliverBody's transport is a producer of the backend's connection.
    def pauseProducing(self) -> None:
        producer: Any = self.transport
        producer.pauseProducing()

    def resumeProducing(self) -> None:
        producer: Any = self.transport
        producer.resumeProducing()

    def stopProducing(self) -> None:
        producer: Any = self.transport
        producer.stopProducing()


class _ProxiedRequest:
    """One client request on its way to the backend and back."""

    log = Logger(namespace="txpush.proxy")

    def __init__(self, proxy: ReverseProxyResource, request: Any) -> None:
        self.proxy = proxy
        self.request = request
        self.clientGone = False
        self.relay: _BodyRelay | None = None
        self.pending: Deferred[IResponse] | None = None
        request.notifyFinish().addErrback(self._clientWentAway)

    def send(self, headers: list[tuple[bytes, bytes]], body: Any) -> None:
        proxy = self.proxy
        sent = InformationalHeaders()
        for name, value in headers:
            sent.addRawHeader(name, value)
        sent.onInformational = self._informational
        url = proxy.backend + self.request.uri
        self.pending = proxy.agent.request(self.request.method, url, sent, body)
        # Agent fails a cancelled request with ResponseNeverReceived, which
        # addTimeout would not turn into its TimeoutError.
        self.pending.addTimeout(
            proxy.timeout,
            proxy.clock,
            onTimeoutCancel=lambda result, timeout: Failure(TimeoutError(timeout)),
        )
        self.pending.addCallbacks(self._respond, self._failed)

    def _informational(self, code: int, headers: Any) -> None:
        if code != 103 or self.clientGone or not self.proxy.earlyHints:
            return
        fields = _fields(headers)
        links = informationalLinks(fields)
        # A request gets one 103: the first, txpush's own or this one.
        sendEarlyHints(self.request, links, self.proxy.earlyHintsOverHTTP11)

    def _respond(self, response: IResponse) -> None:
        self.pending = None
        request = self.request
        if self.clientGone:
            response.deliverBody(_Discard())
            return
        request.setResponseCode(response.code, response.phrase)
        fields = _fields(response.headers)
        protocol = b"HTTP/%d.%d" % response.version[1:]
        headers = request.responseHeaders
        for name in REPLACED_BY_BACKEND:
            # Twisted's own, set for every request: the backend's stand.
            if any(n == name for n, _ in fields):
                headers.removeHeader(name)
        for name, value in relayedResponseHeaders(fields, protocol):
            headers.addRawHeader(name, value)
        # Twisted's client keeps the framing fields apart: the length it
        # read is the client's too, so a cut body shows as one.
        length = response.length
        bodiless = request.method == b"HEAD" or response.code in (204, 304)
        if isinstance(length, int) and not bodiless:
            headers.setRawHeaders(b"content-length", [str(length).encode()])
        self.relay = _BodyRelay(self)
        response.deliverBody(self.relay)

    def bodyEnded(self, reason: Failure) -> None:
        request = self.request
        if self.clientGone:
            return
        request.unregisterProducer()
        # A body without a length ends when the backend closes: complete.
        if reason.check(ResponseDone, PotentialDataLoss):
            request.finish()
            return
        self.log.warn(
            "Backend {backend} closed {uri} before the end of its body: the "
            "client's response is cut off ({reason})",
            backend=self.proxy.backend.decode(),
            uri=request.uri.decode("ascii", "replace"),
            reason=_describe(reason),
        )
        abortResponse(request)

    def _failed(self, reason: Failure) -> None:
        self.pending = None
        if self.clientGone:
            return
        backend = self.proxy.backend.decode()
        if reason.check(TimeoutError):
            status, body = 504, b"Gateway Timeout: the backend did not answer in time\n"
            self.log.warn(
                "Backend {backend} did not answer {uri} within {timeout:g} "
                "seconds (--proxy-timeout): 504",
                backend=backend,
                uri=self.request.uri.decode("ascii", "replace"),
                timeout=self.proxy.timeout,
            )
        else:
            status, body = 502, b"Bad Gateway: the backend could not be reached\n"
            self.log.warn(
                "Backend {backend} failed {uri}: {reason}: 502",
                backend=backend,
                uri=self.request.uri.decode("ascii", "replace"),
                reason=_describe(reason),
            )
        request = self.request
        request.setResponseCode(status)
        request.responseHeaders.setRawHeaders(b"content-type", [b"text/plain"])
        request.responseHeaders.setRawHeaders(
            b"content-length", [str(len(body)).encode()]
        )
        request.write(body)
        request.finish()

    def _clientWentAway(self, reason: Failure) -> None:
        self.clientGone = True
        if self.pending is not None:
            self.pending.cancel()
        elif self.relay is not None and self.relay.transport is not None:
            self.relay.stopProducing()


class _Discard(Protocol):
    # The client went away as the response came: close the backend's
    # connection rather than read a body nobody wants.
    def connectionMade(self) -> None:
        producer: Any = self.transport
        producer.stopProducing()


def _fields(headers: Headers) -> list[tuple[bytes, bytes]]:
    # Twisted's headers as the forwarding rules take them: lower-case names.
    return [
        (name.lower(), value)
        for name, values in headers.getAllRawHeaders()
        for value in values
    ]


def _describe(reason: Failure) -> str:
    value = reason.value
    if isinstance(value, (ResponseFailed, ResponseNeverReceived)) and value.reasons:
        value = value.reasons[0].value
    if isinstance(value, CancelledError):
        return "cancelled"
    text = str(value).strip().splitlines()
    return text[0] if text else type(value).__name__


class ReverseProxyResource(Resource):
    """
    Forwards every request to a backend and relays its response: the body
    streams (the backend's connection pauses while the client does not
    read), its C{Set-Cookie}, C{Content-Encoding} and validators pass, and
    its C{103 Early Hints} is relayed unless the request already got one.

    A backend that cannot be reached gets the client a C{502}, one slower
    than L{timeout} to start its response a C{504}, and one that closes
    mid-body a reset stream (a cut HTTP/1.1 connection): never a truncated
    success.  A client that goes away cancels its backend request.

    Wrap it in a L{txpush.CacheAwarePushResource}, which pushes and hints
    the backend's C{Link: rel=preload} headers.

    @ivar backend: The backend's base URL, C{http://host:port}.
    @ivar agent: The HTTP client.
    @ivar forwarding: How requests are forwarded.
    @ivar timeout: Seconds the backend has to start a response.
    @ivar clock: The time source of the timeout.
    @ivar earlyHints: Whether the backend's C{103} responses are relayed.
    @ivar earlyHintsOverHTTP11: Whether they are relayed to HTTP/1.1
        clients too.
    @cvar isLeaf: The backend answers every path below this resource.
    """

    isLeaf = True

    def __init__(
        self,
        backend: bytes,
        reactor: Any,
        pool: HintingConnectionPool,
        forwarding: ForwardingConfig | None = None,
        timeout: float = DEFAULT_PROXY_TIMEOUT,
        earlyHints: bool = True,
        earlyHintsOverHTTP11: bool = True,
    ) -> None:
        """
        @param backend: The backend's base URL (see L{parseBackendURL}).
        @param reactor: The reactor the client connects with.
        @param pool: The connection pool (see L{newConnectionPool}), which
            may be shared between backends.
        @param forwarding: How requests are forwarded; the defaults if
            L{None}.
        @param timeout: Seconds the backend has to start a response.
        @param earlyHints: Whether to relay the backend's C{103}s.
        @param earlyHintsOverHTTP11: Whether to relay them to HTTP/1.1
            clients too.
        """
        super().__init__()
        self.backend = backend
        self.agent = Agent(reactor, pool=pool)
        self.forwarding = ForwardingConfig() if forwarding is None else forwarding
        self.timeout = timeout
        self.clock: IReactorTime = reactor
        self.earlyHints = earlyHints
        self.earlyHintsOverHTTP11 = earlyHintsOverHTTP11
        self.backendAuthority = backend.split(b"//", 1)[1]

    def render(self, request: Any) -> Any:
        """
        Forward C{request}, or refuse it (see
        L{txpush.forwarding.refusal}).

        @param request: The request.
        @return: C{NOT_DONE_YET}, or the body of a refusal.
        """
        client = getattr(request.getClientAddress(), "host", None)
        fields = tuple(_fields(request.requestHeaders))
        described = ClientRequest(
            method=request.method,
            headers=fields,
            clientAddress=client if isinstance(client, str) else None,
            secure=request.isSecure(),
            host=request.getHeader(b"host"),
            protocol=request.clientproto,
            target=request.uri,
        )
        refused = refusal(described)
        if refused is not None:
            status, body = refused
            request.setResponseCode(status)
            request.setHeader(b"content-type", b"text/plain")
            return body
        headers = forwardedRequestHeaders(
            described, self.forwarding, self.backendAuthority
        )
        proxied = _ProxiedRequest(self, request)
        proxied.send(headers, _bodyOf(request))
        return NOT_DONE_YET


def _bodyOf(request: Any) -> FileBodyProducer | None:
    # Twisted has the whole body by now, in memory when small, else in a
    # temporary file: the producer streams it from there.
    content = request.content
    if content is None:
        return None
    content.seek(0, 2)
    length = content.tell()
    content.seek(0)
    if length == 0 and request.method in (b"GET", b"HEAD", b"OPTIONS", b"DELETE"):
        return None
    return FileBodyProducer(content)
