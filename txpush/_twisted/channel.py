"""
L{PushChannelProtocol}: Twisted's HTTP/1.1-or-HTTP/2 switch, speaking HTTP/2
through L{PushingH2Connection}, after TLS ALPN or on the prior-knowledge
preface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from txpush._twisted.connection import PushingH2Connection

if TYPE_CHECKING:
    from txpush.site import PushSite

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface that starts every HTTP/2 connection."""


class PushChannelProtocol(_GenericHTTPChannelProtocol):
    """
    Twisted's HTTP/1.1-or-HTTP/2 switch, speaking HTTP/2 through
    L{PushingH2Connection}, after TLS ALPN C{h2} or, without ALPN, when the
    client starts with the HTTP/2 connection preface (prior knowledge).

    @ivar maxConcurrentPushes: The site's cap on pushed streams per
        connection.
    @ivar reactor: The site's reactor, for the HTTP/2 connection.
    @ivar onHTTP2: Called with each HTTP/2 connection it starts.
    """

    _prefaceBuffer = b""

    def __init__(
        self,
        channel: HTTPChannel,
        maxConcurrentPushes: int,
        reactor: Any,
        onHTTP2: Callable[[PushingH2Connection], None],
    ) -> None:
        """
        @param channel: The HTTP/1.1 channel it starts with.
        @param maxConcurrentPushes: See L{maxConcurrentPushes}.
        @param reactor: See L{reactor}.
        @param onHTTP2: See L{onHTTP2}.
        """
        super().__init__(channel)
        self.maxConcurrentPushes = maxConcurrentPushes
        self.reactor = reactor
        self.onHTTP2 = onHTTP2

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
                    self._negotiatedProtocol = b"http/1.1"
                self._prefaceBuffer = b""
            else:
                self._negotiatedProtocol = b"http/1.1"
        self._channel.dataReceived(data)

    def _startHTTP2(self) -> None:
        # Mirrors _GenericHTTPChannelProtocol.dataReceived's switch to h2.
        networkProducer = self._channel._networkProducer
        networkProducer.unregisterProducer()
        self._channel.setTimeout(None)
        transport = self._channel.transport
        connection = PushingH2Connection(
            reactor=self.reactor, maxConcurrentPushes=self.maxConcurrentPushes
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
        HTTPChannel(),
        maxConcurrentPushes=factory.maxConcurrentPushes,
        reactor=factory.reactor,
        onHTTP2=factory.http2ConnectionMade,
    )
