"""
What the rest of txpush needs to know of a Twisted request: its stream and
connection, its connection's push state, its origin, whether it is gone;
and the things done to it below the public API, or that Twisted releases do
differently: C{103 Early Hints}, the encoder of an encoding resource, a
C{Set-Cookie} beside the application's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

import h2.exceptions
from twisted.logger import Logger, LogPublisher
from twisted.web._http2 import H2Stream
from twisted.web.resource import _IEncodingResource

from txpush._twisted.connection import PushingH2Connection, isPushedStreamID
from txpush._twisted.sending import CoalescingH2Connection
from txpush.connectionstate import ConnectionPushState

# The push state of connections that cannot push (HTTP/1.1 channels, stock
# Twisted HTTP/2 connections): a PushingH2Connection holds its own.
_otherConnectionStates: WeakKeyDictionary[object, ConnectionPushState] = (
    WeakKeyDictionary()
)

# A publisher with no observers: what is logged to it goes nowhere.
_silent = Logger(observer=LogPublisher())


def pushingConnectionOf(channel: object) -> PushingH2Connection | None:
    """
    @param channel: A request's C{channel}.
    @return: The pushing HTTP/2 connection the channel is a stream of, or
        L{None} (HTTP/1.1, a stock Twisted site, a lost connection).
    """
    if isinstance(channel, H2Stream):
        connection = channel._conn
        if isinstance(connection, PushingH2Connection):
            return connection
    return None


def connectionStateOf(request: object) -> ConnectionPushState | None:
    """
    @param request: Any request.
    @return: The push state of its client connection (made on first use for
        connections that cannot push), or L{None} once the connection is
        lost.
    """
    channel = getattr(request, "channel", None)
    if channel is None:
        return None
    connection: object = channel
    if isinstance(channel, H2Stream):
        connection = channel._conn
        if isinstance(connection, PushingH2Connection):
            return connection.pushState
    state = _otherConnectionStates.get(connection)
    if state is None:
        state = _otherConnectionStates[connection] = ConnectionPushState()
    return state


def isPushedRequest(request: object) -> bool:
    """
    @param request: Any request.
    @return: Whether it is a pushed request (answering a C{PUSH_PROMISE}).
    """
    channel = getattr(request, "channel", None)
    return isinstance(channel, H2Stream) and isPushedStreamID(channel.streamID)


def streamRequest(stream: H2Stream) -> Any:
    """
    @param stream: An HTTP/2 stream.
    @return: The request it carries.
    """
    return stream._request


def isDisconnected(request: Any) -> bool:
    """
    @param request: A C{twisted.web.server.Request}.
    @return: Whether its client is gone (a write would be dropped).
    """
    return bool(request._disconnected)


def requestOrigin(request: Any) -> tuple[bytes, bytes | None]:
    """
    @param request: Any request.
    @return: The scheme and authority the client used: over HTTP/2 the
        request's C{:scheme} and C{:authority} (right behind a TLS-terminating
        TCP proxy too), else C{https} or C{http} by the transport, and the
        C{Host} header (L{None} if absent).
    """
    channel: Any = getattr(request, "channel", None)
    connection = pushingConnectionOf(channel)
    if connection is not None:
        return connection.pageOrigin(channel)
    scheme = b"https" if request.isSecure() else b"http"
    return scheme, request.getHeader(b"host")


def sendEarlyHints(request: Any, linkValues: list[bytes], overHTTP11: bool) -> bool:
    """
    Send a C{103 Early Hints} informational response for C{request}.

    A request gets one at most: a browser uses only the first.

    @param request: A request whose response has not started.
    @param linkValues: The C{Link} header values to send.
    @param overHTTP11: Whether to send it to HTTP/1.1 clients too (an
        HTTP/1.0 client never gets one: it cannot parse it).
    @return: Whether it was sent.
    """
    if not linkValues or request.startedWriting or isDisconnected(request):
        return False
    if request in _hinted:
        return False
    sent = _sendEarlyHints(request, linkValues, overHTTP11)
    if sent:
        _hinted.add(request)
    return sent


# The requests that got their 103: weakly, as a request's life is Twisted's.
_hinted: WeakSet[Any] = WeakSet()


def _sendEarlyHints(request: Any, linkValues: list[bytes], overHTTP11: bool) -> bool:
    channel = request.channel
    if isinstance(channel, H2Stream):
        connection = channel._conn
        if channel.streamID not in connection.streams:
            return False
        try:
            if isinstance(connection, CoalescingH2Connection):
                connection.sendInformational(channel.streamID, linkValues)
                return True
            # A stock Site's connection.
            headers = [(b":status", b"103")] + [(b"link", v) for v in linkValues]
            connection.conn.send_headers(channel.streamID, headers)
        except h2.exceptions.H2Error:
            return False
        connection._tryToWriteControlData()
        return True
    if overHTTP11 and request.clientproto == b"HTTP/1.1":
        transport = getattr(channel, "transport", None)
        if transport is None:
            return False
        lines = [b"HTTP/1.1 103 Early Hints"] + [b"Link: " + v for v in linkValues]
        transport.write(b"\r\n".join(lines) + b"\r\n\r\n")
        return True
    return False


def addSetCookie(request: Any, setCookie: bytes) -> None:
    """
    Add a C{Set-Cookie} field to the response of C{request}, beside those the
    application set, with C{addCookie} or directly in C{responseHeaders}: each
    is sent once, on every Twisted release.

    Twisted 24.7 and later write C{request.cookies} over the C{Set-Cookie}
    fields of C{responseHeaders}, older releases send both: the fields are
    moved into C{request.cookies}, which every release sends.

    @param request: A request whose response has not started.
    @param setCookie: The field value.
    """
    cookies = request.cookies
    headers = request.responseHeaders
    for raw in headers.getRawHeaders(b"set-cookie", []):
        if raw not in cookies:
            cookies.append(raw)
    headers.removeHeader(b"set-cookie")
    cookies.append(setCookie)


def installEncoder(resource: object, request: Any) -> None:
    """
    Do for C{resource} what C{Request.process} does for the resource it
    finds: install the encoder (gzip) of an encoding resource.  Needed by a
    resource that renders another it found itself.

    @param resource: The resource about to render C{request}.
    @param request: The request.
    """
    if _IEncodingResource.providedBy(resource):
        encoder = resource.getEncoder(request)
        if encoder is not None:
            request._encoder = encoder


@contextmanager
def twistedLogSilenced(request: Any) -> Iterator[None]:
    """
    Within the block, the events C{request} logs through Twisted's own
    logger go nowhere: for code that logs a better event of its own.

    @param request: A C{twisted.web.server.Request}.
    """
    request._log = _silent
    try:
        yield
    finally:
        del request._log


def abortResponse(request: Any) -> None:
    """
    End a response that cannot be completed so that the client sees it
    failed, not a truncated success: an HTTP/2 stream is reset, an HTTP/1.1
    connection aborted.

    @param request: A request whose response has started, or not.
    """
    channel = request.channel
    if channel is None:
        return
    if isinstance(channel, H2Stream):
        if channel.streamID in channel._conn.streams:
            channel.abortConnection()
        return
    transport = getattr(channel, "transport", None)
    if transport is not None:
        transport.abortConnection()
