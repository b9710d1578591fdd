"""
A resource tree for push tests: a page that pushes what a test tells it to,
and assets that report what the pushed requests looked like.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.static import Data

from txpush import IPusher, PushError, PushSite

APP_JS = b'console.log("app");\n'
STYLE_CSS = b"body { color: navy; }\n"


@dataclass
class PushAttempt:
    """One push the page was asked to make, and what became of it."""

    target: Any
    kwargs: dict[str, Any]
    error: PushError | None = None
    result: Any = None


@dataclass
class PageLog:
    """What the page saw on its last render."""

    hadPusher: list[bool] = field(default_factory=list)
    attempts: list[PushAttempt] = field(default_factory=list)
    recursiveErrors: list[BaseException] = field(default_factory=list)
    promisedParents: list[int | None] = field(default_factory=list)


class PushingPage(Resource):
    """
    A page that pushes each of C{pushes} (target, keyword arguments) before
    writing its body.
    """

    isLeaf = True

    def __init__(
        self, pushes: list[tuple[Any, dict[str, Any]]], log: PageLog, delay: float = 0
    ):
        super().__init__()
        self.pushes = pushes
        self.log = log
        self.delay = delay

    def render_GET(self, request: Request) -> bytes | int:
        if self.delay:
            reactor.callLater(self.delay, self._respond, request)
            return NOT_DONE_YET
        return self._body(request)

    def _respond(self, request: Request) -> None:
        if request._disconnected:
            self.log.hadPusher.append(IPusher(request, None) is not None)
            return
        request.write(self._body(request))
        request.finish()

    def _body(self, request: Request) -> bytes:
        pusher = IPusher(request, None)
        self.log.hadPusher.append(pusher is not None)
        if pusher is not None:
            for target, kwargs in self.pushes:
                attempt = PushAttempt(target, kwargs)
                self.log.attempts.append(attempt)
                try:
                    d = pusher.push(target, **kwargs)
                except PushError as e:
                    attempt.error = e
                else:
                    d.addCallback(
                        lambda result, a=attempt: setattr(a, "result", result)
                    )
                    self.log.promisedParents.append(_priorityParent(request))
        request.setHeader(b"content-type", b"text/html")
        return b"<html>page</html>"


def _priorityParent(request: Request) -> int | None:
    # Where the last promised stream sits in the server's priority tree.
    connection = request.channel._conn
    promised = max(connection.pushState.pushedStreamIDs)
    parent = connection.priority._streams[promised].parent
    return None if parent is None else parent.stream_id


class EchoHeaders(Resource):
    """Answers with the request's method, URI and headers as JSON."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(
            {
                "method": request.method.decode(),
                "uri": request.uri.decode(),
                "secure": request.isSecure(),
                "headers": {
                    k.decode().lower(): [v.decode() for v in vs]
                    for k, vs in request.requestHeaders.getAllRawHeaders()
                },
            }
        ).encode()

    render_HEAD = render_GET


class RecursivePusher(Resource):
    """A pushed asset that tries to push in turn."""

    isLeaf = True

    def __init__(self, log: PageLog):
        super().__init__()
        self.log = log

    def render_GET(self, request: Request) -> bytes:
        pusher = IPusher(request, None)
        assert pusher is not None
        try:
            pusher.push(b"/app.js")
        except PushError as e:
            self.log.recursiveErrors.append(e)
        return b"recursive"


class SlowBody(Resource):
    """
    A large response produced chunk by chunk by a push producer, which
    records whether it was stopped.
    """

    isLeaf = True
    CHUNK = b"x" * 16384

    def __init__(self, chunks: int = 256):
        super().__init__()
        self.chunks = chunks
        self.rendered = 0
        self.stopped: list[bool] = []
        self.finished: list[bool] = []

    def render_GET(self, request: Request) -> int:
        self.rendered += 1
        producer = _ChunkProducer(request, self.chunks, self)
        request.registerProducer(producer, True)
        reactor.callLater(0, producer.resumeProducing)
        return NOT_DONE_YET


class _ChunkProducer:
    def __init__(self, request: Request, chunks: int, owner: SlowBody):
        self.request = request
        self.remaining = chunks
        self.owner = owner
        self.paused = False
        self.stopped = False
        self.pending: Any = None

    def resumeProducing(self) -> None:
        self.paused = False
        if self.pending is None and not self.stopped:
            self.pending = reactor.callLater(0, self._produce)

    def pauseProducing(self) -> None:
        self.paused = True

    def stopProducing(self) -> None:
        self.stopped = True
        self.owner.stopped.append(True)

    def _produce(self) -> None:
        self.pending = None
        if self.stopped or self.paused:
            return
        if self.remaining == 0:
            self.request.unregisterProducer()
            self.request.finish()
            self.owner.finished.append(True)
            return
        self.remaining -= 1
        # A write may pause this producer (flow control); resume only if not.
        self.request.write(SlowBody.CHUNK)
        if not self.paused and not self.stopped:
            self.pending = reactor.callLater(0, self._produce)


def buildSite(
    pushes: list[tuple[Any, dict[str, Any]]],
    log: PageLog | None = None,
    delay: float = 0,
    **siteArguments: Any,
) -> tuple[PushSite, PageLog, Resource]:
    """
    A PushSite whose C{/} pushes C{pushes}; returns the site, the page's log
    and the root resource (to add children).
    """
    log = PageLog() if log is None else log
    root = Resource()
    root.putChild(b"", PushingPage(pushes, log, delay))
    root.putChild(b"app.js", Data(APP_JS, "text/javascript"))
    root.putChild(b"style.css", Data(STYLE_CSS, "text/css"))
    root.putChild(b"echo", EchoHeaders())
    root.putChild(b"recursive.js", RecursivePusher(log))
    site = PushSite(root, **siteArguments)
    site.noisy = False
    return site, log, root


def push(target: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    """A (target, keyword arguments) pair for buildSite."""
    return target, kwargs
