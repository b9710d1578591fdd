"""
C{twist txpush} takes every option of C{twist web}, with its spelling, short
form and meaning: each is run here in a real C{twist txpush} process and its
effect checked with a real HTTP/2 client (the python h2 client and nghttp),
over cleartext HTTP/2 and TLS.
"""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest
import twisted

from tests.webroots import (
    BOOM_MESSAGE,
    CLASS_CSS,
    CLASS_PAGE,
    FIRST_CHUNK,
    RELEASE_VARIABLE,
    TOGETHER,
    WSGI_COOKIE,
    WSGI_PAGE,
)
from txpush.devcert import ensureDevelopmentCertificate
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.nghttp import runNghttp
from txpush.testing.twist import TwistServer, loggedAccess
from txpush.testing.waiting import waitFor

REPOSITORY = Path(__file__).parent.parent
"""The servers' current directory, from which C{tests.webroots} imports."""

TWIST = Path(sys.executable).parent / "twist"

LISTEN = ("--listen", "tcp:0", "--listen", "ssl:0")

INDEX_HTML = (
    b'<!DOCTYPE html><html><head><link rel="stylesheet" href="/style.css">'
    b"</head><body><p>path root</p></body></html>"
)
STYLE_CSS = b"body { margin: 0; }\n"
X_CSS = b"h1 { color: olive; }\n"
APP_CSS = b"p { color: maroon; }\n"
SCRIPT_PAGE = (
    b'<!DOCTYPE html><html><head><link rel="stylesheet" href="/script.css">'
    b"</head><body><p>script root</p></body></html>"
)
ROOT_SCRIPT = f"""\
from twisted.web.resource import Resource
from twisted.web.static import Data

resource = Resource()
resource.putChild(b"", Data({SCRIPT_PAGE!r}, "text/html"))
resource.putChild(b"script.css", Data(b"b {{ color: red; }}", "text/css"))
"""

Starter = Callable[..., TwistServer]


def starter(stateDirectory: Path) -> tuple[Starter, list[TwistServer]]:
    """
    A function that starts C{twist txpush} with the repository as its
    current directory (unless told otherwise), and the servers it started.
    """
    started: list[TwistServer] = []

    def start(
        *arguments: str,
        wait: bool = True,
        cwd: Path = REPOSITORY,
        env: dict[str, str] | None = None,
    ) -> TwistServer:
        server = TwistServer(
            *arguments, stateDirectory=stateDirectory, wait=wait, cwd=cwd, env=env
        )
        started.append(server)
        return server

    return start, started


@pytest.fixture
def twist(tmp_path: Path) -> Iterator[Starter]:
    """Start servers for one test; they are killed after it."""
    start, started = starter(tmp_path / "state")
    yield start
    for server in started:
        server.kill()


@pytest.fixture(scope="module")
def moduleTwist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starter]:
    """Start servers shared by the tests of this module."""
    start, started = starter(tmp_path_factory.mktemp("state"))
    yield start
    for server in started:
        server.kill()


def writeFiles(directory: Path, files: dict[str, bytes | str]) -> Path:
    """Write each of C{files} (by relative path) under C{directory}."""
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return directory


@pytest.fixture(scope="module")
def pathBase(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of L{pathServer}'s site, manifest and access log."""
    return tmp_path_factory.mktemp("path")


@pytest.fixture(scope="module")
def accessLog(pathBase: Path) -> Path:
    """The -l file of L{pathServer}."""
    return pathBase / "access.log"


@pytest.fixture(scope="module")
def pathServer(moduleTwist: Starter, pathBase: Path, accessLog: Path) -> TwistServer:
    """
    --path with every file option of twist web, an access log, and two
    --listen endpoints.
    """
    base = pathBase
    site = writeFiles(
        base / "site",
        {
            "index.html": INDEX_HTML,
            "style.css": STYLE_CSS,
            "sub/start.html": "<p>start page</p>",
            "sub/index.html": "<p>index page</p>",
            "about.html": "<p>about page</p>",
            "notes.txt": "plain notes",
            "README": "read me",
            "shout.up": "quiet words",
            "hello.rpy": (
                "from twisted.web.static import Data\n"
                'resource = Data(b"rpy ran: %d" % (6 * 7), "text/plain")\n'
            ),
        },
    )
    manifest = base / "push.json"
    manifest.write_text('{"/index.html": ["/style.css"]}')
    return moduleTwist(
        *LISTEN,
        "--path",
        str(site),
        "--push-manifest",
        str(manifest),
        "-i",
        "start.html",
        "--index",
        "index.html",
        "--ignore-ext",
        ".html",
        "-m",
        "text/plain",
        "--processor",
        ".up=tests.webroots.UpperProcessor",
        "-l",
        str(accessLog),
    )


@pytest.fixture(scope="module")
def headerServer(
    moduleTwist: Starter, tmp_path_factory: pytest.TempPathFactory
) -> TwistServer:
    """
    --path over TLS with two --add-header headers, one a preload Link, and
    --allow-ignore-ext.
    """
    site = writeFiles(
        tmp_path_factory.mktemp("headers"),
        {"index.html": INDEX_HTML, "x.css": X_CSS, "notes.txt": "plain notes"},
    )
    return moduleTwist(
        "--listen",
        "ssl:0",
        "--path",
        str(site),
        "--add-header",
        "X-Parity: yes",
        "--add-header",
        "Link: </x.css>; rel=preload; as=style",
        "--allow-ignore-ext",
    )


@pytest.fixture(scope="module")
def releaseFile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file whose creation lets the WSGI application's /stream end."""
    return tmp_path_factory.mktemp("release") / "release"


@pytest.fixture(scope="module")
def wsgiServer(
    moduleTwist: Starter, tmp_path_factory: pytest.TempPathFactory, releaseFile: Path
) -> TwistServer:
    """
    A plain WSGI application, with its stylesheet served by --static.
    """
    static = writeFiles(tmp_path_factory.mktemp("static"), {"app.css": APP_CSS})
    return moduleTwist(
        *LISTEN,
        "--wsgi",
        "tests.webroots.application",
        "--static",
        f"/static={static}",
        env={**os.environ, RELEASE_VARIABLE: str(releaseFile)},
    )


@pytest.fixture(scope="module")
def classServer(
    moduleTwist: Starter, tmp_path_factory: pytest.TempPathFactory
) -> TwistServer:
    """--class with a manifest naming the class's stylesheet."""
    manifest = tmp_path_factory.mktemp("class") / "push.json"
    manifest.write_text('{"/": ["/class.css"]}')
    return moduleTwist(
        *LISTEN,
        "--class",
        "tests.webroots.ClassRoot",
        "--push-manifest",
        str(manifest),
    )


@pytest.fixture(scope="module")
def scriptServer(
    moduleTwist: Starter, tmp_path_factory: pytest.TempPathFactory
) -> TwistServer:
    """--resource-script with a manifest naming the script's stylesheet."""
    base = tmp_path_factory.mktemp("script")
    (base / "root.rpy").write_text(ROOT_SCRIPT)
    manifest = base / "push.json"
    manifest.write_text('{"/": ["/script.css"]}')
    return moduleTwist(
        *LISTEN,
        "--resource-script",
        str(base / "root.rpy"),
        "--push-manifest",
        str(manifest),
    )


def fetch(
    server: TwistServer,
    path: bytes,
    scheme: str = "http",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> tuple[Stream, list[Stream]]:
    """
    GET C{path} on a new HTTP/2 connection (h2c, or TLS with ALPN for
    https) that takes pushes; return the response and the pushes.
    """
    with H2Client(server.port(scheme), tls=scheme == "https") as client:
        response = client.get(path, headers)
        return response, client.pushes()


def headerValues(stream: Stream, name: bytes) -> list[bytes]:
    """Every value of a response header."""
    return [value for key, value in stream.headers or [] if key == name]


def pushedPaths(pushes: list[Stream]) -> list[bytes | None]:
    """The paths of the pushes, in promise order."""
    return [push.path for push in pushes]


def mistake(twist: Starter, *arguments: str, cwd: Path = REPOSITORY) -> tuple[int, str]:
    """Run twist txpush with a mistake; return its exit status and output."""
    server = twist(*arguments, wait=False, cwd=cwd)
    status = server.process.wait(60)
    server.stop()
    return status, "".join(server.log)


def assertOneLine(output: str, *fragments: str) -> None:
    """The output is one line, C{twist txpush: ...}, with each fragment."""
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("twist txpush: "), output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in lines[0], output


def deprecationLines(server: TwistServer, option: str) -> list[str]:
    """The lines the server printed saying C{option} is deprecated."""
    prefix = f"twist txpush: {option} was deprecated in Twisted "
    return [line.rstrip("\n") for line in server.log if line.startswith(prefix)]


HELP_OPTION = re.compile(r"^ {2}(?:-(\w), | {4})--([a-z][\w-]*)(=?)", re.M)
"""An option's line of a --help: its short form, long form, and = when it
takes a value."""


def helpOptions(plugin: str) -> dict[str, tuple[str, str]]:
    """{long option: (short form, "=" or "")} of twist PLUGIN --help."""
    completed = subprocess.run(
        [str(TWIST), plugin, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPOSITORY,
    )
    assert completed.returncode == 0, completed.stderr
    return {
        long: (short, value)
        for short, long, value in HELP_OPTION.findall(completed.stdout)
    }


def test_everyTwistWebOption() -> None:
    """
    Every option of the installed Twisted's twist web --help is in twist
    txpush --help, with the same short form, and taking a value exactly
    when twist web's does.
    """
    web = helpOptions("web")
    txpush = helpOptions("txpush")
    assert len(web) >= 20 and {"path", "wsgi", "listen"} <= set(web), web
    missing = {name: form for name, form in web.items() if txpush.get(name) != form}
    assert missing == {}, {name: txpush.get(name) for name in missing}


def test_version() -> None:
    """
    --version prints txpush's and Twisted's versions on one line and exits
    0.
    """
    completed = subprocess.run(
        [str(TWIST), "txpush", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == (
        f"txpush {metadata.version('txpush')} (Twisted {twisted.__version__})\n"
    )


def test_listenOnEach(pathServer: TwistServer) -> None:
    """
    Each --listen endpoint serves: tcp:0 cleartext HTTP/2, ssl:0 HTTP/2
    over TLS; the log names both.
    """
    assert [url.split(":")[0] for url in pathServer.urls] == ["http", "https"]
    for scheme in ("http", "https"):
        page, pushes = fetch(pathServer, b"/", scheme)
        assert (page.status, bytes(page.body)) == (200, INDEX_HTML)
        assert pushedPaths(pushes) == [b"/style.css"]


def test_index(pathServer: TwistServer) -> None:
    """
    -i/--index names the index files in order of preference: a directory
    with both serves the first named, one with the second only serves it.
    """
    sub, _ = fetch(pathServer, b"/sub/")
    assert (sub.status, bytes(sub.body)) == (200, b"<p>start page</p>")
    top, _ = fetch(pathServer, b"/")
    assert bytes(top.body) == INDEX_HTML


def test_ignoreExt(pathServer: TwistServer) -> None:
    """
    --ignore-ext .html: /about gets about.html; an extension not named is
    not left out (without --allow-ignore-ext).
    """
    about, _ = fetch(pathServer, b"/about", "https")
    assert (about.status, bytes(about.body)) == (200, b"<p>about page</p>")
    notes, _ = fetch(pathServer, b"/notes")
    assert notes.status == 404


def test_allowIgnoreExt(headerServer: TwistServer) -> None:
    """--allow-ignore-ext: /notes gets notes.txt, any extension left out."""
    notes, _ = fetch(headerServer, b"/notes", "https")
    assert (notes.status, bytes(notes.body)) == (200, b"plain notes")


def test_mimeType(pathServer: TwistServer) -> None:
    """
    -m/--mime-type sets the type of a file whose extension says none;
    known extensions keep theirs.
    """
    readme, _ = fetch(pathServer, b"/README")
    assert readme.status == 200
    assert readme.header(b"content-type") == b"text/plain"
    style, _ = fetch(pathServer, b"/style.css")
    assert style.header(b"content-type") == b"text/css"


def test_processor(pathServer: TwistServer) -> None:
    """--processor .up=CLASS: files ending with .up are served by CLASS."""
    shout, _ = fetch(pathServer, b"/shout.up")
    assert (shout.status, bytes(shout.body)) == (200, b"QUIET WORDS")


def test_pathRunsResourceScripts(pathServer: TwistServer) -> None:
    """An .rpy file of --path runs, as twist web runs it, not served raw."""
    hello, _ = fetch(pathServer, b"/hello.rpy", "https")
    assert (hello.status, bytes(hello.body)) == (200, b"rpy ran: 42")


def test_logfile(pathServer: TwistServer, accessLog: Path) -> None:
    """
    -l/--logfile writes the access log: the page's line says what push did
    (push=page pushed=1 ...), the pushed asset's says push=pushed.
    """
    before = len(accessLog.read_text().splitlines()) if accessLog.exists() else 0

    def newLines() -> list[str]:
        return accessLog.read_text().splitlines()[before:]

    page, pushes = fetch(pathServer, b"/")
    assert page.status == 200
    assert pushedPaths(pushes) == [b"/style.css"]
    assert waitFor(lambda: len(newLines()) >= 2, timeout=10)
    lines = newLines()
    assert loggedAccess(
        lines, "GET / HTTP/2", 200, "push=page pushed=1 cached=0 hinted=0"
    ), lines
    assert loggedAccess(lines, "GET /style.css HTTP/2", 200, "push=pushed"), lines
    assert pathServer.problems == []


def test_addHeader(headerServer: TwistServer) -> None:
    """
    --add-header adds its header to the page and to pushed responses; a
    preload Link added so is pushed.
    """
    page, pushes = fetch(headerServer, b"/", "https")
    assert page.status == 200
    assert page.header(b"x-parity") == b"yes"
    assert b"</x.css>; rel=preload; as=style" in headerValues(page, b"link")
    assert pushedPaths(pushes) == [b"/x.css"]
    (pushed,) = pushes
    assert (pushed.status, bytes(pushed.body)) == (200, X_CSS)
    assert pushed.header(b"x-parity") == b"yes"
    assert headerServer.problems == []


def test_pathFile(twist: Starter, tmp_path: Path) -> None:
    """--path FILE serves that file at /, over TLS, and nothing else."""
    (tmp_path / "page.html").write_text("<p>one page</p>")
    server = twist("--listen", "ssl:0", "--path", str(tmp_path / "page.html"))
    page, _ = fetch(server, b"/", "https")
    assert (page.status, bytes(page.body)) == (200, b"<p>one page</p>")
    other, _ = fetch(server, b"/page.html", "https")
    assert other.status == 404


def test_class(classServer: TwistServer) -> None:
    """
    --class serves an instance of the Resource subclass; the manifest's
    asset is pushed for its page, and the digest cookie is set.
    """
    page, pushes = fetch(classServer, b"/")
    assert (page.status, bytes(page.body)) == (200, CLASS_PAGE)
    assert pushedPaths(pushes) == [b"/class.css"]
    assert bytes(pushes[0].body) == CLASS_CSS
    cookies = headerValues(page, b"set-cookie")
    assert len(cookies) == 1 and cookies[0].startswith(b"h2o_casper="), cookies


def test_noTracebacksByDefault(classServer: TwistServer) -> None:
    """Without --display-tracebacks, a failing page's 500 shows no traceback."""
    boom, _ = fetch(classServer, b"/boom")
    assert boom.status == 500
    assert BOOM_MESSAGE.encode() not in boom.body
    assert b"Traceback" not in boom.body


def test_displayTracebacks(twist: Starter) -> None:
    """
    --display-tracebacks: a failing page's 500 shows the traceback and the
    exception to the client.
    """
    server = twist(
        "--listen",
        "tcp:0",
        "--class",
        "tests.webroots.ClassRoot",
        "--display-tracebacks",
    )
    boom, _ = fetch(server, b"/boom")
    assert boom.status == 500
    assert BOOM_MESSAGE.encode() in boom.body
    assert b"Traceback" in boom.body and b"render_GET" in boom.body


def test_resourceScript(scriptServer: TwistServer) -> None:
    """
    --resource-script serves the resource the .rpy file sets; the
    manifest's asset is pushed for its page.
    """
    page, pushes = fetch(scriptServer, b"/", "https")
    assert (page.status, bytes(page.body)) == (200, SCRIPT_PAGE)
    assert pushedPaths(pushes) == [b"/script.css"]
    assert (pushes[0].status, bytes(pushes[0].body)) == (200, b"b { color: red; }")


def test_resourceScriptSyntaxError(twist: Starter, tmp_path: Path) -> None:
    """
    A --resource-script that is not valid Python: one line naming the
    option and the line of the mistake, exit status 64.
    """
    script = tmp_path / "bad.rpy"
    script.write_text(
        "from twisted.web.static import Data\n"
        'resource = Data(b"x", "text/plain")\n'
        "if True\n"
        "    pass\n"
    )
    status, output = mistake(twist, "--resource-script", str(script))
    assert status == 64
    assertOneLine(output, "--resource-script", "bad.rpy", "line 3")


def test_wsgi(wsgiServer: TwistServer) -> None:
    """
    --wsgi serves a plain WSGI application: its Link: rel=preload header
    is pushed (a file of --static, with its ETag), and its own Set-Cookie
    is kept beside the digest cookie.
    """
    page, pushes = fetch(wsgiServer, b"/")
    assert (page.status, bytes(page.body)) == (200, WSGI_PAGE)
    assert pushedPaths(pushes) == [b"/static/app.css"]
    assert (pushes[0].status, bytes(pushes[0].body)) == (200, APP_CSS)
    assert pushes[0].header(b"etag") is not None
    cookies = headerValues(page, b"set-cookie")
    assert WSGI_COOKIE.encode() in cookies, cookies
    assert [c for c in cookies if c.startswith(b"h2o_casper=")], cookies
    assert len(cookies) == 2, cookies


def test_wsgiStreams(wsgiServer: TwistServer, releaseFile: Path) -> None:
    """
    A WSGI response streams: its first chunk reaches the HTTP/2 client
    while the application still waits (for a file this test makes only
    once that chunk came) to yield the rest.
    """
    with H2Client(wsgiServer.port("https"), tls=True) as client:
        streamID = client.request(b"/stream")
        stream = client.streams[streamID]
        client.runUntil(lambda: FIRST_CHUNK in stream.body)
        assert not stream.ended
        assert bytes(stream.body) == FIRST_CHUNK
        releaseFile.touch()
        client.runUntil(lambda: stream.ended)
    assert stream.status == 200
    assert bytes(stream.body) == FIRST_CHUNK + b"released: rest of the stream\n"


def test_wsgiThreads(twist: Starter) -> None:
    """
    --wsgi-threads 3: requests that each wait until 3 run at once all
    finish, and never more than 3 ran at once, however many were sent.
    """
    server = twist(
        "--listen",
        "tcp:0",
        "--wsgi",
        "tests.webroots.application",
        "--wsgi-threads",
        str(TOGETHER),
    )
    with H2Client(server.port()) as client:
        streamIDs = [client.request(b"/together") for _ in range(2 * TOGETHER)]
        client.runUntil(
            lambda: all(client.streams[s].done for s in streamIDs), timeout=20
        )
        bodies = [bytes(client.streams[s].body) for s in streamIDs]
        assert bodies == [b"together"] * (2 * TOGETHER)
        most = client.get(b"/most")
    assert bytes(most.body) == str(TOGETHER).encode()


def test_static(wsgiServer: TwistServer) -> None:
    """
    --static PREFIX=DIR serves DIR's files under PREFIX beside the WSGI
    root, with an ETag that revalidates.
    """
    style, _ = fetch(wsgiServer, b"/static/app.css")
    assert (style.status, bytes(style.body)) == (200, APP_CSS)
    etag = style.header(b"etag")
    assert etag is not None
    again, _ = fetch(
        wsgiServer, b"/static/app.css", headers=((b"if-none-match", etag),)
    )
    assert again.status == 304
    other, _ = fetch(wsgiServer, b"/static/none.css")
    assert other.status == 404
    assert wsgiServer.problems == []


def test_user(twist: Starter) -> None:
    """
    -u/--user serves the users' directories: / answers the listing of
    users, and an unknown user is not found.
    """
    server = twist("--listen", "tcp:0", "-u")
    listing, _ = fetch(server, b"/")
    assert listing.status == 200
    assert b"<h1>twisted.web.distrib.UserDirectory</h1>" in listing.body
    unknown, _ = fetch(server, b"/no-such-user-here/")
    assert unknown.status == 404


def test_deprecatedNotracebacksAndPort(twist: Starter, tmp_path: Path) -> None:
    """
    -n/--notracebacks and -p/--port are accepted, each with one line saying
    it was deprecated and what to use; the server serves on the -p port.
    """
    writeFiles(tmp_path / "site", {"index.html": INDEX_HTML, "style.css": STYLE_CSS})
    server = twist("-n", "-p", "tcp:0", "--path", str(tmp_path / "site"))
    (notracebacks,) = deprecationLines(server, "--notracebacks")
    assert "19.7.0" in notracebacks and "--display-tracebacks" in notracebacks
    (port,) = deprecationLines(server, "--port")
    assert port.endswith("as in twist web: use --listen tcp:0")
    assert [url.split(":")[0] for url in server.urls] == ["http"]
    page, _ = fetch(server, b"/")
    assert (page.status, bytes(page.body)) == (200, INDEX_HTML)


def test_deprecatedHttps(twist: Starter, tmp_path: Path) -> None:
    """
    --https with -c/--certificate and -k/--privkey serves HTTPS with that
    certificate (not the development one), after one deprecation line.
    """
    certificate, key = ensureDevelopmentCertificate(tmp_path / "given")
    writeFiles(tmp_path / "site", {"index.html": INDEX_HTML})
    server = twist(
        "--https",
        "0",
        "-c",
        str(certificate),
        "-k",
        str(key),
        "--path",
        str(tmp_path / "site"),
    )
    (line,) = deprecationLines(server, "--https")
    assert "18.4.0" in line and "--listen ssl:0" in line
    assert [url.split(":")[0] for url in server.urls] == ["https"]
    served = ssl.get_server_certificate(("127.0.0.1", server.port("https")))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(
        certificate.read_text()
    )
    assert not (tmp_path / "state" / "localhost-cert.pem").exists()
    page, _ = fetch(server, b"/", "https")
    assert (page.status, bytes(page.body)) == (200, INDEX_HTML)


def test_personalRefused(twist: Starter) -> None:
    """--personal is refused with one line saying why, exit status 64."""
    status, output = mistake(twist, "--personal")
    assert status == 64
    assertOneLine(output, "--personal", "not supported")


STATS_ROW = re.compile(
    r"^\s*\d+\s+\S+\s+(\*?)\s*\S+\s+\S+\s+(\d+)\s+\d+\s+(\S+)\s*$", re.M
)


def statistics(output: str) -> dict[str, bool]:
    """{path: pushed} from nghttp -s output."""
    return {path: star == "*" for star, _, path in STATS_ROW.findall(output)}


@pytest.mark.parametrize(
    ("serverName", "scheme", "asset"),
    [
        ("pathServer", "https", "/style.css"),
        ("wsgiServer", "http", "/static/app.css"),
        ("scriptServer", "https", "/script.css"),
        ("classServer", "http", "/class.css"),
    ],
)
def test_firstAndRepeatVisit(
    request: pytest.FixtureRequest,
    nghttp: str,
    serverName: str,
    scheme: str,
    asset: str,
) -> None:
    """
    For each kind of root, nghttp's first visit gets the page's asset
    pushed and the digest cookie; a repeat visit with the cookie pushes
    nothing, and nghttp fetches the asset itself.
    """
    server: TwistServer = request.getfixturevalue(serverName)
    first = runNghttp(nghttp, "-ans", "-v", server.url(scheme))
    assert statistics(first) == {"/": False, asset: True}, first
    found = re.search(r"set-cookie: (h2o_casper=[^;]+)", first)
    assert found is not None, first
    repeat = runNghttp(
        nghttp, "-ans", "-H", f"cookie: {found.group(1)}", server.url(scheme)
    )
    assert statistics(repeat) == {"/": False, asset: False}, repeat


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (
            ["--path", "{site}", "--wsgi", "tests.webroots.application"],
            ["--path and --wsgi", "give one root"],
        ),
        (["--class", "tests.webroots.ClassRoot", "-u"], ["--class and --user"]),
        (
            ["--resource-script", "{script}", "--path", "{site}"],
            ["--path and --resource-script"],
        ),
        (["-i", "start.html"], ["--index", "give --path too"]),
        (["-m", "text/plain"], ["--mime-type", "give --path too"]),
        (["--ignore-ext", ".html"], ["--ignore-ext", "give --path too"]),
        (["--allow-ignore-ext"], ["--allow-ignore-ext", "give --path too"]),
        (
            ["--processor", ".up=tests.webroots.UpperProcessor"],
            ["--processor", "give --path too"],
        ),
        (["--add-header", "NoColon"], ["--add-header 'NoColon'", "Name: Value"]),
        (["--add-header", "Bad Name: x"], ["--add-header 'Bad Name: x'"]),
        (["--static", "/static"], ["--static /static", "PREFIX=DIR"]),
        (["--static", "static={site}"], ["--static static=", "absolute path"]),
        (["--static", "/static={site}/absent"], ["--static /static=", "no directory"]),
        (["--wsgi-threads", "3"], ["--wsgi-threads", "give --wsgi too"]),
        (
            ["--wsgi", "tests.webroots.application", "--wsgi-threads", "0"],
            ["--wsgi-threads 0"],
        ),
        (
            ["--wsgi", "tests.webroots.application", "--wsgi-threads", "many"],
            ["--wsgi-threads many"],
        ),
        (["--wsgi", "no.such.app"], ["--wsgi no.such.app", "cannot load it"]),
        (
            ["--class", "tests.webroots.NotAResource"],
            ["--class tests.webroots.NotAResource", "not a resource"],
        ),
        (
            ["--path", "{site}", "--processor", ".up=no.such.Thing"],
            ["--processor .up=no.such.Thing", "cannot load it"],
        ),
        (["-c", "{site}/cert.pem"], ["--certificate", "give --https PORT too"]),
        (["-k", "{site}/key.pem"], ["--privkey", "give --https PORT too"]),
        (["--https", "0"], ["--https", "--certificate server.pem", "no such file"]),
    ],
)
def test_mistakes(
    twist: Starter, tmp_path: Path, arguments: list[str], fragments: list[str]
) -> None:
    """
    Each mistake ends the process with exit status 64 and one line naming
    the option: two roots, the file options without --path, a bad
    --add-header or --static, --wsgi-threads without --wsgi or with a bad
    number, a root that does not load, -c/-k without --https, --https
    without its server.pem.
    """
    site = writeFiles(tmp_path / "site", {"index.html": INDEX_HTML})
    script = tmp_path / "root.rpy"
    script.write_text(ROOT_SCRIPT)
    filled = [a.format(site=site, script=script) for a in arguments]
    # --https reads server.pem in the current directory by default: run it
    # where there is none.
    cwd = tmp_path if "--https" in arguments else REPOSITORY
    status, output = mistake(twist, *filled, cwd=cwd)
    assert status == 64, output
    assertOneLine(output, *fragments)
