"""
C{twist txpush}, run as a real process and driven with nghttp and the python
h2 client.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import h2.settings
import pytest

from txpush.testing.h2client import H2Client
from txpush.testing.nghttp import runNghttp
from txpush.testing.twist import TwistServer, loggedAccess

DEMO = Path(__file__).parent.parent / "txpush" / "demo"


@pytest.fixture
def twist(tmp_path):
    servers: list[TwistServer] = []

    def start(*arguments: str, wait: bool = True) -> TwistServer:
        server = TwistServer(*arguments, stateDirectory=tmp_path / "state", wait=wait)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


STATS_ROW = re.compile(
    r"^\s*\d+\s+\S+\s+(\*?)\s*\S+\s+\S+\s+(\d+)\s+\d+\s+(\S+)\s*$", re.M
)


def statistics(output):
    """{path: pushed} from nghttp -s output."""
    return {path: star == "*" for star, _, path in STATS_ROW.findall(output)}


LISTEN = ("--listen", "ssl:0", "--listen", "tcp:0")


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_demoFirstAndRepeatVisit(twist, nghttp, scheme):
    """
    The demo's first visit pushes its blocking assets and sets the digest
    cookie; the repeat visit with the cookie pushes nothing and nghttp
    fetches everything itself.
    """
    server = twist(*LISTEN)
    first = runNghttp(nghttp, "-ans", "-v", server.url(scheme))
    assert statistics(first) == {
        "/": False,
        "/style.css": True,
        "/app.js": True,
        "/logo.svg": False,
    }
    cookie = re.search(r"set-cookie: (h2o_casper=[^;]+)", first).group(1)
    repeat = runNghttp(nghttp, "-ans", "-H", f"cookie: {cookie}", server.url(scheme))
    assert statistics(repeat) == {
        "/": False,
        "/style.css": False,
        "/app.js": False,
        "/logo.svg": False,
    }
    assert server.stop() == 0


def test_noPushGivesEarlyHints(twist, nghttp):
    """
    With --no-push, a client that takes pushes gets a 103 with both preload
    links and no PUSH_PROMISE.
    """
    server = twist(*LISTEN, "--no-push")
    output = runNghttp(nghttp, "-nv", server.url("https"))
    assert "PUSH_PROMISE" not in output
    hints = output.index(":status: 103")
    assert output.index("link: </style.css>; rel=preload; as=style") > hints
    assert output.index("link: </app.js>; rel=preload; as=script") > hints
    assert output.index(":status: 200") > hints


def test_noDigest(twist, nghttp):
    """
    With --no-digest, push is plain: no cookie, and a repeat visit pushes
    again.
    """
    server = twist(*LISTEN, "--no-digest")
    for _ in range(2):
        output = runNghttp(nghttp, "-ans", "-v", server.url("http"))
        assert "set-cookie" not in output
        assert statistics(output)["/style.css"] is True


def test_ownSiteAndManifest(twist, nghttp, tmp_path):
    """
    --path serves a directory and --push-manifest names its assets;
    --max-pushes caps them; --access-log says what push did.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(
        '<link rel="stylesheet" href="/a.css"><script src="/b.js"></script>'
    )
    (site / "a.css").write_text("a{}")
    (site / "b.js").write_text("b()")
    manifest = tmp_path / "push.json"
    manifest.write_text('{"/index.html": ["/a.css", "/b.js"]}')
    log = tmp_path / "access.log"
    server = twist(
        *LISTEN,
        "--path",
        str(site),
        "--push-manifest",
        str(manifest),
        "--max-pushes",
        "1",
        "--access-log",
        str(log),
    )
    output = runNghttp(nghttp, "-ans", "-v", server.url("http"))
    assert statistics(output) == {"/": False, "/a.css": True, "/b.js": False}
    assert server.stop() == 0
    lines = log.read_text().splitlines()
    assert loggedAccess(
        lines, "GET / HTTP/2", 200, "push=page pushed=1 cached=0 hinted=0"
    ), lines
    assert loggedAccess(lines, "GET /a.css HTTP/2", 200, "push=pushed"), lines
    assert loggedAccess(lines, "GET /b.js HTTP/2", 200, "push=-"), lines


def startWarnings(server):
    """The warnings the server logged at start."""
    return [line for line in server.log if "#warn]" in line]


def test_siteWithoutIndexOrManifest(twist, nghttp, tmp_path):
    """
    A --path without an index.html is served with a directory listing at /,
    and without --push-manifest or --learn nothing is pushed: the log says
    both at start, naming the directory and what to do.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "a.css").write_text("a{}")
    server = twist(*LISTEN, "--path", str(site))
    listing, hint = startWarnings(server)
    assert f"--path {site} has no index.html: / shows a directory listing" in listing
    assert "add an index.html" in listing
    assert "every directory without one is listed" in listing
    assert "No --push-manifest and no --learn" in hint and str(site) in hint
    assert "--push-manifest FILE" in hint and "--learn" in hint
    assert statistics(runNghttp(nghttp, "-ans", server.url("http"))) == {"/": False}
    with H2Client(server.port("http")) as client:
        page = client.get(b"/")
    assert page.status == 200 and b"a.css" in page.body and not client.pushes()


@pytest.mark.parametrize(
    "arguments",
    [
        (),
        ("--push-manifest", "{manifest}"),
        ("--learn",),
    ],
)
def test_noStartWarnings(twist, tmp_path, arguments):
    """
    The demo, and a --path with an index.html and a manifest or learning,
    start without warnings.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html></html>")
    manifest = tmp_path / "push.json"
    manifest.write_text('{"/index.html": []}')
    paths = ("--path", str(site)) if arguments else ()
    filled = [argument.format(manifest=manifest) for argument in arguments]
    server = twist(*LISTEN, *paths, *filled)
    assert startWarnings(server) == []


def test_defaultListensOn8443WithTheDevelopmentCertificate(twist, nghttp, tmp_path):
    """
    With no options, the demo is served on https://localhost:8443/ with a
    development certificate made in the state directory, which the log
    names.
    """
    server = twist()
    assert server.urls == ["https://localhost:8443/"]
    certificate = tmp_path / "state" / "localhost-cert.pem"
    assert certificate.exists()
    assert any(str(certificate) in line for line in server.log)
    output = runNghttp(nghttp, "-ans", "https://localhost:8443/")
    assert statistics(output)["/style.css"] is True
    assert server.stop(signal.SIGINT) == 0


@pytest.mark.parametrize("signalNumber", [signal.SIGTERM, signal.SIGINT])
def test_stopLetsOpenStreamsFinish(twist, signalNumber):
    """
    On SIGTERM or SIGINT, a client with a response in flight gets a GOAWAY,
    its open stream finishes, and the process exits 0.
    """
    server = twist(*LISTEN)
    # A window of 0 holds the response body until the client opens it.
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    with H2Client(server.port("http"), settings=settings) as client:
        streamID = client.request(b"/style.css")
        client.runUntil(lambda: client.streams[streamID].headers is not None)
        server.process.send_signal(signalNumber)
        client.runUntil(
            lambda: client.terminated is not None or client.closed is True, timeout=15
        )
        assert client.terminated is not None and client.terminated.errorCode == 0
        assert client.terminated.lastStreamID == streamID
        assert not client.streams[streamID].ended
        client.conn.update_settings(
            {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535}
        )
        client.conn.increment_flow_control_window(65535, streamID)
        client.flush()
        client.runUntil(lambda: client.streams[streamID].ended, timeout=15)
        assert b"font-family" in client.streams[streamID].body
    assert server.stop() == 0
    assert any("Stopping on signal" in line for line in server.log)


def badInput(twist, *arguments):
    """Run twist txpush with a mistake; return (exit status, output)."""
    server = twist(*arguments, wait=False)
    status = server.process.wait(60)
    server.stop()
    return status, "".join(server.log)


def assertOneLine(output, *fragments):
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("twist txpush: "), output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in lines[0], output


def test_missingPath(twist, tmp_path):
    status, output = badInput(twist, "--path", str(tmp_path / "nowhere"))
    assert status == 64
    assertOneLine(output, "--path", "nowhere", "no such directory")


def test_pathThatIsAFile(twist, tmp_path):
    """
    --path FILE serves that file at /, and nothing else (twist web's help
    says a file may be the root).
    """
    (tmp_path / "page.html").write_text("<p>one page</p>")
    server = twist("--path", str(tmp_path / "page.html"), *LISTEN)
    with H2Client(server.port()) as client:
        page = client.get(b"/")
        other = client.get(b"/other")
    assert (page.status, page.body) == (200, b"<p>one page</p>")
    assert other.status == 404
    assert server.problems == []


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('{\n  "/index.html": [\n    "/a.css",\n  ]\n}', ["line 4"]),
        ('["/a.css"]', ["object"]),
        ('{\n  "/index.html": [\n    "a.css"\n  ]\n}', ["line 3", "absolute path"]),
        ('{\n  "/index.html": ["/../secret.css"]\n}', ["line 2"]),
        ('{\n  "/index.html": "/a.css"\n}', ["line 2"]),
    ],
)
def test_invalidManifest(twist, tmp_path, text, fragments):
    """
    A manifest that is not JSON, of the wrong shape, with relative paths or
    paths outside the site: one line naming the option, the file and line.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html></html>")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(text)
    status, output = badInput(
        twist, "--path", str(site), "--push-manifest", str(manifest)
    )
    assert status == 64
    assertOneLine(output, "--push-manifest", "manifest.json", *fragments)


@pytest.mark.parametrize(
    ("entry", "fragments"),
    [
        ('"/index.html": ["/js/ap.js"]', ['"/js/ap.js"', 'did you mean "/js/app.js"']),
        ('"/index.htm": []', ['page "/index.htm"', 'did you mean "/index.html"']),
        ('"/js/": []', ['page "/js/"', "without an index.html"]),
    ],
)
def test_manifestNamingNoFile(twist, tmp_path, entry, fragments):
    """
    With --path, a manifest's page or asset that names nothing the site
    serves is refused at its line, with the closest path of the site.
    """
    site = tmp_path / "site"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text("<html></html>")
    (site / "js" / "app.js").write_text("app()")
    manifest = tmp_path / "push.json"
    manifest.write_text('{\n  "/js/app.js": [],\n  ' + entry + "\n}")
    status, output = badInput(
        twist, "--path", str(site), "--push-manifest", str(manifest)
    )
    assert status == 64
    assertOneLine(output, "--push-manifest", f"{manifest}, line 3", *fragments)


def test_missingManifest(twist, tmp_path):
    status, output = badInput(twist, "--push-manifest", str(tmp_path / "absent.json"))
    assert status == 64
    assertOneLine(output, "--push-manifest", "absent.json")


@pytest.mark.parametrize(
    ("description", "fragment"),
    [
        ("foo:1", "give a Twisted endpoint such as ssl:8443"),
        ("tcp:notaport", "'notaport' is not a port number: give a port from 1 to"),
        ("tcp:99999", "port 99999 is out of range: give a port from 1 to 65535"),
        ("ssl:", "names no port: give a port from 1 to 65535"),
    ],
)
def test_badEndpoint(twist, description, fragment):
    status, output = badInput(twist, "--listen", description)
    assert status == 64
    assertOneLine(output, f"--listen {description}: ", fragment)
    assert "invalid literal" not in output and "cannot listen" not in output


def test_certificateThatDoesNotLoad(twist, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    status, output = badInput(
        twist, "--listen", f"ssl:0:privateKey={bad}:certKey={bad}"
    )
    assert status == 64
    assertOneLine(output, "--listen ssl:0", "PEM")


def test_portInUse(twist):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, output = badInput(twist, "--listen", f"tcp:{port}")
    assert status == 69
    assertOneLine(output, f"--listen tcp:{port}", "cannot listen", "in use")


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--capacity-bits", "99"], "--capacity-bits 99"),
        (["--capacity-bits", "x"], "--capacity-bits x"),
        (["--max-pushes", "-1"], "--max-pushes -1"),
        (["--track", "some"], "--track some"),
        (["--digest-cookie", "a b"], "--digest-cookie a b"),
        (["--grace-period", "x"], "--grace-period x"),
        (["--handshake-timeout", "0"], "--handshake-timeout 0"),
        (["--idle-timeout", "soon"], "--idle-timeout soon"),
        (["--connection-buffer", "10"], "--connection-buffer 10"),
        (["--cache-control", "max-age=1h"], "--cache-control max-age=1h"),
        (["--cache-control", "image=no-cache"], "--cache-control image=no-cache"),
        (["--digest-max-age", "-5"], "--digest-max-age -5"),
        (["--failed-asset-retry", "-1"], "--failed-asset-retry -1"),
        (["--no-such-option"], "no-such-option"),
    ],
)
def test_badOptions(twist, arguments, fragment):
    status, output = badInput(twist, *arguments)
    assert status == 64
    assertOneLine(output, fragment)


def test_unwritableAccessLog(twist, tmp_path):
    status, output = badInput(
        twist, "--access-log", str(tmp_path / "no" / "such" / "x.log")
    )
    assert status == 64
    assertOneLine(output, "--access-log")


def test_freshVirtualEnvironment(tmp_path):
    """
    pip install into a new virtual environment gives a working
    twist txpush (the dropin is installed, the plugin cache is written and
    lists it, the demo files are packaged).
    """
    root = Path(__file__).parent.parent
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--disable-pip-version-check",
            str(root),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    completed = subprocess.run(
        [str(venv / "bin" / "twist"), "txpush", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert "--push-manifest" in completed.stdout
    assert "Unable to write" not in completed.stderr + completed.stdout
    plugins = next((venv / "lib").glob("python3*/site-packages/twisted/plugins"))
    assert (plugins / "txpush_plugin.py").exists()
    assert b"txpush" in (plugins / "dropin.cache").read_bytes()
    demo = next((venv / "lib").glob("python3*/site-packages/txpush/demo"))
    assert {p.name for p in demo.iterdir()} >= {
        "index.html",
        "style.css",
        "app.js",
        "logo.svg",
        "push-manifest.json",
    }


def test_everyOptionIsDocumented():
    """
    docs/twist-txpush.md and the README's table name every option of
    twist txpush --help, with its short form, and no option that does not
    exist.
    """
    from txpush.tap import Options

    helpText = str(Options())
    options = set(re.findall(r"--([a-z][a-z-]+)", helpText)) - {"help"}
    shortForms = set(re.findall(r"^\s+-([a-z]), --", helpText, re.M))
    assert {"version", "wsgi", "class", "resource-script", "logfile"} <= options
    assert shortForms == {"c", "i", "k", "l", "m", "n", "p", "u"}
    root = Path(__file__).parent.parent
    for document in (root / "docs" / "twist-txpush.md", root / "README.md"):
        text = document.read_text()
        documented = set(re.findall(r"`--([a-z][a-z-]+)", text))
        assert options <= documented, (document, options - documented)
        assert documented <= options, (document, documented - options)
        documentedShort = set(re.findall(r"`-([a-z])`, `--", text))
        assert documentedShort == shortForms, (document, documentedShort)


def browseLikeABrowser(port, tls=False):
    """One page load and its assets, with Referer, without push."""
    with H2Client(port, tls=tls, enablePush=False) as client:
        referer = (b"https://" if tls else b"http://") + client.authority + b"/"
        client.get(b"/")
        for path in (b"/style.css", b"/app.js", b"/logo.svg"):
            assert client.get(path, headers=[(b"referer", referer)]).status == 200


def test_learnFileSurvivesARestart(twist, nghttp, tmp_path):
    """
    With --learn and --learn-file, what browsers taught one server process
    is pushed by the next, after a restart.
    """
    site = tmp_path / "site"
    site.mkdir()
    for name in ("index.html", "style.css", "app.js", "logo.svg"):
        (site / name).write_bytes((DEMO / name).read_bytes())
    learned = tmp_path / "learned.json"
    arguments = (*LISTEN, "--path", str(site), "--learn", "--learn-file", str(learned))
    server = twist(*arguments)
    before = runNghttp(nghttp, "-ans", server.url("http"))
    assert statistics(before)["/style.css"] is False
    for _ in range(2):
        browseLikeABrowser(server.port("http"))
    assert server.stop() == 0
    assert "/style.css" in learned.read_text()
    server = twist(*arguments)
    after = runNghttp(nghttp, "-ans", server.url("http"))
    assert statistics(after) == {
        "/": False,
        "/style.css": True,
        "/app.js": True,
        "/logo.svg": True,
    }


def test_corruptLearnFile(twist, nghttp, tmp_path):
    """
    A corrupt --learn-file is reported in the log, and learning starts empty.
    """
    learned = tmp_path / "learned.json"
    learned.write_text("{not json")
    server = twist(*LISTEN, "--learn", "--learn-file", str(learned))
    assert any(
        "learning starts empty" in line and str(learned) in line for line in server.log
    )
    assert statistics(runNghttp(nghttp, "-ans", server.url("http")))["/"] is False


def test_learnFileNeedsLearn(twist, tmp_path):
    status, output = badInput(twist, "--learn-file", str(tmp_path / "l.json"))
    assert status == 64
    assertOneLine(output, "--learn-file", "--learn")


def test_chromiumTeachesLearnedPush(twist, nghttp, chromium, tmp_path):
    """
    A real headless Chromium (which sends Referer and does not take push)
    loads the demo page a few times with learning on and no manifest; then
    nghttp sees the page's assets pushed.
    """
    from tests.test_chromium import loadTimings, spkiHash

    site = tmp_path / "site"
    site.mkdir()
    for name in ("index.html", "style.css", "app.js", "logo.svg"):
        (site / name).write_bytes((DEMO / name).read_bytes())
    server = twist("--listen", "ssl:0", "--path", str(site), "--learn")
    certificate = tmp_path / "state" / "localhost-cert.pem"
    first = runNghttp(nghttp, "-ans", server.url("https"))
    assert not any(statistics(first).values())
    for _ in range(3):
        loadTimings(chromium, server.url("https"), spkiHash(certificate), report=False)
    learned = runNghttp(nghttp, "-ans", server.url("https"))
    pushed = statistics(learned)
    assert pushed["/style.css"] and pushed["/app.js"] and pushed["/logo.svg"], learned
