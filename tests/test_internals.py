"""
The Twisted HTTP/2 internals txpush extends are still there.
"""

import pytest
from twisted import version
from twisted.web._http2 import H2Connection

from txpush._h2internals import checkTwistedInternals
from txpush.errors import IncompatibleTwistedError


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
