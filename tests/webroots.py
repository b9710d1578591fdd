"""
Roots that C{twist txpush} processes import by name in the command-line
tests (C{--class}, C{--wsgi}, C{--processor}): run the server with the
repository as its current directory so that C{tests.webroots} imports.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from twisted.web.resource import Resource
from twisted.web.server import Request
from twisted.web.static import Data

from txpush.testing.waiting import waitFor

CLASS_PAGE = (
    b'<!DOCTYPE html><html><head><link rel="stylesheet" href="/class.css">'
    b"</head><body><p>class root</p></body></html>"
)
CLASS_CSS = b"p { color: teal; }\n"
BOOM_MESSAGE = "webroots deliberately failed to render"


class Boom(Resource):
    """A page whose rendering raises."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        raise RuntimeError(BOOM_MESSAGE)


class ClassRoot(Resource):
    """
    A root for C{--class}: a page at C{/} with a stylesheet, and a page
    at C{/boom} that raises.
    """

    def __init__(self) -> None:
        super().__init__()
        self.putChild(b"", Data(CLASS_PAGE, "text/html"))
        self.putChild(b"class.css", Data(CLASS_CSS, "text/css"))
        self.putChild(b"boom", Boom())


class NotAResource:
    """A class with a zero-argument constructor that makes no resource."""


class UpperProcessor(Resource):
    """
    A C{--processor}: serves its file's text in upper case, as text/plain,
    so that a response shows the processor served it.
    """

    isLeaf = True

    def __init__(self, path: str, registry: object) -> None:
        super().__init__()
        self.path = path

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return Path(self.path).read_bytes().upper()


WSGI_PAGE = (
    b'<!DOCTYPE html><html><head><link rel="stylesheet" href="/static/app.css">'
    b"</head><body><p>wsgi root</p></body></html>"
)
WSGI_COOKIE = "session=wsgi-own; Path=/"
FIRST_CHUNK = b"first chunk\n"
RELEASE_VARIABLE = "WEBROOTS_RELEASE"
"""The environment variable naming the file whose creation lets
C{/stream} finish."""

TOGETHER = 3
"""How many C{/together} requests must run at once for any to finish."""

_barrier = threading.Barrier(TOGETHER, timeout=15)
_running = 0
_most = 0
_lock = threading.Lock()

StartResponse = Callable[..., Any]


def _stream() -> Iterator[bytes]:
    yield FIRST_CHUNK
    release = Path(os.environ[RELEASE_VARIABLE])
    if not waitFor(release.exists, timeout=20):
        yield b"never released\n"
        return
    yield b"released: rest of the stream\n"


def _together() -> bytes:
    global _running, _most
    with _lock:
        _running += 1
        _most = max(_most, _running)
    try:
        _barrier.wait()
    except threading.BrokenBarrierError:
        return b"broken"
    finally:
        with _lock:
            _running -= 1
    return b"together"


def application(
    environ: dict[str, Any], startResponse: StartResponse
) -> Iterable[bytes]:
    """
    A plain WSGI application:

      - C{/}: a page with a C{Link: rel=preload} header for
        C{/static/app.css} (served by C{--static}) and its own cookie;
      - C{/stream}: a first chunk at once, the rest only once the file
        named by C{$WEBROOTS_RELEASE} exists;
      - C{/together}: waits until L{TOGETHER} such requests run at once
        (C{broken} after 15 seconds without them);
      - C{/most}: the most C{/together} requests that ever ran at once.
    """
    path = environ.get("PATH_INFO", "")
    if path in ("", "/"):
        startResponse(
            "200 OK",
            [
                ("Content-Type", "text/html"),
                ("Link", "</static/app.css>; rel=preload; as=style"),
                ("Set-Cookie", WSGI_COOKIE),
            ],
        )
        return [WSGI_PAGE]
    if path == "/stream":
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return _stream()
    if path == "/together":
        body = _together()
        status = "200 OK" if body == b"together" else "500 Internal Server Error"
        startResponse(status, [("Content-Type", "text/plain")])
        return [body]
    if path == "/most":
        startResponse("200 OK", [("Content-Type", "text/plain")])
        return [str(_most).encode()]
    startResponse("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]
