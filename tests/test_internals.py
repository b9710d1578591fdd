"""
The Twisted internals txpush extends are still there, only
L{txpush._twisted} touches them, and the pure core loads without Twisted.
"""

import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
import twisted
from twisted import version
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web._http2 import H2Connection
from zope.interface import implementer

from txpush._twisted import compat
from txpush._twisted.backports import HAS_TERMINATE, TwistedBackports
from txpush._twisted.compat import (
    TESTED_TWISTED,
    TWISTED_BACKPORTS,
    TWISTED_INTERNALS,
    checkTwistedInternals,
    isTestedTwisted,
)
from txpush._twisted.connection import PushingH2Connection
from txpush.errors import IncompatibleTwistedError

PACKAGE = Path(__file__).resolve().parent.parent / "txpush"
SETUP = PACKAGE.parent / "setup.py"

# The Twisted modules whose private names txpush may use.
TWISTED_SOURCES = [
    Path(twisted.__file__).parent / "web" / name
    for name in (
        "_http2.py",
        "http.py",
        "server.py",
        "resource.py",
        "client.py",
        "_newclient.py",
    )
]

PURE_CORE = [
    "txpush.assets",
    "txpush.forwarding",
    "txpush.config",
    "txpush.connectionstate",
    "txpush.delivery",
    "txpush.diary",
    "txpush.digest",
    "txpush.errors",
    "txpush.failedassets",
    "txpush.filecache",
    "txpush.floodguard",
    "txpush.headerblock",
    "txpush.interfaces",
    "txpush.learning",
    "txpush.linkheader",
    "txpush.linkhints",
    "txpush.manifest",
    "txpush.policy",
    "txpush.pushrequest",
    "txpush.session",
]


def identifiers(source: str) -> set[str]:
    """The names in Python source, outside strings and comments."""
    return {
        token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.NAME
    }


def twistedPrivateNames(path: Path) -> set[str]:
    """
    The names in C{path} that start with one underscore and that Twisted's
    web modules use too: Twisted's private names (txpush names its own
    private attributes apart).
    """
    twistedNames = set().union(*(identifiers(p.read_text()) for p in TWISTED_SOURCES))
    return {
        name
        for name in identifiers(path.read_text())
        if re.fullmatch(r"_[A-Za-z]\w*", name) and name in twistedNames
    }


def test_installedTwistedHasTheInternals():
    """
    The installed Twisted has everything txpush relies on; if this fails,
    the message names what changed and the Twisted release.
    """
    checkTwistedInternals()


def test_missingInternalIsNamedWithTheTwistedVersion(monkeypatch):
    """
    A Twisted without one of the internals is refused with a message naming
    it and the installed release.
    """
    monkeypatch.delattr(H2Connection, "_requestAborted")
    with pytest.raises(IncompatibleTwistedError) as info:
        checkTwistedInternals()
    message = str(info.value)
    assert "H2Connection._requestAborted" in message
    assert f"Twisted {version.short()}" in message
    assert TESTED_TWISTED in message


def test_pushSiteRefusesAnIncompatibleTwisted(monkeypatch):
    """
    PushSite checks at construction, so an incompatible Twisted fails at
    start-up rather than on the first push.
    """
    from twisted.web.resource import Resource

    from txpush import PushSite

    monkeypatch.delattr(H2Connection, "_requestDone")
    with pytest.raises(IncompatibleTwistedError):
        PushSite(Resource())


def test_checkCoversExactlyThePrivateNamesUsed():
    """
    The compatibility check names exactly the private Twisted names that
    txpush._twisted uses: one used without being checked, or checked without
    being used, fails this test.
    """
    used = set().union(
        *(twistedPrivateNames(p) for p in (PACKAGE / "_twisted").glob("*.py"))
    )
    checked = {
        name
        for names in TWISTED_INTERNALS.values()
        for name in names
        if name.startswith("_")
    }
    # A backported name is Twisted's only on the releases that have it.
    backported = {name for names in TWISTED_BACKPORTS.values() for name in names}
    assert used - backported == checked
    assert not backported & checked


def test_backportedNamesAreOnTheConnection():
    """
    Each name of TWISTED_BACKPORTS is on txpush's connection whatever the
    release: Twisted's own where it has one, the backport's where it does
    not.
    """
    for ownerName, names in TWISTED_BACKPORTS.items():
        owner = compat._resolve(ownerName)
        for name in names:
            provided = getattr(PushingH2Connection, name)
            if hasattr(owner, name):
                assert provided is getattr(owner, name), name
            else:
                assert provided is vars(TwistedBackports)[name], name
    assert hasattr(H2Connection, "_terminate") == HAS_TERMINATE


def test_terminateFlushesClosesAndLoses():
    """
    C{_terminate}, Twisted's or the backport, writes the pending control
    frames, closes the transport and loses the connection with the reason
    given, leaving the timeouts armed.
    """
    connection = PushingH2Connection(reactor=Clock())
    transport = StringTransport()
    connection.makeConnection(transport)
    lost: list[tuple[Failure, bool]] = []
    connection.connectionLost = lambda reason, _cancelTimeouts=True: lost.append(
        (reason, _cancelTimeouts)
    )
    transport.clear()
    connection.conn.ping(b"12345678")
    reason = Failure(ConnectionError("going"))
    connection._terminate(reason)
    assert transport.value(), "the PING was not written first"
    assert transport.disconnecting
    assert lost == [(reason, False)]


def test_tcpTransportGetsNoDelay():
    """
    On every release, an HTTP/2 connection over TCP disables Nagle's
    algorithm, so small frames are not held back.
    """

    @implementer(ITCPTransport)
    class TCPTransport(StringTransport):
        noDelay = False

        def setTcpNoDelay(self, enabled: bool) -> None:
            self.noDelay = enabled

    transport = TCPTransport()
    PushingH2Connection(reactor=Clock()).makeConnection(transport)
    assert transport.noDelay
    # A transport that is not TCP (a test's, say) is left alone.
    PushingH2Connection(reactor=Clock()).makeConnection(StringTransport())


def test_setupRequiresTheTestedRange():
    """
    setup.py, which cannot import txpush, requires the Twisted releases
    TESTED_TWISTED names.
    """
    requirements = re.findall(r'"Twisted\[[\w,]+\]([^"]*)"', SETUP.read_text())
    assert [f"Twisted{r}" for r in requirements] == [TESTED_TWISTED]


def test_testedRange():
    """
    The range runs from its oldest release to the one after the newest, the
    pre-releases of a release counting as that release; the installed Twisted
    is in it (CI installs no other).
    """
    # Called through its module: pytest would collect a test* name.
    oldest, after = compat.testedTwistedRange()
    assert oldest < after
    assert isTestedTwisted(oldest)
    assert not isTestedTwisted((oldest[0], oldest[1] - 1, 0))
    assert isTestedTwisted((after[0], after[1] - 1, 0))
    assert not isTestedTwisted((*after, 0))
    assert compat._release("26.2.0rc1") == (26, 2, 0)
    assert isTestedTwisted()


def test_untestedReleaseIsUsedWithAWarning(monkeypatch):
    """
    A release outside the range whose internals are all present is used, and
    the check logs a warning naming it and the range.
    """
    events: list[dict[str, object]] = []
    monkeypatch.setattr(compat, "log", Logger(observer=events.append))
    monkeypatch.setattr(compat, "isTestedTwisted", lambda: False)
    monkeypatch.setattr(compat, "tlsIncompatibility", lambda: None)
    checkTwistedInternals()
    [event] = events
    assert event["release"] == version.short()
    assert event["tested"] == TESTED_TWISTED


def test_installedTwistedServesTLS():
    """
    The installed Twisted and pyOpenSSL can serve TLS together: CI installs
    pyOpenSSL<26.2 beside a Twisted older than 26.4.
    """
    assert compat.tlsIncompatibility() is None


@pytest.mark.parametrize(
    ("twistedRelease", "pyOpenSSLRelease", "works"),
    [
        ((25, 5, 0), "26.1.0", True),
        ((25, 5, 0), "26.2.0", False),
        ((22, 4, 0), "26.4.0rc1", False),
        ((26, 4, 0), "26.4.0", True),
        ((26, 10, 0), "27.0.0", True),
    ],
)
def test_tlsIncompatibilityIsLogged(
    monkeypatch, twistedRelease, pyOpenSSLRelease, works
):
    """
    Twisted before 26.4 with pyOpenSSL 26.2 or later cannot serve TLS: the
    check logs an error naming both releases and the remedy, and lets a
    site start (it may serve cleartext behind a TLS-terminating proxy).
    """
    import OpenSSL
    from incremental import Version

    monkeypatch.setattr(compat, "twistedVersion", Version("Twisted", *twistedRelease))
    monkeypatch.setattr(OpenSSL, "__version__", pyOpenSSLRelease)
    monkeypatch.setattr(compat, "isTestedTwisted", lambda: True)
    monkeypatch.setattr(compat, "missingTwistedInternals", list)
    events: list[dict[str, object]] = []
    monkeypatch.setattr(compat, "log", Logger(observer=events.append))
    checkTwistedInternals()
    if works:
        assert events == []
    else:
        [event] = events
        problem = str(event["problem"])
        assert "Twisted {}.{}.{}".format(*twistedRelease) in problem
        assert f"pyOpenSSL {pyOpenSSLRelease}" in problem
        assert "pyOpenSSL<26.2" in problem


def test_noPrivateTwistedNameOutsideTheAdapterPackage():
    """
    No module outside txpush._twisted uses a private Twisted name.
    """
    outside = {
        str(path.relative_to(PACKAGE)): names
        for path in PACKAGE.rglob("*.py")
        if "_twisted" not in path.parts and (names := twistedPrivateNames(path))
    }
    assert outside == {}


@pytest.mark.parametrize("module", PURE_CORE)
def test_pureCoreImportsNoTwisted(module):
    """
    Each module of the pure core imports in a fresh interpreter without
    loading Twisted, directly or through txpush/__init__.
    """
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'twisted'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


def test_publicNamesImportOnFirstUse():
    """
    Every public name of txpush is importable from it, and is the object its
    module defines.
    """
    import importlib

    import txpush

    for name in txpush.__all__:
        value = getattr(txpush, name)
        module = importlib.import_module(txpush._EXPORTS[name])
        assert value is getattr(module, name), name
    assert set(txpush.__all__) == set(txpush._EXPORTS)
