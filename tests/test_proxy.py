"""
C{twist txpush --proxy}: a real C{twist txpush} process in front of real
backends, driven with nghttp, the python h2 client (h2c and TLS) and raw
HTTP/1.1 sockets.

The backends (tests/proxybackends.py): a Flask application under gunicorn
(C{-k gthread}), and a Twisted site in this process's reactor thread that
misbehaves on purpose and counts its connections and the raw header lines
it reads.

Nothing here orders events by sleeping: every wait polls a condition until
a deadline (a backend "thinks" until the test creates a file).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h2.events
import h2.settings
import pytest
from twisted.internet import reactor

from tests.conftest import onReactor
from tests.proxybackends import (
    APP_CSS,
    COOKIES,
    GZIP_BODY,
    GZIP_ETAG,
    OWN_HINT,
    PAGE_HTML,
    PAGE_LINK,
    STREAM_BLOCK,
    RecordingBackend,
    headerLines,
    headerValues,
    streamedBody,
    streamedDigest,
)
from txpush.proxy import MAX_PERSISTENT_PER_BACKEND
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.nghttp import runNghttp
from txpush.testing.twist import TwistServer
from txpush.testing.waiting import waitFor

TESTS = Path(__file__).parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
LISTEN = ("--listen", "tcp:0", "--listen", "ssl:0")

STATS_ROW = re.compile(
    r"^\s*\d+\s+\S+\s+(\*?)\s*\S+\s+\S+\s+(\d+)\s+\d+\s+(\S+)\s*$", re.M
)
"""A row of nghttp -s statistics: pushed star, status, path."""

Header = tuple[bytes, bytes]


# Processes.


class Gunicorn:
    """
    gunicorn (C{-k gthread}) serving L{proxybackends.app} on a free port.

    @ivar gates: The directory whose files let gated requests answer.
    """

    def __init__(self, gates: Path) -> None:
        self.gates = gates
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "-k",
                "gthread",
                "--threads",
                "8",
                "--workers",
                "1",
                "--bind",
                "127.0.0.1:0",
                "--no-control-socket",
                "--pythonpath",
                str(TESTS),
                "proxybackends:app",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PROXYBACKENDS_GATES": str(gates)},
        )
        listening = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
        booted = re.compile(r"Booting worker")
        found: list[int] = []
        ready = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.log.append(line)
                match = listening.search(line)
                if match:
                    found.append(int(match.group(1)))
                if found and booted.search(line):
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        ready.wait(30)
        assert found, f"gunicorn did not start: {self.log}"
        self.port = found[0]
        self.url = f"http://127.0.0.1:{self.port}"
        assert waitFor(lambda: status(self.port, "/cookies") == 200, 30), self.log

    def gate(self) -> tuple[Header, Callable[[], None]]:
        """
        @return: The header that holds a request in the application, and
            the function that lets it answer.
        """
        name = uuid.uuid4().hex
        return (b"x-gate", name.encode()), (self.gates / name).touch

    def stop(self) -> None:
        """Stop gunicorn."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def status(port: int, path: str) -> int | None:
    """The status of a plain GET, or None if nothing answers on the port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


class Servers:
    """The C{twist txpush} processes a test module started."""

    def __init__(self, stateDirectory: Path) -> None:
        self.stateDirectory = stateDirectory
        self.started: list[TwistServer] = []

    def start(self, *arguments: str, wait: bool = True) -> TwistServer:
        """Start C{twist txpush ARGUMENTS}."""
        server = TwistServer(*arguments, stateDirectory=self.stateDirectory, wait=wait)
        self.started.append(server)
        return server

    def stopAll(self) -> None:
        """Kill those still running."""
        for server in self.started:
            server.kill()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """Starts C{twist txpush} processes, killed at the module's end."""
    started = Servers(tmp_path_factory.mktemp("state"))
    yield started
    started.stopAll()


@pytest.fixture
def freshServers(tmp_path: Path) -> Iterator[Servers]:
    """Starts C{twist txpush} processes, killed at the test's end."""
    started = Servers(tmp_path / "state")
    yield started
    started.stopAll()


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """The Flask application under gunicorn."""
    server = Gunicorn(tmp_path_factory.mktemp("gates"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def appFront(servers: Servers, gunicorn: Gunicorn) -> TwistServer:
    """C{twist txpush --proxy} in front of gunicorn."""
    return servers.start("--proxy", gunicorn.url, *LISTEN)


def listenBackend(backend: RecordingBackend) -> tuple[Any, str]:
    """Listen on a free loopback port; return the port and its URL."""
    port = onReactor(reactor.listenTCP, 0, backend.site, interface="127.0.0.1")
    return port, f"http://127.0.0.1:{port.getHost().port}"


@pytest.fixture(scope="module")
def recording(reactorThread: None) -> Iterator[tuple[RecordingBackend, str]]:
    """The in-process Twisted backend, and its URL."""
    backend = RecordingBackend()
    port, url = listenBackend(backend)
    yield backend, url
    onReactor(port.stopListening)


@pytest.fixture
def freshRecording(reactorThread: None) -> Iterator[tuple[RecordingBackend, str]]:
    """An in-process Twisted backend of the test's own, and its URL."""
    backend = RecordingBackend()
    port, url = listenBackend(backend)
    yield backend, url
    onReactor(port.stopListening)


@pytest.fixture(scope="module")
def front(servers: Servers, recording: tuple[RecordingBackend, str]) -> TwistServer:
    """C{twist txpush --proxy} in front of the recording backend, defaults."""
    return servers.start("--proxy", recording[1], *LISTEN)


@pytest.fixture(scope="module")
def trustingFront(
    servers: Servers, recording: tuple[RecordingBackend, str]
) -> TwistServer:
    """
    In front of the recording backend: trusts 127.0.0.1, gives the backend
    its own Host, and a second to answer.
    """
    return servers.start(
        "--proxy",
        recording[1],
        "--trusted-proxy",
        "127.0.0.1",
        "--proxy-host",
        "backend",
        "--proxy-timeout",
        "1",
        *LISTEN,
    )


def deadPort() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SITE_INDEX = b"<!DOCTYPE html><p>a file, beside the API</p>"
SITE_CSS = b"p { margin: 1em; }\n"


@pytest.fixture(scope="module")
def mounted(
    servers: Servers,
    recording: tuple[RecordingBackend, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[TwistServer, str]:
    """
    C{--path DIR} with the recording backend at C{/api} and a backend that
    is down at C{/down}; and the down backend's URL.
    """
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_bytes(SITE_INDEX)
    (site / "style.css").write_bytes(SITE_CSS)
    down = f"http://127.0.0.1:{deadPort()}"
    server = servers.start(
        "--path",
        str(site),
        "--proxy",
        f"/api={recording[1]}",
        "--proxy",
        f"/down={down}",
        *LISTEN,
    )
    return server, down


# Clients.


def connect(server: TwistServer, transport: str, **options: Any) -> H2Client:
    """An HTTP/2 client of the server, over h2c or TLS."""
    tls = transport == "tls"
    return H2Client(server.port("https" if tls else "http"), tls=tls, **options)


def values(stream: Stream, name: bytes) -> list[bytes]:
    """Every value of a response header, in order."""
    return [value for key, value in stream.headers or [] if key == name]


def hintLinks(hints: list[Header]) -> list[bytes]:
    """The Link values of a 103's headers."""
    assert dict(hints)[b":status"] == b"103"
    return [value for key, value in hints if key == b"link"]


def hintedOrDone(stream: Stream) -> Callable[[], bool]:
    """A condition: the stream got an informational response, or ended."""
    return lambda: bool(stream.informational) or stream.done


def loadWhileItThinks(
    front: TwistServer, gunicorn: Any, transport: str, path: bytes
) -> tuple[Stream, list[list[tuple[bytes, bytes]]], list[Stream]]:
    """
    Load C{path} without push while the application holds its answer at a
    gate, and let it answer once an informational response came (or the
    stream ended, which fails: the backend answered before its gate).

    @return: The page's stream once complete, the informational responses
        it had before its final headers, and the pushes of the connection.
    """
    gate, answer = gunicorn.gate()
    with connect(front, transport, enablePush=False) as client:
        streamID = client.request(path, [gate])
        stream = client.streams[streamID]
        client.runUntil(hintedOrDone(stream))
        assert stream.headers is None, "the backend answered before its gate"
        before = list(stream.informational)
        answer()
        client.runUntil(client.settled(streamID))
    return stream, before, client.pushes()


def nghttpRows(output: str) -> dict[str, tuple[bool, int]]:
    """{path: (pushed, status)} from the statistics of C{nghttp -ans}."""
    return {
        path: (star == "*", int(code)) for star, code, path in STATS_ROW.findall(output)
    }


class RawResponse:
    """
    An HTTP/1.1 response read from a raw socket (after any 1xx).

    @ivar informational: The status lines of the 1xx responses before it.
    """

    def __init__(self, data: bytes) -> None:
        self.raw = data
        self.informational: list[bytes] = []
        while re.match(rb"HTTP/1\.1 1\d\d ", data):
            head, _, data = data.partition(b"\r\n\r\n")
            self.informational.append(head.split(b"\r\n")[0])
        head, self.complete, self.body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status = int(lines[0].split()[1]) if self.complete else None
        self.headers = [
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in lines[1:])
        ]

    def header(self, name: bytes) -> list[bytes]:
        """Every value of a header."""
        return [value for key, value in self.headers if key == name]

    @property
    def whole(self) -> bool:
        """Whether the body is all there, as its Content-Length says."""
        lengths = self.header(b"content-length")
        return bool(self.complete) and (
            bool(lengths) and len(self.body) >= int(lengths[0])
        )


def rawExchange(port: int, data: bytes, timeout: float = 10.0) -> RawResponse:
    """
    Send bytes on a new HTTP/1.1 connection and read the response: until
    its Content-Length is read, or the server closes the connection (or
    cuts it off).
    """
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        while not RawResponse(bytes(received)).whole:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return RawResponse(bytes(received))


def echoed(body: bytes | bytearray) -> dict[str, Any]:
    """The recording backend's /echo answer."""
    answer: dict[str, Any] = json.loads(bytes(body))
    return answer


def echoedHead(body: bytes | bytearray) -> list[bytes]:
    """The raw header lines the recording backend read, from its answer."""
    return [line.encode("latin-1") for line in echoed(body)["head"]]


# 1. gunicorn + Flask behind txpush: push, digest, cookies, learned hints.


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_firstVisitPushesRepeatDoesNot(appFront, nghttp, scheme):
    """
    Over h2c and TLS, nghttp's first visit to the proxied page gets the
    stylesheet its Link header names pushed, with the application's cookie
    and the digest cookie; the repeat visit that sends both back gets no
    push, and nghttp fetches the stylesheet itself.
    """
    first = runNghttp(nghttp, "-ans", "-v", appFront.url(scheme))
    assert nghttpRows(first) == {"/": (False, 200), "/static/app.css": (True, 200)}
    cookies = re.findall(r"set-cookie: ([^=]+=[^;\s]+)", first)
    assert "visited=yes" in cookies
    digest = [cookie for cookie in cookies if cookie.startswith("h2o_casper=")]
    assert digest, first
    repeat = runNghttp(
        nghttp,
        "-ans",
        "-H",
        f"cookie: visited=yes; {digest[-1]}",
        appFront.url(scheme),
    )
    assert nghttpRows(repeat) == {"/": (False, 200), "/static/app.css": (False, 200)}
    assert appFront.problems == []


def test_pushedStylesheetComesFromTheBackend(appFront, transport):
    """The pushed stylesheet is the backend's, byte for byte."""
    with connect(appFront, transport) as client:
        page = client.get(b"/")
        (push,) = client.pushes(page.streamID)
    assert page.status == 200
    assert bytes(page.body) == PAGE_HTML
    assert push.path == b"/static/app.css"
    assert (push.status, bytes(push.body)) == (200, APP_CSS)
    assert sorted(v.split(b"=")[0] for v in values(page, b"set-cookie")) == [
        b"h2o_casper",
        b"visited",
    ]


def test_learnedHintBeforeTheBackendAnswers(appFront, gunicorn, transport):
    """
    A client that takes no push gets, on the page's next request, a 103
    naming the stylesheet the page's Link header listed, while the
    application is still thinking: the stream has no final headers yet.
    """
    with connect(appFront, transport, enablePush=False) as client:
        assert client.get(b"/").status == 200
    stream, before, pushes = loadWhileItThinks(appFront, gunicorn, transport, b"/")
    (hints,) = before
    assert hintLinks(hints) == [PAGE_LINK.encode()]
    assert stream.status == 200
    assert bytes(stream.body) == PAGE_HTML
    assert len(stream.informational) == 1
    assert pushes == []


# 2. The backend's own 103.


def test_backendsOwnEarlyHintsRelayed(appFront, gunicorn, transport):
    """
    A page that learned no hints (it lists no Link) relays the 103 the
    application sends itself, before the application answers; one 103.
    """
    for _ in range(2):
        stream, _, _ = loadWhileItThinks(appFront, gunicorn, transport, b"/own-hints")
        assert stream.status == 200
        (hints,) = stream.informational
        assert hintLinks(hints) == [OWN_HINT.encode()]


def test_learnedHintsAndOwnHintsGiveOne103(appFront, gunicorn, transport):
    """
    A page with learned hints that also sends its own 103 gets one 103:
    txpush's, sent first; the application's is dropped.
    """
    with connect(appFront, transport, enablePush=False) as client:
        first = client.get(b"/both")
    assert first.status == 200
    assert len(first.informational) == 1
    stream, _, _ = loadWhileItThinks(appFront, gunicorn, transport, b"/both")
    assert stream.status == 200
    (hints,) = stream.informational
    assert hintLinks(hints) == [PAGE_LINK.encode()]


def test_backendsOwnEarlyHintsOverHTTP11(appFront):
    """An HTTP/1.1 client gets the application's 103 too, one."""
    response = rawExchange(
        appFront.port(), b"GET /own-hints HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert response.informational == [b"HTTP/1.1 103 Early Hints"]
    assert OWN_HINT.encode() in response.raw.split(b"\r\n\r\n", 1)[0]
    assert response.status == 200


# 3. What the backend is told.


def test_forwardedHeadersReplaced(front, recording, transport):
    """
    The backend gets X-Forwarded-For, -Proto and -Host and Via of txpush's
    own, the client's spoofed ones gone, and the client's Host.
    """
    with connect(front, transport) as client:
        stream = client.get(
            b"/echo",
            [
                (b"x-forwarded-for", b"203.0.113.66"),
                (b"x-forwarded-proto", b"gopher"),
                (b"x-forwarded-host", b"evil.example"),
                (b"forwarded", b"for=203.0.113.66"),
                (b"x-kept", b"yes"),
            ],
        )
        authority = client.authority
    assert stream.status == 200
    head = echoedHead(stream.body)
    assert headerValues(head, b"x-forwarded-for") == [b"127.0.0.1"]
    proto = b"https" if transport == "tls" else b"http"
    assert headerValues(head, b"x-forwarded-proto") == [proto]
    assert headerValues(head, b"x-forwarded-host") == [authority]
    assert headerValues(head, b"forwarded") == []
    assert headerValues(head, b"via") == [b"2 txpush"]
    assert headerValues(head, b"host") == [authority]
    assert headerValues(head, b"x-kept") == [b"yes"]
    assert values(stream, b"via")[-1].endswith(b"txpush")


def test_hopByHopFieldsNotForwarded(front, recording):
    """
    Over HTTP/1.1, the fields that concern one connection, and the ones
    its Connection header names (any case), do not reach the backend.
    """
    backend, _ = recording
    since = backend.mark()
    response = rawExchange(
        front.port("http"),
        b"GET /echo HTTP/1.1\r\n"
        b"Host: front.example\r\n"
        b"Connection: close, X-Foo, x-BAR\r\n"
        b"X-Foo: secret\r\n"
        b"X-Bar: also secret\r\n"
        b"Keep-Alive: timeout=5\r\n"
        b"TE: trailers\r\n"
        b"Trailer: X-Later\r\n"
        b"Proxy-Authorization: Basic c2VjcmV0\r\n"
        b"Proxy-Connection: keep-alive\r\n"
        b"X-Kept: yes\r\n"
        b"\r\n",
    )
    assert response.status == 200
    (head,) = since()
    for name in (
        b"connection",
        b"x-foo",
        b"x-bar",
        b"keep-alive",
        b"te",
        b"trailer",
        b"proxy-authorization",
        b"proxy-connection",
        b"transfer-encoding",
        b"upgrade",
    ):
        assert headerLines(head, name) == [], (name, head)
    assert headerValues(head, b"x-kept") == [b"yes"]
    assert headerValues(head, b"via") == [b"1.1 txpush"]
    assert headerValues(head, b"host") == [b"front.example"]


def test_chunkedUploadForwardedWithItsLength(front, recording):
    """
    A chunked HTTP/1.1 body reaches the backend whole, with a
    Content-Length and no Transfer-Encoding.
    """
    response = rawExchange(
        front.port(),
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    )
    assert response.status == 200
    head = echoedHead(response.body)
    assert headerValues(head, b"content-length") == [b"11"]
    assert headerLines(head, b"transfer-encoding") == []
    assert echoed(response.body)["body"] == {
        "length": 11,
        "sha256": hashlib.sha256(b"hello world").hexdigest(),
    }


def test_trustedProxyExtended(trustingFront, recording, transport):
    """
    From a trusted proxy, X-Forwarded-For is extended with the client's
    address, its -Proto and -Host are kept, Via is chained; with
    --proxy-host backend, the backend gets its own host and port.
    """
    _, url = recording
    with connect(trustingFront, transport) as client:
        stream = client.get(
            b"/echo",
            [
                (b"x-forwarded-for", b"203.0.113.7"),
                (b"x-forwarded-proto", b"https"),
                (b"x-forwarded-host", b"www.example"),
                (b"via", b"1.1 balancer"),
            ],
        )
    assert stream.status == 200
    head = echoedHead(stream.body)
    assert headerValues(head, b"x-forwarded-for") == [b"203.0.113.7, 127.0.0.1"]
    assert headerValues(head, b"x-forwarded-proto") == [b"https"]
    assert headerValues(head, b"x-forwarded-host") == [b"www.example"]
    assert headerValues(head, b"via") == [b"1.1 balancer, 2 txpush"]
    assert headerValues(head, b"host") == [url.removeprefix("http://").encode()]


def test_trustedProxyWithoutForwardedFields(trustingFront, recording):
    """A trusted client that sends no X-Forwarded-For gets one made."""
    response = rawExchange(
        trustingFront.port("http"),
        b"GET /echo HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    )
    head = echoedHead(response.body)
    assert headerValues(head, b"x-forwarded-for") == [b"127.0.0.1"]
    assert headerValues(head, b"x-forwarded-proto") == [b"http"]
    assert headerValues(head, b"x-forwarded-host") == [b"a.example"]


def test_applicationSeesForwardedFields(appFront, transport):
    """The WSGI application behind gunicorn sees them too."""
    with connect(appFront, transport) as client:
        stream = client.get(b"/environ", [(b"x-forwarded-for", b"198.51.100.1")])
    environ = json.loads(bytes(stream.body))
    assert environ["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    assert environ["HTTP_VIA"] == "2 txpush"
    scheme = "https" if transport == "tls" else "http"
    assert environ["HTTP_X_FORWARDED_PROTO"] == scheme
    # gunicorn trusts 127.0.0.1's X-Forwarded-Proto: the application knows.
    assert environ["wsgi.url_scheme"] == scheme


# 4. Responses relayed as they are.


def test_headAndConditionalRequests(appFront, transport):
    """
    HEAD gets the headers and no body; If-None-Match gets the backend's
    304; the gzip body the backend made passes byte for byte.
    """
    with connect(appFront, transport) as client:
        head = client.get(b"/gzip", method=b"HEAD")
        notModified = client.get(
            b"/gzip", [(b"if-none-match", f'"{GZIP_ETAG}"'.encode())]
        )
        full = client.get(b"/gzip", [(b"accept-encoding", b"gzip")])
    assert head.status == 200
    assert bytes(head.body) == b""
    assert values(head, b"content-encoding") == [b"gzip"]
    assert values(head, b"etag") == [f'"{GZIP_ETAG}"'.encode()]
    assert values(head, b"content-length") == [str(len(GZIP_BODY)).encode()]
    assert notModified.status == 304
    assert bytes(notModified.body) == b""
    assert values(notModified, b"etag") == [f'"{GZIP_ETAG}"'.encode()]
    assert full.status == 200
    assert bytes(full.body) == GZIP_BODY
    assert values(full, b"content-encoding") == [b"gzip"]
    assert values(full, b"content-length") == [str(len(GZIP_BODY)).encode()]


def test_headAndConditionalOverHTTP11(appFront):
    """The same over HTTP/1.1."""
    connection = http.client.HTTPConnection("127.0.0.1", appFront.port(), timeout=10)
    connection.request("HEAD", "/gzip")
    head = connection.getresponse()
    assert (head.status, head.read()) == (200, b"")
    assert head.getheader("Content-Length") == str(len(GZIP_BODY))
    connection.request("GET", "/gzip", headers={"If-None-Match": f'"{GZIP_ETAG}"'})
    notModified = connection.getresponse()
    assert (notModified.status, notModified.read()) == (304, b"")
    connection.request("GET", "/gzip", headers={"Accept-Encoding": "gzip"})
    full = connection.getresponse()
    assert (full.status, full.read()) == (200, GZIP_BODY)
    assert full.getheader("Content-Encoding") == "gzip"
    connection.close()


def test_setCookiesKept(appFront, transport):
    """Every Set-Cookie of the backend arrives, apart, in order."""
    with connect(appFront, transport) as client:
        stream = client.get(b"/cookies")
    assert stream.status == 200
    assert values(stream, b"set-cookie") == [c.encode() for c in COOKIES]
    # The backend's Server and Date stand, not Twisted's beside them.
    assert values(stream, b"server") == [b"gunicorn"]
    assert len(values(stream, b"date")) == 1
    connection = http.client.HTTPConnection("127.0.0.1", appFront.port(), timeout=10)
    connection.request("GET", "/cookies")
    response = connection.getresponse()
    response.read()
    assert response.msg.get_all("Set-Cookie") == COOKIES
    connection.close()


# 5. Faults.


def test_backendDown(mounted):
    """
    A backend nothing listens on: 502 with a short body, and one warning
    that names it.
    """
    server, down = mounted
    since = len(server.log)
    with H2Client(server.port()) as client:
        stream = client.get(b"/down/page")
        # A request after it, to know the log has everything about the first.
        assert client.get(b"/style.css").status == 200
    assert stream.status == 502
    assert 0 < len(stream.body) < 200
    server.waitFor(re.compile(r'"GET /style.css HTTP/2" 200'))
    logged = server.log[since:]
    warnings = [line for line in logged if "#warn]" in line]
    assert len(warnings) == 1, logged
    assert down in warnings[0] and "/down/page" in warnings[0]
    assert server.problems == []


def test_backendConnectionsAreNotLogged(mounted):
    """
    The warning is the one line that names the backend: its connection
    attempts are not logged (Twisted's "Starting factory" and "Stopping
    factory" lines, two per backend connection).
    """
    server, down = mounted
    since = len(server.log)
    with H2Client(server.port()) as client:
        assert client.get(b"/down/other").status == 502
        assert client.get(b"/style.css").status == 200
    server.waitFor(re.compile(r'"GET /style.css HTTP/2" 200'))
    authority = down.removeprefix("http://")
    named = [line for line in server.log[since:] if authority in line]
    assert len(named) == 1, named


def test_backendTimeout(trustingFront, recording):
    """
    A backend that never answers: with --proxy-timeout 1, the client gets
    504, and the backend's request is given up (its connection closed).
    """
    backend, _ = recording
    cancelled = len(backend.cancelled)
    with H2Client(trustingFront.port()) as client:
        stream = client.get(b"/never")
    assert stream.status == 504
    assert b"Gateway Timeout" in stream.body
    assert waitFor(lambda: len(backend.cancelled) > cancelled, 10)


def test_backendClosesMidBodyResetsTheStream(front, transport):
    """
    A backend that promises 1000 bytes and closes after 10: the HTTP/2
    stream is reset, not ended as though complete.
    """
    with connect(front, transport) as client:
        stream = client.get(b"/short")
    assert stream.resetCode is not None
    assert not stream.ended
    assert len(stream.body) < 1000


def test_backendClosesMidBodyCutsHTTP11(front):
    """
    Over HTTP/1.1, the connection is cut before the full length: the client
    gets the 200 with a body shorter than its Content-Length, or (the
    connection aborted before what was buffered went out) nothing at all;
    never the whole response.
    """
    for _ in range(3):
        response = rawExchange(
            front.port("http"), b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert not response.whole
        if response.status is not None:
            assert response.status == 200
            assert response.header(b"content-length") == [b"1000"]
            assert len(response.body) < 1000


def test_clientResetCancelsPendingBackendRequest(front, recording, transport):
    """
    A client that resets its stream while the backend thinks: the backend's
    request is cancelled, its connection closed.
    """
    backend, _ = recording
    lost, cancelled = backend.connectionsLost, len(backend.cancelled)
    since = backend.mark()
    with connect(front, transport) as client:
        streamID = client.request(b"/never")
        assert waitFor(lambda: any(b"/never" in h[0] for h in since()), 10)
        client.reset(streamID)
        client.ping()
        assert waitFor(lambda: len(backend.cancelled) > cancelled, 10)
        assert waitFor(lambda: backend.connectionsLost > lost, 10)
        # The connection to txpush is still good.
        assert client.get(b"/echo").status == 200


def test_clientResetStopsBackendBody(front, recording, transport):
    """
    A client that resets its stream while the backend's body streams: the
    backend's connection is closed, the body stops.
    """
    backend, _ = recording
    lost = backend.connectionsLost
    with connect(front, transport) as client:
        streamID = client.request(b"/stream/100000000000")
        stream = client.streams[streamID]
        client.runUntil(lambda: len(stream.body) >= 1 << 20 or stream.done)
        assert stream.status == 200 and not stream.done
        client.reset(streamID)
        client.ping()
        assert waitFor(lambda: backend.connectionsLost > lost, 10)
        assert client.get(b"/echo").status == 200


@pytest.mark.parametrize("path", [b"/never", b"/stream/100000000000"])
def test_http11ClientGoneStopsTheBackend(front, recording, path):
    """
    An HTTP/1.1 client that closes its connection while the backend thinks,
    or while its body streams: the backend's connection is closed.
    """
    backend, _ = recording
    lost = backend.connectionsLost
    since = backend.mark()
    with socket.create_connection(("127.0.0.1", front.port()), timeout=10) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert waitFor(lambda: any(path in h[0] for h in since()), 10)
        if path != b"/never":
            assert len(sock.recv(65536)) > 0
    assert waitFor(lambda: backend.connectionsLost > lost, 10)


def test_noConnectionLeaks(freshServers, freshRecording):
    """
    Sequential requests share one pooled connection; many at once open
    more, of which the pool keeps at most its size once they end; nothing
    opens when the clients are done, and all close when txpush stops.
    """
    backend, url = freshRecording
    server = freshServers.start("--proxy", url, *LISTEN)
    with H2Client(server.port()) as client:
        for _ in range(20):
            assert client.get(b"/echo").status == 200
        assert backend.connectionsMade == 1
        many = MAX_PERSISTENT_PER_BACKEND + 8
        streamIDs = [client.request(b"/echo") for _ in range(many)]
        client.runUntil(lambda: all(client.streams[s].done for s in streamIDs))
        assert all(client.streams[s].status == 200 for s in streamIDs)
    assert backend.connectionsMade <= 1 + many
    assert waitFor(lambda: backend.openConnections <= MAX_PERSISTENT_PER_BACKEND)
    made = backend.connectionsMade
    with H2Client(server.port()) as idle:
        idle.ping()
    assert backend.connectionsMade == made
    assert backend.openConnections <= MAX_PERSISTENT_PER_BACKEND
    assert server.stop() == 0
    assert waitFor(lambda: backend.openConnections == 0)
    assert server.problems == []


# 6. Requests refused.


def test_upgradeRefused(front, recording):
    """A WebSocket upgrade over HTTP/1.1: 501, never forwarded."""
    backend, _ = recording
    since = backend.mark()
    response = rawExchange(
        front.port("http"),
        b"GET /echo HTTP/1.1\r\n"
        b"Host: x\r\n"
        b"Connection: Upgrade, close\r\n"
        b"Upgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"\r\n",
    )
    assert response.status == 501
    assert since() == []


SMUGGLING = {
    "content-length and chunked": (
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"0\r\n\r\n",
    ),
    "chunked and content-length": (
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        b"0\r\n\r\n",
    ),
    "conflicting content-length": (
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"hello!",
    ),
    "duplicate content-length": (
        b"Content-Length: 5\r\nContent-Length: 5\r\n",
        b"hello",
    ),
    "content-length list": (b"Content-Length: 5, 5\r\n", b"hello"),
    "content-length sign": (b"Content-Length: +5\r\n", b"hello"),
    "chunked twice": (
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b"0\r\n\r\n",
    ),
    "chunked not last": (b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"),
}


@pytest.mark.parametrize("shape", sorted(SMUGGLING))
def test_smugglingShapesRefused(front, recording, shape):
    """
    Over a raw HTTP/1.1 socket, the ambiguous request framings: 400, and
    the backend reads nothing.
    """
    backend, _ = recording
    since = backend.mark()
    fields, body = SMUGGLING[shape]
    response = rawExchange(
        front.port("http"),
        b"POST /echo HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n" + body,
    )
    assert response.status == 400
    # A request after it, so that a forwarded one would have been read.
    assert (
        rawExchange(
            front.port("http"),
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ).status
        == 200
    )
    assert [h[0] for h in since()] == [b"GET /echo HTTP/1.1"]


def test_obsFoldUnfolded(front, recording):
    """
    A folded header value (obs-fold) reaches the backend on one line, never
    folded.
    """
    response = rawExchange(
        front.port("http"),
        b"GET /echo HTTP/1.1\r\n"
        b"Host: x\r\n"
        b"X-Folded: one\r\n"
        b"  two\r\n"
        b"\tthree\r\n"
        b"Connection: close\r\n"
        b"\r\n",
    )
    assert response.status == 200
    head = echoedHead(response.body)
    assert not any(line[:1] in (b" ", b"\t") for line in head), head
    (folded,) = headerValues(head, b"x-folded")
    assert folded.split() == [b"one", b"two", b"three"]


def test_h2ContentLengthTwice(front, recording, transport):
    """
    An HTTP/2 request with content-length twice: the backend gets one
    Content-Length, the body's (or, refused, nothing).
    """
    backend, _ = recording
    since = backend.mark()
    with connect(front, transport) as client:
        streamID = client.request(
            b"/echo",
            [(b"content-length", b"5"), (b"content-length", b"5")],
            method=b"POST",
            endStream=False,
        )
        client.conn.send_data(streamID, b"hello", end_stream=True)
        client.flush()
        client.runUntil(client.settled(streamID))
        stream = client.streams[streamID]
        assert client.get(b"/echo").status == 200
    if stream.status == 200:
        (head, _) = since()
        assert headerValues(head, b"content-length") == [b"5"]
        assert echoed(stream.body)["body"]["length"] == 5
    else:
        assert [h[0] for h in since()] == [b"GET /echo HTTP/1.1"]


def test_lineBreakInH2HeaderValue(front, recording, transport):
    """
    An HTTP/2 header value holding CR LF cannot smuggle a field into the
    backend's request: the request is refused (or the connection closed),
    and the backend reads no such field.
    """
    backend, _ = recording
    since = backend.mark()
    with connect(front, transport) as client:
        client.conn.config.validate_outbound_headers = False
        client.conn.config.normalize_outbound_headers = False
        streamID = client.request(b"/echo", [(b"x-split", b"a\r\nX-Injected: 1")])
        with contextlib.suppress(ConnectionError):
            client.runUntil(client.settled(streamID))
        stream = client.streams[streamID]
    assert stream.status != 200
    assert all(headerLines(head, b"x-injected") == [] for head in since())
    with connect(front, transport) as client:
        # Had it been forwarded, the backend would have read it by now.
        assert client.get(b"/echo").status == 200
    assert all(headerLines(head, b"x-injected") == [] for head in since())


@pytest.fixture(scope="module")
def portShiftFront(
    servers: Servers, recording: tuple[RecordingBackend, str]
) -> tuple[TwistServer, bytes]:
    """
    A front whose backend is http://127.0.0.1:P, where the recording
    backend listens on port P*10+D; and D.
    """
    port = int(recording[1].rsplit(":", 1)[1])
    shifted, digit = divmod(port, 10)
    server = servers.start("--proxy", f"http://127.0.0.1:{shifted}", *LISTEN)
    return server, str(digit).encode()


@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/2"])
def test_requestTargetCannotChooseTheBackend(portShiftFront, recording, protocol):
    """
    A request-target that does not start with / (not origin-form) is not
    appended to the backend's URL: with the backend http://127.0.0.1:P, the
    target D/secret must not reach http://127.0.0.1:PD/secret (another
    port, here the recording backend; with a backend URL without a port,
    another host).  It is refused (400).
    """
    server, digit = portShiftFront
    backend, _ = recording
    since = backend.mark()
    target = digit + b"/secret"
    if protocol == "HTTP/1.1":
        status = rawExchange(
            server.port(),
            b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ).status
    else:
        with H2Client(server.port()) as client:
            status = client.get(target).status
    assert since() == [], "the client chose the backend's port"
    assert status == 400


@pytest.mark.parametrize("target", [b"x", b"@127.0.0.1/x", b"http://127.0.0.1:1/abs"])
def test_requestTargetNotOriginForm(front, target):
    """
    A request-target that is not origin-form is the client's mistake: a 4xx
    (never 502, and no warning that blames the backend).
    """
    since = len(front.log)
    response = rawExchange(
        front.port(),
        b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert response.status is not None and 400 <= response.status < 500
    front.waitFor(re.compile(r'"GET .* HTTP/1\.1" 4\d\d'))
    assert [line for line in front.log[since:] if "#warn]" in line] == []


# 7. Streaming with bounded memory (~200 MB each way; a few seconds each).

BIG = 200 * 1024 * 1024
"""The size of the big download and upload."""

RSS_GROWTH_LIMIT_KIB = 30 * 1024
"""How much twist's peak resident memory may grow while one goes through."""


def peakKiB(pid: int) -> int:
    """The process's peak resident memory (VmHWM)."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
    assert match is not None
    return int(match.group(1))


class DigestingClient(H2Client):
    """An HTTP/2 client that hashes response bodies instead of keeping them."""

    def __init__(self, *arguments: Any, **options: Any) -> None:
        super().__init__(*arguments, **options)
        self.digests: dict[int, Any] = {}
        self.received: dict[int, int] = {}

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            streamID = event.stream_id
            self.digests.setdefault(streamID, hashlib.sha256()).update(event.data)
            self.received[streamID] = self.received.get(streamID, 0) + len(event.data)
            self.conn.acknowledge_received_data(event.flow_controlled_length, streamID)
            return
        super()._handle(event)


def test_bigDownloadStreamsWithBoundedMemory(freshServers, freshRecording):
    """
    A ~200 MB chunked body streams through: while the client does not read,
    the backend is paused well before the end; read fully, it arrives whole
    and twist's peak memory grew by less than 30 MB.
    """
    backend, url = freshRecording
    server = freshServers.start("--proxy", url, *LISTEN)
    with H2Client(server.port()) as warm:
        assert warm.get(b"/stream/100000").body == streamedBody(100000)
    before = peakKiB(server.pid)
    settings = {
        h2.settings.SettingCodes.MAX_FRAME_SIZE: 1 << 20,
        h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 24,
    }
    with DigestingClient(server.port(), settings=settings, timeout=60) as client:
        client.conn.increment_flow_control_window(1 << 24)
        streamID = client.request(f"/stream/{BIG}".encode())
        stream = client.streams[streamID]
        client.runUntil(lambda: client.received.get(streamID, 0) >= 1 << 20)
        # The client stops reading: the backend must stop too, long before
        # the end (its count stays the same for half a second).
        samples: list[int] = []

        def settled() -> bool:
            samples.append(backend.streamed)
            return len(samples) >= 5 and len(set(samples[-5:])) == 1

        assert waitFor(settled, 30, 0.1), samples[-5:]
        assert backend.streamed < BIG // 4, backend.streamed
        client.runUntil(lambda: stream.done, 120)
    assert stream.status == 200 and stream.ended
    assert client.received[streamID] == BIG
    assert client.digests[streamID].hexdigest() == streamedDigest(BIG)
    growth = peakKiB(server.pid) - before
    assert growth < RSS_GROWTH_LIMIT_KIB, f"peak RSS grew by {growth} KiB"
    assert server.problems == []


def test_bigDownloadOverHTTP11StreamsWithBoundedMemory(freshServers, freshRecording):
    """
    The same over HTTP/1.1 (relayed chunked): the backend pauses while the
    client does not read; read fully, the body is whole and twist's peak
    memory grew by less than 30 MB.
    """
    backend, url = freshRecording
    server = freshServers.start("--proxy", url, *LISTEN)
    with H2Client(server.port()) as warm:
        assert warm.get(b"/stream/100000").body == streamedBody(100000)
    before = peakKiB(server.pid)
    connection = http.client.HTTPConnection("127.0.0.1", server.port(), timeout=60)
    connection.request("GET", f"/stream/{BIG}")
    response = connection.getresponse()
    assert response.status == 200
    digest = hashlib.sha256()
    received = 0
    first = response.read(1 << 20)
    digest.update(first)
    received += len(first)
    samples: list[int] = []

    def settled() -> bool:
        samples.append(backend.streamed)
        return len(samples) >= 5 and len(set(samples[-5:])) == 1

    assert waitFor(settled, 30, 0.1), samples[-5:]
    assert backend.streamed < BIG // 4, backend.streamed
    while block := response.read(1 << 20):
        digest.update(block)
        received += len(block)
    connection.close()
    assert received == BIG
    assert digest.hexdigest() == streamedDigest(BIG)
    growth = peakKiB(server.pid) - before
    assert growth < RSS_GROWTH_LIMIT_KIB, f"peak RSS grew by {growth} KiB"
    assert server.problems == []


def test_bigUploadReachesTheBackend(freshServers, freshRecording):
    """
    A ~200 MB POST goes through whole (length and checksum as sent), and
    twist's peak memory grows by less than 30 MB: Twisted spools the body
    to a file, the proxy streams it from there.
    """
    backend, url = freshRecording
    server = freshServers.start("--proxy", url, *LISTEN)
    with H2Client(server.port()) as warm:
        assert warm.get(b"/echo").status == 200
    before = peakKiB(server.pid)
    block = STREAM_BLOCK * 16
    digest = hashlib.sha256()
    with socket.create_connection(("127.0.0.1", server.port()), timeout=60) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/octet-stream\r\n"
            + f"Content-Length: {BIG}\r\n\r\n".encode()
        )
        sent = 0
        while sent < BIG:
            part = block[: BIG - sent]
            sock.sendall(part)
            digest.update(part)
            sent += len(part)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    response = RawResponse(bytes(received))
    assert response.status == 200, response.raw[:500]
    assert echoed(response.body)["body"] == {
        "length": BIG,
        "sha256": digest.hexdigest(),
    }
    assert backend.uploads[-1] == (BIG, digest.hexdigest())
    growth = peakKiB(server.pid) - before
    assert growth < RSS_GROWTH_LIMIT_KIB, f"peak RSS grew by {growth} KiB"
    assert server.problems == []


# 8. A backend beside the files.


def test_prefixGoesToTheBackendWithItsWholePath(mounted, recording, transport):
    """
    --proxy /api=URL beside --path DIR: the paths under /api go to the
    backend, their whole path and query kept; the rest are files (the bare
    prefix too, as for --static: only the paths under it are mounted).
    """
    server, _ = mounted
    backend, _ = recording
    since = backend.mark()
    with connect(server, transport) as client:
        api = client.get(b"/api/items/7?sort=name&x=%2F")
        slash = client.get(b"/api/")
        index = client.get(b"/")
        css = client.get(b"/style.css")
        other = client.get(b"/apiary")
        bare = client.get(b"/api")
    assert echoed(api.body)["uri"] == "/api/items/7?sort=name&x=%2F"
    assert echoed(slash.body)["uri"] == "/api/"
    assert (index.status, bytes(index.body)) == (200, SITE_INDEX)
    assert (css.status, bytes(css.body)) == (200, SITE_CSS)
    assert other.status == 404
    assert bare.status == 404
    assert [h[0].split()[1] for h in since()] == [
        b"/api/items/7?sort=name&x=%2F",
        b"/api/",
    ]


# 9. Command-line mistakes.

MISTAKES = {
    "ftp url": (["--proxy", "ftp://127.0.0.1:21"], ["ftp://127.0.0.1:21"]),
    "url with a path": (["--proxy", "http://127.0.0.1:8000/app"], ["path"]),
    "port out of range": (["--proxy", "http://127.0.0.1:99999"], ["port"]),
    "port not a number": (["--proxy", "http://127.0.0.1:web"], ["port"]),
    "no host": (["--proxy", "http://:8000"], ["--proxy"]),
    "two roots": (
        ["--proxy", "http://127.0.0.1:8001", "--proxy", "http://127.0.0.1:8002"],
        ["--proxy"],
    ),
    "duplicate prefix": (
        [
            "--proxy",
            "/api=http://127.0.0.1:8001",
            "--proxy",
            "/api=http://127.0.0.1:8002",
        ],
        ["/api"],
    ),
    "bad prefix url": (["--proxy", "/api=ftp://127.0.0.1:21"], ["ftp://"]),
    "proxy and path roots": (
        ["--proxy", "http://127.0.0.1:8001", "--path", str(TESTS)],
        ["--proxy"],
    ),
    "trusted proxy nonsense": (
        ["--proxy", "http://127.0.0.1:8001", "--trusted-proxy", "nonsense"],
        ["--trusted-proxy", "nonsense"],
    ),
    "trusted proxy without proxy": (
        ["--trusted-proxy", "127.0.0.1"],
        ["--trusted-proxy", "--proxy"],
    ),
    "proxy host x": (
        ["--proxy", "http://127.0.0.1:8001", "--proxy-host", "x"],
        ["--proxy-host"],
    ),
    "proxy timeout not a number": (
        ["--proxy", "http://127.0.0.1:8001", "--proxy-timeout", "soon"],
        ["--proxy-timeout"],
    ),
    "proxy timeout zero": (
        ["--proxy", "http://127.0.0.1:8001", "--proxy-timeout", "0"],
        ["--proxy-timeout"],
    ),
}


@pytest.fixture(scope="module")
def mistakes(servers: Servers) -> dict[str, tuple[int, str]]:
    """
    Every mistake's (exit status, output), the processes run side by side.
    """
    started = {
        name: servers.start(*arguments, "--listen", "tcp:0", wait=False)
        for name, (arguments, _) in MISTAKES.items()
    }
    results = {}
    for name, server in started.items():
        try:
            code = server.process.wait(60)
        except subprocess.TimeoutExpired:
            code = None
        server.stop()
        results[name] = (code, "".join(server.log))
    return results


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_commandLineMistakes(mistakes, mistake):
    """Each mistake: exit status 64 and one line that names it."""
    code, output = mistakes[mistake]
    assert code == 64, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("twist txpush: "), output
    for fragment in MISTAKES[mistake][1]:
        assert fragment in lines[0], output
