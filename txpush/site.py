"""
L{PushSite}: a Twisted Web site whose HTTP/2 connections can push.
"""

from __future__ import annotations

import weakref
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

# Imported for its registration of the IPusher adapter of requests.
import txpush.pusher  # noqa: F401
from txpush._twisted.channel import (
    DEFAULT_HANDSHAKE_TIMEOUT as DEFAULT_HANDSHAKE_TIMEOUT,
)
from txpush._twisted.channel import buildPushChannelProtocol
from txpush._twisted.compat import checkTwistedInternals
from txpush._twisted.connection import (
    DEFAULT_MAX_CONCURRENT_PUSHES,
    PushingH2Connection,
)
from txpush._twisted.hardening import (
    DEFAULT_MAX_BUFFERED_BYTES as DEFAULT_MAX_BUFFERED_BYTES,
)
from txpush._twisted.requests import isPushedRequest, twistedLogSilenced
from txpush.floodguard import FloodLimits

DEFAULT_GRACE_PERIOD = 10.0
"""Seconds L{PushSite.shutDown} lets open HTTP/2 streams finish."""

DEFAULT_IDLE_TIMEOUT = 30.0
"""
The default seconds after which a connection whose client neither sends nor
reads is closed (Twisted's C{Site} default is 12 hours).
"""


class PushRequest(Request):
    """
    The request of a L{PushSite}: a stock L{twisted.web.server.Request}
    whose processing errors are logged with the method and path (and whether
    the request was pushed), so the log says which resource failed.

    @cvar failureLog: Where processing errors are logged, with the request
        as the event's source.
    """

    failureLog = Logger()

    def processingFailed(self, reason: Failure) -> Failure:
        """
        Log the error with the request's path, then answer 500 as Twisted
        does (with the traceback only if the site displays them).

        @param reason: Why processing failed.
        @return: C{reason}.
        """
        self.failureLog.failure(
            "Error answering {method} {uri}{pushed}",
            failure=reason,
            method=self.method.decode("ascii", "replace"),
            uri=self.uri.decode("ascii", "replace"),
            pushed=" (pushed)" if isPushedRequest(self) else "",
        )
        # Twisted's answer, without its own log event (which says no path).
        with twistedLogSilenced(self):
            result: Failure = super().processingFailed(reason)
        return result


class PushSite(Site):
    """
    A L{twisted.web.server.Site} whose HTTP/2 connections can push.

    HTTP/1.1 is served exactly as by a stock C{Site}.  HTTP/2 is spoken after
    TLS ALPN picks C{h2} and, on any transport without ALPN (plain TCP, or
    behind a TLS-terminating TCP proxy), when the client starts with the
    HTTP/2 connection preface (prior knowledge), as nghttpd and H2O do.

    From a resource, C{IPusher(request, None)} gives a pusher when the client
    accepts pushes.

    Every connection is defended against the well-known HTTP/2 attacks of
    one client (see C{docs/deployment.md}): budgets for cheap frames, a cap
    on the bytes buffered for a client that does not read, a handshake
    timeout and an idle timeout (Site's C{timeout}, here 30 seconds by
    default).

    @ivar maxConcurrentPushes: The most pushed streams a connection may have
        open at once; the client's C{SETTINGS_MAX_CONCURRENT_STREAMS} may
        lower it.
    @ivar handshakeTimeout: Seconds a client has, from connecting, to finish
        the TLS handshake and send the HTTP/2 preface and SETTINGS or an
        HTTP/1.1 request's headers; L{None} for no limit.
    @ivar floodLimits: The budgets of the cheap HTTP/2 frames each client
        may send (PRIORITY, WINDOW_UPDATE, SETTINGS, PING, RST_STREAM, empty
        frames, CONTINUATION).
    @ivar maxBufferedBytes: The cap on response bytes buffered for one HTTP/2
        client; producers pause when it is reached.
    @ivar http2Connections: The site's open HTTP/2 connections.
    @cvar requestFactory: L{PushRequest}, unless another is given.
    """

    protocol = buildPushChannelProtocol
    requestFactory = PushRequest

    def __init__(
        self,
        resource: IResource,
        *args: Any,
        maxConcurrentPushes: int = DEFAULT_MAX_CONCURRENT_PUSHES,
        handshakeTimeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
        floodLimits: FloodLimits | None = None,
        maxBufferedBytes: int = DEFAULT_MAX_BUFFERED_BYTES,
        **kwargs: Any,
    ) -> None:
        """
        @param resource: The root of the resource tree; pushed requests are
            dispatched through it like any other.
        @param args: Passed to L{twisted.web.server.Site}.
        @param maxConcurrentPushes: See L{PushSite.maxConcurrentPushes}.
        @param handshakeTimeout: See L{PushSite.handshakeTimeout}.
        @param floodLimits: See L{PushSite.floodLimits}; nghttp2's by default.
        @param maxBufferedBytes: See L{PushSite.maxBufferedBytes}.
        @param kwargs: Passed to L{twisted.web.server.Site}; its C{timeout}
            (the idle timeout) is L{DEFAULT_IDLE_TIMEOUT} unless given.
        @raise ValueError: C{maxConcurrentPushes} is negative, a timeout is
            not positive, or C{maxBufferedBytes} is below 1.
        @raise txpush.errors.IncompatibleTwistedError: The installed Twisted
            lacks the HTTP/2 internals txpush extends.
        """
        checkTwistedInternals()
        if maxConcurrentPushes < 0:
            raise ValueError(
                f"maxConcurrentPushes must be 0 or more, not {maxConcurrentPushes}"
            )
        if handshakeTimeout is not None and handshakeTimeout <= 0:
            raise ValueError(
                f"handshakeTimeout must be positive or None, not {handshakeTimeout}"
            )
        if maxBufferedBytes < 1:
            raise ValueError(
                f"maxBufferedBytes must be 1 or more, not {maxBufferedBytes}"
            )
        if len(args) < 3:
            # Site(resource, requestFactory, logPath, timeout, ...)
            kwargs.setdefault("timeout", DEFAULT_IDLE_TIMEOUT)
        super().__init__(resource, *args, **kwargs)
        self.maxConcurrentPushes = maxConcurrentPushes
        self.handshakeTimeout = handshakeTimeout
        self.floodLimits = floodLimits or FloodLimits()
        self.maxBufferedBytes = maxBufferedBytes
        self.http2Connections: weakref.WeakSet[PushingH2Connection] = weakref.WeakSet()

    def http2ConnectionMade(self, connection: PushingH2Connection) -> None:
        """
        A connection of this site switched to HTTP/2: remember it, for
        L{shutDown}.

        @param connection: The HTTP/2 connection.
        """
        self.http2Connections.add(connection)

    def shutDown(self, gracePeriod: float = DEFAULT_GRACE_PERIOD) -> Deferred[None]:
        """
        Close the site's HTTP/2 connections gracefully: send each a GOAWAY so
        that its client opens no new stream, let open streams finish for up to
        C{gracePeriod} seconds, then close every connection.  Stop listening
        first, so no new connection arrives.

        @param gracePeriod: The most seconds to wait for open streams.
        @return: A L{Deferred<twisted.internet.defer.Deferred>} that fires
            when every connection is closed.
        """
        connections = list(self.http2Connections)
        for connection in connections:
            connection.announceShutdown()
        deadline = self.reactor.seconds() + gracePeriod
        done: Deferred[None] = Deferred()

        def check() -> None:
            busy = [c for c in connections if c.openStreamCount()]
            if busy and self.reactor.seconds() < deadline:
                return
            poll.stop()
            for connection in connections:
                connection.closeGracefully()
            done.callback(None)

        poll = LoopingCall(check)
        poll.clock = self.reactor
        poll.start(0.05, now=True)
        return done
