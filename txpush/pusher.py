"""
The L{IPusher} of a request on a pushing HTTP/2 connection.

Importing this module registers the adapter, so that
C{IPusher(request, None)} works on any request of a L{txpush.PushSite}.
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.python.components import registerAdapter
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.server import Request
from zope.interface import implementer

from txpush._twisted.connection import PushingH2Connection, isPushedStreamID
from txpush._twisted.requests import (
    isDisconnected,
    pushingConnectionOf,
    streamRequest,
)
from txpush.delivery import forbidsStoring
from txpush.diary import PushDiary
from txpush.errors import (
    PushLimitReachedError,
    PushNotSupportedError,
    RecursivePushError,
)
from txpush.interfaces import IPusher
from txpush.pushrequest import (
    COPIED_REQUEST_HEADERS,
    PushHeaders,
    promisedRequestHeaders,
    pushHeaders,
    pushMethod,
    pushPath,
)


@attrs.frozen
class PushResult:
    """
    What became of one push, as reported by the
    L{Deferred<twisted.internet.defer.Deferred>} of L{IPusher.push}.

    @ivar path: The pushed path, with its query.
    @ivar streamID: The promised stream.
    @ivar completed: L{True} when the whole response was produced, L{False}
        when the client reset the stream or the connection was lost first.
    @ivar status: The response status code, if headers were written.
    @ivar bytesSent: Body bytes written for the pushed response.
    @ivar noStore: Whether the response carried C{Cache-Control: no-store},
        so the client may not keep it.
    """

    path: bytes
    streamID: int
    completed: bool
    status: int | None
    bytesSent: int
    noStore: bool = False


@implementer(IPusher)
class StreamPusher:
    """
    Pushes on behalf of one request that came on an HTTP/2 stream of a
    L{PushingH2Connection}.  Get one with C{IPusher(request, None)}.

    @cvar temporaryAdapter: Tells Twisted's C{Componentized} request not to
        cache the adaptation: whether a request can push changes (the
        client's GOAWAY or C{SETTINGS_ENABLE_PUSH=0}), so each
        C{IPusher(request, None)} asks again.
    """

    temporaryAdapter = True

    def __init__(
        self, request: Request, stream: Any, connection: PushingH2Connection
    ) -> None:
        """
        @param request: The page request.
        @param stream: The HTTP/2 stream it came on (its C{channel}).
        @param connection: The connection the stream belongs to.
        """
        self._pageRequest = request
        self._stream = stream
        self._connection = connection

    @property
    def maxConcurrentPushes(self) -> int:
        """
        See L{IPusher.maxConcurrentPushes}.
        """
        return self._connection.pushLimit()

    @property
    def diary(self) -> PushDiary:
        """
        See L{IPusher.diary}.
        """
        return self._connection.diary

    @property
    def activePushes(self) -> int:
        """
        See L{IPusher.activePushes}.
        """
        return self._connection.activePushCount()

    def push(
        self,
        target: bytes | str,
        headers: PushHeaders | None = None,
        method: bytes | str = b"GET",
    ) -> Deferred[PushResult]:
        """
        See L{IPusher.push}.
        """
        streamID = self._stream.streamID
        if isPushedStreamID(streamID):
            raise RecursivePushError(
                f"cannot push {target!r} while answering pushed stream "
                f"{streamID}: only requests the client sent can push"
            )
        checkedMethod = pushMethod(method)
        scheme, authority = self._connection.pageOrigin(self._stream)
        if authority is None:
            raise PushNotSupportedError(
                "the page request has no :authority or Host: a pushed request needs one"
            )
        path = pushPath(target, scheme, authority)
        extraHeaders = pushHeaders(headers)
        if self._pageRequest.finished or isDisconnected(self._pageRequest):
            raise PushNotSupportedError(
                f"cannot push {path!r}: the page's response has already ended"
            )
        if not self._connection.pushEnabled():
            raise PushNotSupportedError(
                f"cannot push {path!r}: the client disabled push or the "
                "connection is going away"
            )
        limit = self._connection.pushLimit()
        if self._connection.activePushCount() >= limit:
            raise PushLimitReachedError(
                f"cannot push {path!r}: {limit} pushed streams are already open "
                "on this connection"
            )
        pageHeaders = [
            (name, value)
            for name in COPIED_REQUEST_HEADERS
            for value in self._pageRequest.requestHeaders.getRawHeaders(name, [])
        ]
        block = promisedRequestHeaders(
            checkedMethod, scheme, authority, path, pageHeaders, extraHeaders
        )
        promised = self._connection.promise(streamID, block)
        self._connection.diary.add(path)
        return _pushOutcome(streamRequest(promised), path, promised.streamID)


def _pushOutcome(pushed: Request, path: bytes, streamID: int) -> Deferred[PushResult]:
    if isDisconnected(pushed):
        # notifyFinish would never fire for a request already gone.
        return succeed(PushResult(path, streamID, False, None, 0))

    def result(outcome: object) -> PushResult:
        return PushResult(
            path=path,
            streamID=streamID,
            completed=not isinstance(outcome, Failure),
            status=pushed.code if pushed.startedWriting else None,
            bytesSent=pushed.sentLength,
            noStore=forbidsStoring(
                pushed.responseHeaders.getRawHeaders(b"cache-control", ())
            ),
        )

    return pushed.notifyFinish().addBoth(result)


def pusherForRequest(request: IRequest) -> IPusher | None:
    """
    Adapt a request to L{IPusher}; registered as the adapter.

    @param request: Any request.
    @return: A L{StreamPusher} when the request came on an HTTP/2 stream of a
        L{txpush.PushSite} whose client accepts pushes now, else L{None}.
    """
    stream = getattr(request, "channel", None)
    connection = pushingConnectionOf(stream)
    if connection is None or not connection.pushEnabled():
        return None
    assert isinstance(request, Request)
    return StreamPusher(request, stream, connection)


registerAdapter(pusherForRequest, IRequest, IPusher)
