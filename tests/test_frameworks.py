"""
The Flask and Django guides: their examples (examples/flaskapp/ and
examples/djangoproject/) served by a real C{twist txpush}, as docs/flask.md
and docs/django.md serve them, and driven with nghttp and the python h2
client.

The commands are read from the pages' C{sh} blocks, so that a page shows
what is tested; the pages include the example files themselves.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from tests.test_plugin import STATS_ROW
from txpush.linkheader import parsePreloadLinks
from txpush.testing.digests import cookieDigest, digestCookies
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.nghttp import runNghttp
from txpush.testing.twist import TwistServer

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

ASSETS = [b"/static/style.css", b"/static/app.js"]
"""What the examples' page needs, in the order its template names them."""

HINTS = [
    b"</static/style.css>; rel=preload; as=style",
    b"</static/app.js>; rel=preload; as=script",
]
"""The Link values of the page's 103 Early Hints, as the guides show them."""

BOILERPLATE = {"__init__.py", "manage.py"}
"""Example files the guides need not show: the docstring of a package, and
the C{manage.py} every Django project has."""

_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)
_INCLUDE = re.compile(r"^(?:`{3,}|~{3,})\{literalinclude\}\s+(\S+)", re.M)


@dataclass(frozen=True)
class Guide:
    """
    A framework's guide and the example it serves.

    @ivar page: The Markdown page.
    @ivar directory: The example's directory, where its commands run.
    """

    page: Path
    directory: Path

    def commands(self) -> list[list[str]]:
        """The command lines of the page's C{sh} blocks, split as sh would."""
        text = self.page.read_text(encoding="utf-8")
        return [
            words
            for block in _SH_BLOCK.findall(text)
            for line in block.replace("\\\n", " ").splitlines()
            if (words := shlex.split(line, comments=True))
        ]

    def twist(self, *, static: str | None) -> tuple[str, ...]:
        """
        The options of the page's one C{twist txpush} command serving static
        files from C{static}, or serving no static files when L{None}.
        """
        found = [
            tuple(words[2:])
            for words in self.commands()
            if words[:2] == ["twist", "txpush"]
            and staticDirectory(tuple(words[2:])) == static
        ]
        assert len(found) == 1, (self.page.name, static, self.commands())
        return found[0]

    def includes(self) -> set[Path]:
        """The files the page includes."""
        text = self.page.read_text(encoding="utf-8")
        return {(DOCS / target).resolve() for target in _INCLUDE.findall(text)}


def staticDirectory(arguments: tuple[str, ...]) -> str | None:
    """The directory a command serves at C{/static}, if any."""
    for option, value in pairwise(arguments):
        if option == "--static" and value.startswith("/static="):
            return value.removeprefix("/static=")
    return None


FLASK = Guide(DOCS / "flask.md", EXAMPLES / "flaskapp")
DJANGO = Guide(DOCS / "django.md", EXAMPLES / "djangoproject")


@pytest.fixture(params=[FLASK, DJANGO], ids=["flask", "django"])
def guide(request: pytest.FixtureRequest) -> Guide:
    """Each test using it runs for the Flask guide and the Django guide."""
    guide: Guide = request.param
    return guide


LISTEN = ("--listen", "tcp:0", "--listen", "ssl:0")

Serve = Callable[[tuple[str, ...], Path], TwistServer]


@pytest.fixture
def twist(tmp_path: Path) -> Iterator[Serve]:
    """
    A function that starts C{twist txpush} with a page's options in a
    directory, listening on free ports over h2c and TLS.
    """
    servers: list[TwistServer] = []

    def start(arguments: tuple[str, ...], directory: Path) -> TwistServer:
        # The pages listen on the default, https://localhost:8443/.
        assert "--listen" not in arguments
        server = TwistServer(
            *arguments, *LISTEN, stateDirectory=tmp_path / "state", cwd=directory
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


def stopCleanly(server: TwistServer) -> None:
    """Stop a server: it exits 0, having logged no problem."""
    assert server.stop() == 0
    assert server.problems == []


def nghttpRows(output: str) -> dict[str, tuple[bool, int]]:
    """{path: (pushed, status)} from the statistics of C{nghttp -ans}."""
    return {
        path: (star == "*", int(status))
        for star, status, path in STATS_ROW.findall(output)
    }


def preloads(values: list[bytes]) -> list[bytes]:
    """The paths that Link values preload, in order."""
    return [link.asset.path for link in parsePreloadLinks(values)]


def header(stream: Stream, name: bytes) -> list[bytes]:
    """Every value of a response header, in order."""
    return [value for key, value in stream.headers or [] if key == name]


def cookieNames(stream: Stream) -> list[bytes]:
    """The names of the cookies a response set, one per Set-Cookie header."""
    return [value.split(b"=", 1)[0] for value in header(stream, b"set-cookie")]


class CookieJar:
    """The cookies a browser keeps: the last value set for each name."""

    def __init__(self) -> None:
        self.cookies: dict[bytes, bytes] = {}

    def take(self, stream: Stream) -> None:
        """Keep the cookies a response set."""
        for value in header(stream, b"set-cookie"):
            name, _, rest = value.split(b";", 1)[0].partition(b"=")
            self.cookies[name] = rest

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The C{Cookie} header a request sends."""
        sent = b"; ".join(name + b"=" + value for name, value in self.cookies.items())
        return [(b"cookie", sent)] if sent else []


def test_pagesShowTheExamples(guide):
    """
    A guide includes every Python file and template of its example (but
    Django's boilerplate), runs its commands from the example's directory,
    and recommends --static: it shows that command first.
    """
    shown = {
        path.resolve()
        for path in guide.directory.rglob("*")
        if path.suffix in (".py", ".html")
        and path.name not in BOILERPLATE
        and "__pycache__" not in path.parts
    }
    assert shown <= guide.includes()
    assert all(path.is_relative_to(guide.directory) for path in guide.includes())
    commands = guide.commands()
    assert ["cd", str(guide.directory.relative_to(ROOT))] in commands
    first = next(words for words in commands if words[:2] == ["twist", "txpush"])
    assert tuple(first[2:]) == guide.twist(static="static")


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_firstAndRepeatVisit(guide, twist, nghttp, scheme):
    """
    Over TLS and h2c, nghttp's first visit gets the page's static files
    pushed, each answered 200; a repeat visit that sends the digest cookie
    the first set pushes nothing, and nghttp fetches them itself.
    """
    server = twist(guide.twist(static="static"), guide.directory)
    first = runNghttp(nghttp, "-ans", "-v", server.url(scheme))
    assert nghttpRows(first) == {
        "/": (False, 200),
        "/static/style.css": (True, 200),
        "/static/app.js": (True, 200),
    }
    cookie = re.findall(r"set-cookie: (h2o_casper=[^;]+)", first)[-1]
    repeat = runNghttp(nghttp, "-ans", "-H", f"cookie: {cookie}", server.url(scheme))
    assert nghttpRows(repeat) == {
        "/": (False, 200),
        "/static/style.css": (False, 200),
        "/static/app.js": (False, 200),
    }
    stopCleanly(server)


def test_applicationCookieBesideTheDigest(guide, twist):
    """
    Over TLS, a first visit that takes pushes gets the application's cookie
    and the digest cookie, naming the pushed files, in two Set-Cookie
    headers; sent back in one Cookie header, the application reads its own
    and txpush the digest: nothing is pushed.
    """
    server = twist(guide.twist(static="static"), guide.directory)
    port = server.port("https")
    with H2Client(port, tls=True) as client:
        page = client.get(b"/")
        assert page.status == 200
        assert [push.path for push in client.pushes()] == ASSETS
        assert all(push.status == 200 for push in client.pushes())
    assert sorted(cookieNames(page)) == [b"h2o_casper", b"visited"]
    digest = cookieDigest(page)
    assert digest is not None and all(path in digest for path in ASSETS)
    (cookie,) = digestCookies(page)
    with H2Client(port, tls=True) as client:
        repeat = client.get(b"/", headers=[(b"cookie", b"visited=yes; " + cookie)])
        assert client.pushes() == []
    assert b"Welcome back" in repeat.body
    stopCleanly(server)


def test_browser(guide, twist):
    """
    Over h2c, a client that takes no pushes gets the page's Link preload
    headers and the application's cookie, and no 103 on the page's first
    request; the digest cookie comes with the static files it fetches.  The
    page's next request, from another client, gets a 103 naming the files
    before the page; the first client's next visit, sending its cookies,
    gets no 103: its digest has the files.
    """
    server = twist(guide.twist(static="static"), guide.directory)
    port = server.port("http")
    jar = CookieJar()
    with H2Client(port, enablePush=False) as browser:
        page = browser.get(b"/")
        assert page.status == 200
        assert page.informational == []
        assert preloads(header(page, b"link")) == ASSETS
        assert cookieNames(page) == [b"visited"]
        jar.take(page)
        for path in ASSETS:
            asset = browser.get(path, headers=jar.headers())
            assert asset.status == 200
            jar.take(asset)
    assert set(jar.cookies) == {b"visited", b"h2o_casper"}
    with H2Client(port, enablePush=False) as other:
        hinted = other.get(b"/")
    (hints,) = hinted.informational
    assert dict(hints)[b":status"] == b"103"
    assert [value for key, value in hints if key == b"link"] == HINTS
    assert preloads(header(hinted, b"link")) == ASSETS
    with H2Client(port, enablePush=False) as browser:
        repeat = browser.get(b"/", headers=jar.headers())
    assert repeat.status == 200
    assert repeat.informational == []
    assert b"Welcome back" in repeat.body
    stopCleanly(server)


def test_flaskServesItsOwnStaticFiles(twist, nghttp):
    """
    Without --static, Flask serves its static files itself, pushes
    included.
    """
    server = twist(FLASK.twist(static=None), FLASK.directory)
    output = runNghttp(nghttp, "-ans", server.url("http"))
    assert nghttpRows(output) == {
        "/": (False, 200),
        "/static/style.css": (True, 200),
        "/static/app.js": (True, 200),
    }
    stopCleanly(server)


def test_djangoCollectstatic(twist, tmp_path):
    """
    The Django guide's production steps, in a copy of the project:
    collectstatic gathers the static files into staticfiles/ (without a
    database or a network), and twist txpush pushes them from there.
    """
    project = tmp_path / "djangoproject"
    shutil.copytree(
        DJANGO.directory,
        project,
        ignore=shutil.ignore_patterns("__pycache__", "staticfiles"),
    )
    (collect,) = (words for words in DJANGO.commands() if words[0] == "python")
    assert collect[1:3] == ["manage.py", "collectstatic"]
    completed = subprocess.run(
        [sys.executable, *collect[1:]],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    server = twist(DJANGO.twist(static="staticfiles"), project)
    with H2Client(server.port("http")) as client:
        assert client.get(b"/").status == 200
        pushes = client.pushes()
    assert [push.path for push in pushes] == ASSETS
    for push in pushes:
        assert push.status == 200
        assert push.path is not None
        name = push.path.decode().removeprefix("/static/")
        assert bytes(push.body) == (project / "staticfiles" / name).read_bytes()
    stopCleanly(server)


def test_manifestHintsTheFirstRequest(twist, tmp_path):
    """
    With a manifest naming the page's files (as the guides advise), even
    the page's first request gets them as Early Hints.
    """
    manifest = tmp_path / "push-manifest.json"
    manifest.write_text('{"/": ["/static/style.css", "/static/app.js"]}')
    arguments = (*FLASK.twist(static="static"), "--push-manifest", str(manifest))
    server = twist(arguments, FLASK.directory)
    with H2Client(server.port("http"), enablePush=False) as browser:
        page = browser.get(b"/")
    (hints,) = page.informational
    assert [value for key, value in hints if key == b"link"] == HINTS
    stopCleanly(server)
