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
from twisted.web._http2 import H2Connection

from txpush._twisted.compat import TWISTED_INTERNALS, checkTwistedInternals
from txpush.errors import IncompatibleTwistedError

PACKAGE = Path(__file__).resolve().parent.parent / "txpush"

# The Twisted modules whose private names txpush may use.
TWISTED_SOURCES = [
    Path(twisted.__file__).parent / "web" / name
    for name in ("_http2.py", "http.py", "server.py", "resource.py")
]

PURE_CORE = [
    "txpush.assets",
    "txpush.config",
    "txpush.connectionstate",
    "txpush.diary",
    "txpush.digest",
    "txpush.errors",
    "txpush.interfaces",
    "txpush.learning",
    "txpush.linkheader",
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
    assert "Twisted>=26.10.0,<26.11" in message


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
    assert used == checked


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
