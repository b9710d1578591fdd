"""
Backends for the reverse proxy tests (tests/test_proxy.py):

  - L{app}: a small Flask application, served by gunicorn (C{-k gthread}):
    a page with a C{Link: rel=preload} header and its own cookie, the
    stylesheet it names, pages that send their own C{103 Early Hints}, a
    gzip body with an C{ETag}, and several C{Set-Cookie} fields.  A request
    with an C{X-Gate: NAME} header is answered only once the file C{NAME}
    exists in the directory C{$PROXYBACKENDS_GATES}: the test decides when
    the application has finished "thinking".

  - L{RecordingBackend}: an in-process Twisted site, for the backends that
    misbehave on purpose and the ones whose connections are counted: it
    records every raw header line it reads, every connection it accepts and
    loses, and serves C{/echo}, C{/never}, C{/short}, C{/stream/N} and
    C{/upload}.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, make_response, request
from twisted.internet.interfaces import IPullProducer
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from zope.interface import implementer

from txpush.testing.waiting import waitFor

# The Flask application, for gunicorn.

PAGE_LINK = "</static/app.css>; rel=preload; as=style"
"""The preload link of the application's page."""

OWN_HINT = "</x.css>; rel=preload; as=style"
"""The link of the 103 the application sends itself."""

APP_CSS = b"body { color: teal; }\n" * 10
"""The stylesheet the page names."""

PAGE_HTML = b"""<!DOCTYPE html>
<html>
<head><title>proxied</title><link rel="stylesheet" href="/static/app.css"></head>
<body><h1>Behind txpush</h1></body>
</html>
"""

GZIP_PLAIN = b"compressed by the backend, relayed as it is\n" * 200
"""What the gzip body decompresses to."""

GZIP_BODY = gzip.compress(GZIP_PLAIN, mtime=0)
"""The backend's gzip body, byte for byte."""

GZIP_ETAG = "gz-v1"
"""Its entity tag."""

COOKIES = [
    "first=1; Path=/",
    "second=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT; HttpOnly",
    "third=3",
]
"""The Set-Cookie values of C{/cookies}: one holds a comma."""

GATE_TIMEOUT = 30.0
"""How long a gated request waits for its file, in seconds."""

_GATE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

app = Flask(__name__, static_folder=None)


def waitForGate() -> None:
    """
    With an C{X-Gate: NAME} header, wait until C{$PROXYBACKENDS_GATES/NAME}
    exists (the test creates it once it has seen what comes before the
    answer).
    """
    name = request.headers.get("X-Gate")
    if name is None:
        return
    assert _GATE_NAME.match(name), name
    gate = Path(os.environ["PROXYBACKENDS_GATES"]) / name
    waitFor(gate.exists, timeout=GATE_TIMEOUT)


def sendOwnHints() -> None:
    """Send the application's own 103, with gunicorn's wsgi.early_hints."""
    request.environ["wsgi.early_hints"]([("Link", OWN_HINT)])


@app.route("/")
def page() -> Response:
    """The page: a preload link and the application's cookie."""
    waitForGate()
    response = make_response(PAGE_HTML)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Link"] = PAGE_LINK
    response.set_cookie("visited", "yes")
    return response


@app.route("/static/app.css")
def stylesheet() -> Response:
    """The page's stylesheet."""
    return Response(APP_CSS, content_type="text/css")


@app.route("/own-hints")
def ownHints() -> Response:
    """A page with no Link header that sends its own 103."""
    sendOwnHints()
    waitForGate()
    return Response(b"<p>hinted by the application</p>", content_type="text/html")


@app.route("/both")
def both() -> Response:
    """A page that sends its own 103, and lists a preload link too."""
    sendOwnHints()
    waitForGate()
    response = Response(b"<p>both</p>", content_type="text/html")
    response.headers["Link"] = PAGE_LINK
    return response


@app.route("/gzip", methods=["GET", "HEAD"])
def gzipped() -> Response:
    """A gzip body the application compressed, with an entity tag."""
    response = Response(GZIP_BODY, content_type="text/plain")
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(GZIP_ETAG)
    return response.make_conditional(request)


@app.route("/cookies")
def cookies() -> Response:
    """Several Set-Cookie fields."""
    response = Response(b"cookies\n", content_type="text/plain")
    for value in COOKIES:
        response.headers.add("Set-Cookie", value)
    return response


@app.route("/environ")
def environ() -> Response:
    """The request's headers, as the application sees them."""
    seen = {k: v for k, v in request.environ.items() if k.startswith("HTTP_")}
    seen["wsgi.url_scheme"] = request.environ["wsgi.url_scheme"]
    return Response(json.dumps(seen), content_type="application/json")


# The in-process Twisted backend.


class RecordingChannel(HTTPChannel):
    """
    An HTTP/1.1 server connection that tells its L{RecordingBackend} when
    it opens and closes, and records each request's raw header lines.
    """

    backend: RecordingBackend

    def connectionMade(self) -> None:
        self.heads: list[list[bytes]] = []
        self._head: list[bytes] = []
        self.backend.opened(self)
        super().connectionMade()

    def connectionLost(self, reason: Failure) -> None:
        self.backend.closed(self)
        super().connectionLost(reason)

    def lineReceived(self, line: bytes) -> None:
        if line or self._head:
            self._head.append(line)
        if not line and self._head:
            head, self._head = self._head, []
            self.heads.append(head)
            self.backend.headReceived(head)
        super().lineReceived(line)


@implementer(IPullProducer)
class _Stream:
    # Writes a body of `size` bytes, a block each time the transport wants
    # more: the backend never holds more than its transport's buffer.
    def __init__(self, backend: RecordingBackend, request: Any, size: int) -> None:
        self.backend = backend
        self.request = request
        self.remaining = size

    def resumeProducing(self) -> None:
        if self.remaining <= 0:
            return
        block = STREAM_BLOCK[: min(len(STREAM_BLOCK), self.remaining)]
        self.remaining -= len(block)
        self.backend.streamed += len(block)
        self.request.write(block)
        if self.remaining <= 0:
            self.request.unregisterProducer()
            self.request.finish()

    def stopProducing(self) -> None:
        self.remaining = 0


STREAM_BLOCK = bytes(range(256)) * 256
"""What C{/stream/N} repeats: 64 KiB."""


def streamedBody(size: int) -> bytes:
    """What C{/stream/SIZE} sends (for small sizes: to compare)."""
    whole, part = divmod(size, len(STREAM_BLOCK))
    return STREAM_BLOCK * whole + STREAM_BLOCK[:part]


def streamedDigest(size: int) -> str:
    """The SHA-256 of what C{/stream/SIZE} sends, without holding it."""
    digest = hashlib.sha256()
    whole, part = divmod(size, len(STREAM_BLOCK))
    for _ in range(whole):
        digest.update(STREAM_BLOCK)
    digest.update(STREAM_BLOCK[:part])
    return digest.hexdigest()


class _Backend(Resource):
    isLeaf = True

    def __init__(self, backend: RecordingBackend) -> None:
        super().__init__()
        self.backend = backend

    def render(self, request: Any) -> Any:
        backend = self.backend
        channel = request.channel
        head = channel.heads[-1] if channel.heads else []
        backend.requestReceived(request.method, request.uri, head)
        path = request.path
        if path == b"/never":
            # Never answers; says when its client gives up.
            request.notifyFinish().addErrback(lambda _: backend.cancelled.append(1))
            return NOT_DONE_YET
        if path == b"/short":
            # Promises 1000 bytes, sends 10 and closes.
            request.setHeader(b"content-length", b"1000")
            request.write(b"0123456789")
            channel.transport.loseConnection()
            return NOT_DONE_YET
        if path.startswith(b"/stream/"):
            size = int(path.rsplit(b"/", 1)[1])
            request.setHeader(b"content-type", b"application/octet-stream")
            request.registerProducer(_Stream(backend, request, size), False)
            return NOT_DONE_YET
        body = b""
        if request.method in (b"POST", b"PUT") and request.content is not None:
            request.content.seek(0)
            digest = hashlib.sha256()
            length = 0
            while chunk := request.content.read(1 << 20):
                digest.update(chunk)
                length += len(chunk)
            backend.uploads.append((length, digest.hexdigest()))
            body = json.dumps({"length": length, "sha256": digest.hexdigest()}).encode()
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(
            {
                "method": request.method.decode(),
                "uri": request.uri.decode(),
                "head": [line.decode("latin-1") for line in head],
                "body": json.loads(body) if body else None,
            }
        ).encode()


class RecordingBackend:
    """
    An HTTP/1.1 backend, made to be listened on in the reactor thread, that
    records what reaches it.

    @ivar site: Its site.
    @ivar connectionsMade: How many connections it accepted.
    @ivar connectionsLost: How many of them closed.
    @ivar heads: Every request's raw header lines (request line first), in
        the order read.
    @ivar requests: (method, URI) of every request that reached a resource.
    @ivar cancelled: One entry per C{/never} request whose client went
        away.
    @ivar streamed: Bytes C{/stream/N} wrote so far.
    @ivar uploads: (length, SHA-256) of each request body it read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connectionsMade = 0
        self.connectionsLost = 0
        self.heads: list[list[bytes]] = []
        self.requests: list[tuple[bytes, bytes]] = []
        self.cancelled: list[int] = []
        self.streamed = 0
        self.uploads: list[tuple[int, str]] = []
        self.site = Site(_Backend(self))
        backend = self

        class Channel(RecordingChannel):
            pass

        Channel.backend = backend
        self.site.protocol = Channel

    @property
    def openConnections(self) -> int:
        """How many of its connections are open."""
        return self.connectionsMade - self.connectionsLost

    def opened(self, channel: RecordingChannel) -> None:
        """A connection was accepted."""
        with self._lock:
            self.connectionsMade += 1

    def closed(self, channel: RecordingChannel) -> None:
        """A connection closed."""
        with self._lock:
            self.connectionsLost += 1

    def headReceived(self, head: list[bytes]) -> None:
        """A request's header lines were read."""
        with self._lock:
            self.heads.append(head)

    def requestReceived(self, method: bytes, uri: bytes, head: list[bytes]) -> None:
        """A request reached the resource."""
        with self._lock:
            self.requests.append((method, uri))

    def mark(self) -> Callable[[], list[list[bytes]]]:
        """
        @return: A function that returns the heads read since this call.
        """
        start = len(self.heads)
        return lambda: self.heads[start:]


def headerLines(head: list[bytes], name: bytes) -> list[bytes]:
    """
    @param head: Raw header lines (request line first).
    @param name: A header's name, any case.
    @return: The lines of that header, as read.
    """
    prefix = name.lower() + b":"
    return [line for line in head[1:] if line.lower().startswith(prefix)]


def headerValues(head: list[bytes], name: bytes) -> list[bytes]:
    """
    @param head: Raw header lines (request line first).
    @param name: A header's name, any case.
    @return: Its values, in order, stripped.
    """
    return [line.split(b":", 1)[1].strip() for line in headerLines(head, name)]
