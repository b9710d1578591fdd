"""
L{PushChannelProtocol}: Twisted's HTTP/1.1-or-HTTP/2 switch, speaking HTTP/2
through L{PushingH2Connection}, after TLS ALPN or on the prior-knowledge
preface.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IDelayedCall, ITransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from txpush._twisted.connection import PushingH2Connection
from txpush._twisted.hardening import DEFAULT_MAX_BUFFERED_BYTES
from txpush.floodguard import FloodLimits

if TYPE_CHECKING:
    from txpush.site import PushSite

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface that starts every HTTP/2 connection."""

DEFAULT_HANDSHAKE_TIMEOUT = 30.0
"""
The default seconds a client has, from connecting, to finish the TLS
handshake and either send the HTTP/2 preface and SETTINGS or the headers of
an HTTP/1.1 request.  A thousand clients connecting at once take this
server about 14 seconds of handshakes on one core, so the last of them
would be cut off by the 10 seconds nghttpd and H2O allow; nginx allows 60.
"""

MAX_REQUEST_LINE = 16384
"""The longest first line read before a client is judged (Twisted's limit)."""

_REQUEST_LINE = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ ]+ HTTP/1\.[01]\r?")

log = Logger()


def looksLikeHTTP11(data: bytes) -> bool | None:
    """
    Judge a connection's first bytes, which are not the HTTP/2 preface.

    @param data: The bytes received so far.
    @return: L{True} if they start with an HTTP/1.x request line, L{False}
        if they cannot (garbage, or a bad preface), L{None} if the line is
        not complete yet.
    """
    # Empty lines before a request line are ignored (RFC 9112 section 2.2).
    data = data.lstrip(b"\r\n")
    end = data.find(b"\n")
    if end < 0:
        return False if len(data) > MAX_REQUEST_LINE else None
    return _REQUEST_LINE.fullmatch(data[:end]) is not None


class HandshakeTimedHTTPChannel(HTTPChannel):
    """
    Twisted's HTTP/1.1 channel, telling when the headers of its first
    request are complete.

    @ivar onHeaders: Called once all headers of a request are received.
    """

    onHeaders: Callable[[], None] = staticmethod(lambda: None)

    def allHeadersReceived(self) -> None:
        """
        See Twisted's; then call L{onHeaders}.
        """
        super().allHeadersReceived()
        self.onHeaders()


class PushChannelProtocol(_GenericHTTPChannelProtocol):
    """
    Twisted's HTTP/1.1-or-HTTP/2 switch, speaking HTTP/2 through
    L{PushingH2Connection}, after TLS ALPN C{h2} or, without ALPN, when the
    client starts with the HTTP/2 connection preface (prior knowledge).

    @ivar maxConcurrentPushes: The site's cap on pushed streams per
        connection.
    @ivar reactor: The site's reactor, for the HTTP/2 connection.
    @ivar onHTTP2: Called with each HTTP/2 connection it starts.
    @ivar handshakeTimeout: Seconds the client has, from connecting, to
        finish the TLS handshake and send the HTTP/2 preface and SETTINGS
        or an HTTP/1.1 request's headers; L{None} for no limit.
    @ivar floodLimits: The budgets of cheap HTTP/2 frames.
    @ivar maxBufferedBytes: The cap on response bytes buffered for an
        HTTP/2 client.
    """

    _prefaceBuffer = b""
    _handshakeCall: IDelayedCall | None = None

    def __init__(
        self,
        channel: HandshakeTimedHTTPChannel,
        maxConcurrentPushes: int,
        reactor: Any,
        onHTTP2: Callable[[PushingH2Connection], None],
        handshakeTimeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        floodLimits: FloodLimits | None = None,
        maxBufferedBytes: int = DEFAULT_MAX_BUFFERED_BYTES,
    ) -> None:
        """
        @param channel: The HTTP/1.1 channel it starts with.
        @param maxConcurrentPushes: See L{maxConcurrentPushes}.
        @param reactor: See L{reactor}.
        @param onHTTP2: See L{onHTTP2}.
        @param handshakeTimeout: See L{handshakeTimeout}.
        @param floodLimits: See L{floodLimits}.
        @param maxBufferedBytes: See L{maxBufferedBytes}.
        """
        super().__init__(channel)
        self.maxConcurrentPushes = maxConcurrentPushes
        self.reactor = reactor
        self.onHTTP2 = onHTTP2
        self.handshakeTimeout = handshakeTimeout
        self.floodLimits = floodLimits
        self.maxBufferedBytes = maxBufferedBytes
        channel.onHeaders = self._handshakeDone

    def makeConnection(self, transport: ITransport) -> None:
        """
        Start the channel, and the clock of the client's handshake.

        @param transport: The connection's transport.
        """
        super().makeConnection(transport)
        if self.handshakeTimeout is not None:
            self._handshakeCall = self.reactor.callLater(
                self.handshakeTimeout, self._handshakeTimedOut
            )

    def connectionLost(self, reason: Failure) -> None:
        """
        Stop the handshake's clock, and tell the channel.

        @param reason: Why the connection was lost.
        """
        self._handshakeDone()
        super().connectionLost(reason)

    def _handshakeDone(self) -> None:
        call, self._handshakeCall = self._handshakeCall, None
        if call is not None and call.active():
            call.cancel()

    def _handshakeTimedOut(self) -> None:
        self._handshakeCall = None
        transport = self._channel.transport
        if transport is None:
            return
        log.info(
            "Closing the connection of {client}: no handshake in {timeout} s",
            client=transport.getPeer(),
            timeout=self.handshakeTimeout,
        )
        # The client sent nothing worth an answer: cut it off, TLS included.
        transport.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        """
        Pick the protocol on the first bytes, then hand data to its channel.

        @param data: Bytes from the transport.
        """
        if self._negotiatedProtocol is None:
            alpn = getattr(self._channel.transport, "negotiatedProtocol", None)
            if alpn == b"h2":
                self._startHTTP2()
            elif alpn is None:
                # Prior knowledge: buffer until the preface is complete or
                # the bytes stop matching it.
                data = self._prefaceBuffer + data
                seen = min(len(data), len(HTTP2_PREFACE))
                if data[:seen] == HTTP2_PREFACE[:seen]:
                    if seen < len(HTTP2_PREFACE):
                        self._prefaceBuffer = data
                        return
                    self._startHTTP2()
                else:
                    verdict = looksLikeHTTP11(data)
                    if verdict is None:
                        self._prefaceBuffer = data
                        return
                    if not verdict:
                        # A bad HTTP/2 preface, or garbage: silence.
                        self._prefaceBuffer = b""
                        self._closeSilently()
                        return
                    self._negotiatedProtocol = b"http/1.1"
                self._prefaceBuffer = b""
            else:
                self._negotiatedProtocol = b"http/1.1"
        self._channel.dataReceived(data)
        if (
            self._handshakeCall is not None
            and isinstance(self._channel, PushingH2Connection)
            and self._channel.handshakeComplete()
        ):
            self._handshakeDone()

    def _closeSilently(self) -> None:
        transport: Any = self._channel.transport
        # Unregistered first, for TLS closes only once no producer is.
        transport.unregisterProducer()
        transport.loseConnection()

    def _startHTTP2(self) -> None:
        # Mirrors _GenericHTTPChannelProtocol.dataReceived's switch to h2.
        networkProducer = self._channel._networkProducer
        networkProducer.unregisterProducer()
        self._channel.setTimeout(None)
        transport = self._channel.transport
        connection = PushingH2Connection(
            reactor=self.reactor,
            maxConcurrentPushes=self.maxConcurrentPushes,
            floodLimits=self.floodLimits,
            maxBufferedBytes=self.maxBufferedBytes,
        )
        connection.requestFactory = self._requestFactory
        connection.site = self._site
        connection.factory = self._factory
        connection.timeOut = self._timeOut
        connection.callLater = self._callLater
        self._channel = connection
        connection.makeConnection(transport)
        networkProducer.registerProducer(connection, True)
        self._negotiatedProtocol = b"h2"
        self.onHTTP2(connection)


def buildPushChannelProtocol(factory: PushSite) -> PushChannelProtocol:
    """
    Build the protocol of one connection of a L{txpush.PushSite}; used as
    the site's C{protocol}.

    @param factory: The site.
    @return: A protocol that starts as HTTP/1.1 and switches to HTTP/2.
    """
    return PushChannelProtocol(
        HandshakeTimedHTTPChannel(),
        maxConcurrentPushes=factory.maxConcurrentPushes,
        reactor=factory.reactor,
        onHTTP2=factory.http2ConnectionMade,
        handshakeTimeout=factory.handshakeTimeout,
        floodLimits=factory.floodLimits,
        maxBufferedBytes=factory.maxBufferedBytes,
    )
