"""
C{twist txpush}'s command line parses into a frozen L{ServeSettings} and does
nothing else; L{makeService} builds the service from it.
"""

from __future__ import annotations

import subprocess

import attrs
import pytest
from twisted.internet import reactor
from twisted.logger import LogLevel
from twisted.python import usage
from twisted.web.resource import Resource

from txpush.site import PushSite
from txpush.tap import (
    DEFAULT_BACKLOG,
    DEMO_MANIFEST,
    ListeningService,
    Options,
    ServeSettings,
    listenNow,
    parseEndpoints,
    serviceFromSettings,
)


def parse(*arguments: str) -> ServeSettings:
    options = Options()
    options.parseOptions(list(arguments))
    settings: ServeSettings = options["settings"]
    return settings


def test_parsingDoesNoWork(tmp_path):
    """
    Parsing reads no manifest, makes no certificate and listens nowhere: a
    missing manifest and a state directory that does not exist yet are only
    named in the settings.
    """
    state = tmp_path / "state"
    settings = parse(
        "--path",
        str(tmp_path),
        "--push-manifest",
        str(tmp_path / "absent.json"),
        "--state-dir",
        str(state),
        "--listen",
        "ssl:0",
        "--max-pushes",
        "3",
        "--no-digest",
    )
    assert not state.exists()
    assert settings == ServeSettings(
        site=tmp_path.resolve(),
        manifest=tmp_path / "absent.json",
        listen=("ssl:0",),
        stateDirectory=state,
        maxPushes=3,
        useDigest=False,
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        settings.maxPushes = 4  # type: ignore[misc]


def test_defaultsServeTheDemo():
    """
    With no options: the demo site and its manifest, on ssl:8443.
    """
    settings = parse()
    assert (settings.site, settings.manifest, settings.listen) == (
        None,
        DEMO_MANIFEST,
        ("ssl:8443",),
    )
    config = settings.pushConfig(None)
    assert (config.push, config.useDigest, config.earlyHints) == (True, True, True)


def test_serviceFromSettings(tmp_path):
    """
    The service is built from the settings alone: it listens, and its site
    wraps the directory in the cache-aware resource with their
    configuration.
    """
    (tmp_path / "index.html").write_text("<html></html>")
    settings = ServeSettings(
        site=tmp_path, manifest=None, listen=("tcp:0:interface=127.0.0.1",)
    )
    service = serviceFromSettings(settings)
    (listening, *_) = list(service)
    try:
        ((description, port),) = listening.ports
        assert description == "tcp:0:interface=127.0.0.1"
        assert port.getHost().port > 0
        resource = listening.site.resource
        assert resource.config == settings.pushConfig(None)
    finally:
        for _, port in listening.ports:
            port.stopListening()


@pytest.mark.parametrize(
    ("description", "problem"),
    [
        ("tcp:abc", "'abc' is not a port number"),
        ("tcp:-1", "'-1' is not a port number"),
        ("tcp:99999", "port 99999 is out of range"),
        ("ssl:65536:interface=127.0.0.1", "port 65536 is out of range"),
        ("tcp:port=70000", "port 70000 is out of range"),
        ("haproxy:tcp:x", "'x' is not a port number"),
        ("tcp6:x", "'x' is not a port number"),
        ("ssl:", "names no port"),
        ("ssl:interface=127.0.0.1", "names no port"),
    ],
)
def test_listenPort(description, problem, capsys):
    """
    A C{--listen} whose port is not a port number, or out of range, is one
    line naming the value, what is wrong and what to write, exit status 64.
    """
    with pytest.raises(SystemExit) as info:
        parse("--listen", description)
    assert info.value.code == 64
    error = capsys.readouterr().err
    example = "ssl:8443" if description.startswith("ssl") else "tcp:8080"
    if description.startswith("tcp6"):
        example = "tcp6:8080"
    assert error == (
        f"twist txpush: --listen {description}: {problem}: give a port from 1 to "
        f"65535 (0 for any free one), such as {example} (see twist txpush --help)\n"
    )


@pytest.mark.parametrize(
    "description",
    [
        "tcp:0",
        "tcp:65535:interface=127.0.0.1",
        "ssl:8443:privateKey=a\\:b.pem:certKey=c.pem",
        "haproxy:tcp:8080",
        "unix:/tmp/txpush.sock",
    ],
)
def test_listenPortAccepted(description):
    """
    Ports from 0 to 65535, and endpoints without a port, pass to Twisted.
    """
    assert parse("--listen", description).listen == (description,)


def test_failedAssetRetry():
    """
    --failed-asset-retry sets how long a failing asset is left out of its
    page, 300 seconds by default.
    """
    assert parse().pushConfig(None).failedAssetRetry == 300
    settings = parse("--failed-asset-retry", "0")
    assert settings.pushConfig(None).failedAssetRetry == 0


def test_linkHintsAndPreconnect():
    """
    Hints from a page's earlier Link headers and preconnects are on by
    default; --no-link-hints and --no-preconnect turn them off.
    """
    config = parse().pushConfig(None)
    assert config.linkHints is not None and config.preconnect
    config = parse("--no-link-hints", "--no-preconnect").pushConfig(None)
    assert config.linkHints is None and not config.preconnect


def test_twistWebOptionsInAnyOrder(tmp_path):
    """
    twist web's options for --path may come before it, and each lands in
    the settings: extensions get their dot, --allow-ignore-ext is "*".
    """
    static = tmp_path / "static"
    static.mkdir()
    settings = parse(
        "-i",
        "home.html",
        "--index",
        "index.rpy",
        "-m",
        "text/plain",
        "--ignore-ext",
        "html",
        "--allow-ignore-ext",
        "--processor",
        "tpl=tests.webroots.Template",
        "--add-header",
        "X-Frame-Options:  DENY ",
        "--display-tracebacks",
        "--static",
        "/assets/=" + str(static),
        "--path",
        str(tmp_path),
        "-l",
        str(tmp_path / "access.log"),
    )
    assert settings == ServeSettings(
        site=tmp_path.resolve(),
        manifest=None,
        indexNames=("home.html", "index.rpy"),
        mimeType="text/plain",
        ignoredExtensions=(".html", "*"),
        processors=((".tpl", "tests.webroots.Template"),),
        addedHeaders=((b"X-Frame-Options", b"DENY"),),
        displayTracebacks=True,
        static=(("/assets", static.resolve()),),
        accessLog=tmp_path / "access.log",
    )


@pytest.mark.parametrize(
    ("arguments", "field", "value"),
    [
        (["--wsgi", "myapp.app"], "wsgi", "myapp.app"),
        (["--class", "myapp.Root"], "rootClass", "myapp.Root"),
        (["--user"], "userDirectories", True),
        (["-u"], "userDirectories", True),
    ],
)
def test_rootsAreNamedNotLoaded(arguments, field, value):
    """
    A root other than a directory is only named when parsing: nothing is
    imported, and the demo's manifest is not used for it.
    """
    settings = parse(*arguments)
    assert getattr(settings, field) == value
    assert settings.manifest is None


def test_wsgiThreads():
    """--wsgi-threads sizes the pool, 20 by default, as twist web's."""
    assert parse("--wsgi", "a.b").wsgiThreads == 20
    assert parse("--wsgi", "a.b", "--wsgi-threads", "3").wsgiThreads == 3


def test_deprecatedListenOptions(tmp_path, capsys):
    """
    twist web's deprecated -p and --https (with -c and -k) still listen,
    each saying once that it is deprecated and what to use.
    """
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.write_text("x")
    key.write_text("x")
    settings = parse(
        "-p", "tcp:8080", "--https", "8443", "-c", str(certificate), "-k", str(key)
    )
    assert settings.listen == (
        "tcp:8080",
        f"ssl:port=8443:privateKey={key}:certKey={certificate}",
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "twist txpush: --port was deprecated in Twisted 18.4.0, as in twist "
        "web: use --listen tcp:8080",
        "twist txpush: --https was deprecated in Twisted 18.4.0, as in twist "
        "web: use --listen ssl:8443:privateKey=KEY.pem:certKey=CERT.pem, or "
        "--listen ssl:8443 for the development certificate",
    ]


def test_notracebacks(capsys):
    """-n is accepted and says it is deprecated, as twist web does."""
    parse("-n")
    assert "--notracebacks was deprecated in Twisted 19.7.0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--wsgi", "a.b", "--class", "c.D"], "--wsgi and --class: give one root"),
        (["--user", "--path", "."], "--path and --user: give one root"),
        (["--mime-type", "text/plain"], "--mime-type: give --path too"),
        (["--wsgi", "a.b", "-i", "x.html"], "--index: give --path too"),
        (["--allow-ignore-ext"], "--allow-ignore-ext: give --path too"),
        (["--wsgi-threads", "4"], "--wsgi-threads: give --wsgi too"),
        (["--wsgi", "a.b", "--wsgi-threads", "0"], "--wsgi-threads 0: give a whole"),
        (["--add-header", "NoColon"], "--add-header 'NoColon': give a header"),
        (["--add-header", "Bad Name: x"], "--add-header 'Bad Name: x'"),
        (["--static", "/static"], "--static /static: give PREFIX=DIR"),
        (["--static", "static=."], "--static static=.: 'static' is not an absolute"),
        (["--static", "/s=/no/such/dir"], "--static /s=/no/such/dir: /no/such/dir"),
        (["--static", "/s=.", "--static", "/s/=."], "--static /s/=.: /s/ is already"),
        (
            ["--static", "/api=.", "--proxy", "/api/=http://127.0.0.1:8000"],
            "--proxy /api/=http://127.0.0.1:8000: /api/ is already served from",
        ),
        (["--path", ".", "-m", "plain"], "--mime-type plain: give a type/subtype"),
        (["--path", ".", "--processor", "x"], "--processor x: give EXT=CLASS"),
        (["--path", ".", "--ignore-ext", "."], "--ignore-ext .: give an extension"),
        (["-c", "cert.pem"], "--certificate: give --https PORT too"),
        (["--https", "8443", "-c", "/no/c.pem"], "--certificate /no/c.pem: no such"),
        (["--personal"], "--personal: not supported"),
        (["-l", "a.log", "--access-log", "b.log"], "--access-log and --logfile"),
        (["--resource-script", "/no/such.rpy"], "--resource-script /no/such.rpy"),
    ],
)
def test_rootAndTwistWebMistakes(arguments, message, capsys):
    """
    Each mistake in the twist web options is one line naming the option
    and what to do, exit status 64.
    """
    with pytest.raises(SystemExit) as info:
        parse(*arguments)
    assert info.value.code == 64
    error = capsys.readouterr().err
    assert error.startswith("twist txpush: " + message), error
    assert error.count("\n") == 1


def test_version(capsys):
    """--version prints txpush's version and Twisted's, and exits 0."""
    import twisted

    with pytest.raises(SystemExit) as info:
        parse("--version")
    assert info.value.code == 0
    output = capsys.readouterr().out
    assert output.startswith("txpush ")
    assert output.endswith(f" (Twisted {twisted.__version__})\n")
    assert "(not installed)" not in output


class _TwistOptions(usage.Options):
    """A stand-in for C{twist}'s own options: its log level."""

    def __init__(self, level: LogLevel) -> None:
        super().__init__()
        self["logLevel"] = level


@pytest.mark.parametrize(
    ("level", "logged"),
    [
        (LogLevel.debug, True),
        (LogLevel.info, False),
        (LogLevel.warn, False),
        (None, True),
    ],
)
def test_pageDecisionsLoggedAtDebug(level, logged):
    """
    Each page's decision is logged when C{twist}'s log level is debug, and
    without C{twist}'s options (as under C{twistd}); at a higher level the
    event, which no observer would keep, is not made.
    """
    options = Options()
    if level is not None:
        options.parent = _TwistOptions(level)
    options.parseOptions([])
    settings = options["settings"]
    assert settings.logPageDecisions is logged
    service = serviceFromSettings(attrs.evolve(settings, listen=("tcp:0",)))
    try:
        [listening] = [s for s in service if isinstance(s, ListeningService)]
        assert listening.site.resource.logsPages is logged
    finally:
        for s in service:
            if isinstance(s, ListeningService):
                for _, port in s.ports:
                    port.stopListening()


def listenBacklog(port: int) -> int:
    """The listen backlog of the TCP socket listening on C{port}, by C{ss}."""
    output = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    # State, Recv-Q, Send-Q (the backlog of a listening socket), ...
    return int(output[2])


def test_listenBacklog(tmp_path):
    """
    An endpoint without a C{backlog} listens with L{DEFAULT_BACKLOG}
    (Twisted's 50 drops the SYNs of a burst of new clients); one that gives
    its own keeps it.
    """
    settings = parse(
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--listen",
        "tcp:0:interface=127.0.0.1:backlog=7",
        "--state-dir",
        str(tmp_path),
    )
    parsed, _ = parseEndpoints(settings, reactor)
    ports = [listenNow(PushSite(Resource()), [item])[0][1] for item in parsed]
    try:
        backlogs = [listenBacklog(port.getHost().port) for port in ports]
    finally:
        for port in ports:
            port.stopListening()
    assert backlogs == [DEFAULT_BACKLOG, 7]
