"""
L{checkTwistedInternals}: verify that the private Twisted names
L{txpush._twisted} uses are present in the installed Twisted, and say when
that Twisted is not a release txpush is tested with.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re

from twisted import version as twistedVersion
from twisted.logger import Logger

from txpush.errors import IncompatibleTwistedError

log = Logger()

TESTED_TWISTED = "Twisted>=22.4.0,<26.11"
"""
The Twisted releases whose internals txpush is tested with, as a requirement:
from the oldest release of the range to the one after the newest (setup.py
requires the same, and CI tests the oldest, a middle and the newest).
"""

TWISTED_INTERNALS: dict[str, tuple[str, ...]] = {
    "twisted.web": ("_http2", "_newclient"),
    "twisted.web._http2": ("_END_STREAM_SENTINEL",),
    "twisted.web.client": ("_HTTP11ClientFactory",),
    "twisted.web.client.HTTPConnectionPool": ("_factory",),
    "twisted.web.client._HTTP11ClientFactory": ("_quiescentCallback",),
    "twisted.web._newclient.HTTP11ClientProtocol": ("_parser",),
    "twisted.web.http": ("_GenericHTTPChannelProtocol",),
    "twisted.web.resource": ("_IEncodingResource",),
    "twisted.web._http2.H2Connection": (
        "conn",
        "streams",
        "priority",
        "_outboundStreamQueues",
        "_streamCleanupCallbacks",
        "_stillProducing",
        "_reactor",
        "_isSecure",
        "_consumerBlocked",
        "_sendingDeferred",
        "_sendPrioritisedData",
        "_bufferedControlFrames",
        "_bufferedControlFrameBytes",
        "_flushBufferedControlData",
        "_maxBufferedControlFrameBytes",
        "_requestReceived",
        "_requestDataReceived",
        "_requestEnded",
        "_requestAborted",
        "_requestDone",
        "_handleWindowUpdate",
        "_handlePriorityUpdate",
        "_tryToWriteControlData",
        "_cancelTimeouts",
        "_abortingCall",
        "timeoutConnection",
        "forceAbortClient",
        "abortTimeout",
    ),
    "twisted.web._http2.H2Stream": (
        "streamID",
        "producer",
        "hasStreamingProducer",
        "_producerProducing",
        "requestComplete",
        "connectionLost",
        "_conn",
        "_request",
    ),
    "twisted.web.http._GenericHTTPChannelProtocol": (
        "_channel",
        "_negotiatedProtocol",
        "_requestFactory",
        "_site",
        "_factory",
        "_timeOut",
        "_callLater",
    ),
    "twisted.web.http.HTTPChannel": ("_networkProducer",),
    "twisted.web.server.Request": ("_disconnected", "_encoder", "_log"),
}
"""
Every Twisted name L{txpush._twisted} relies on, by owner: a module, or a
class whose attributes (set anywhere in it, or its bases) or method
parameters they are.  A test compares this with the private names the
package's source really uses.
"""

TWISTED_BACKPORTS: dict[str, tuple[str, ...]] = {
    "twisted.web._http2.H2Connection": ("_terminate",),
}
"""
The private Twisted names L{txpush._twisted} uses that only the newer
releases of the tested range have, by owner as in L{TWISTED_INTERNALS}:
L{txpush._twisted.backports.TwistedBackports} provides each where the
installed Twisted lacks it, so the check does not require them.
"""

_STREAM_CONSTRUCTOR = (
    "self",
    "streamID",
    "connection",
    "headers",
    "requestFactory",
    "site",
    "factory",
)


def _resolve(dotted: str) -> object:
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _present(owner: object, name: str) -> bool:
    # An attribute or submodule of a module; an attribute of a class, one
    # it (or a base) assigns on self, or a parameter of one of its methods.
    if hasattr(owner, name):
        return True
    if inspect.ismodule(owner):
        try:
            importlib.import_module(f"{owner.__name__}.{name}")
        except ImportError:
            return False
        return True
    if not inspect.isclass(owner):
        return False
    assigned = re.compile(rf"\bself\.{name}\s*(?::[^=\n]*)?=(?!=)")
    for klass in owner.__mro__:
        if assigned.search(_source(klass)):
            return True
        for member in vars(klass).values():
            if inspect.isfunction(member) and name in _parameters(member):
                return True
    return False


@functools.cache
def _source(klass: type) -> str:
    # Reading a class's source is slow, and it does not change while running.
    try:
        return inspect.getsource(klass)
    except (OSError, TypeError):
        return ""


def _parameters(function: object) -> tuple[str, ...]:
    try:
        return tuple(inspect.signature(function).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ()


def missingTwistedInternals() -> list[str]:
    """
    @return: The names of L{TWISTED_INTERNALS} the installed Twisted lacks,
        qualified by their owner; empty when all are there.
    """
    missing = []
    for ownerName, names in TWISTED_INTERNALS.items():
        try:
            owner = _resolve(ownerName)
        except (ImportError, AttributeError):
            missing.append(ownerName)
            continue
        missing.extend(
            f"{ownerName}.{name}" for name in names if not _present(owner, name)
        )
    from twisted.web._http2 import H2Stream

    if tuple(inspect.signature(H2Stream.__init__).parameters) != _STREAM_CONSTRUCTOR:
        missing.append("H2Stream.__init__(streamID, connection, headers, ...)")
    return missing


def _release(text: str) -> tuple[int, ...]:
    # The numbers of "26.4.0", "26.11" or "26.2.0rc1" (26, 2, 0).
    return tuple(int(number) for number in re.findall(r"(?:^|\.)(\d+)", text))


def testedTwistedRange() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """
    @return: The bounds of L{TESTED_TWISTED} as tuples of integers: the
        oldest release tested, and the first release after the newest.
    """
    match = re.fullmatch(r"Twisted>=([\d.]+),<([\d.]+)", TESTED_TWISTED)
    assert match is not None, TESTED_TWISTED
    return _release(match.group(1)), _release(match.group(2))


def isTestedTwisted(release: tuple[int, ...] | None = None) -> bool:
    """
    @param release: A Twisted release as (major, minor, micro); by default
        the installed one's (a pre-release counts as its final release).
    @return: Whether it is in L{TESTED_TWISTED}.
    """
    v = twistedVersion
    installed = (v.major, v.minor, v.micro) if release is None else release
    oldest, after = testedTwistedRange()
    return oldest <= installed < after


def tlsIncompatibility() -> str | None:
    """
    @return: Why the installed Twisted cannot serve TLS with the installed
        pyOpenSSL, or L{None} if it can.  Twisted before 26.4 sets a site's
        ALPN protocols on a TLS context after making a connection of it,
        which pyOpenSSL 26.2 and later refuse: every TLS connection to a
        C{Site} fails.
    """
    if (twistedVersion.major, twistedVersion.minor) >= (26, 4):
        return None
    try:
        import OpenSSL
    except ImportError:
        return None
    if _release(OpenSSL.__version__)[:2] < (26, 2):
        return None
    return (
        f"Twisted {twistedVersion.short()} cannot serve TLS with pyOpenSSL "
        f"{OpenSSL.__version__}: it sets the ALPN protocols on a TLS context "
        "already in use, which pyOpenSSL 26.2 and later refuse; install "
        "pyOpenSSL<26.2, or Twisted 26.4 or later"
    )


def checkTwistedInternals() -> None:
    """
    Verify that the Twisted internals txpush extends are present; log a
    warning if the installed Twisted is not a release txpush is tested with
    (one whose internals are present is used all the same), and an error if
    it cannot serve TLS with the installed pyOpenSSL (see
    L{tlsIncompatibility}: a site behind a TLS-terminating proxy still
    works).

    @raise IncompatibleTwistedError: One is missing or changed shape; the
        message names it and the installed Twisted release.
    """
    missing = missingTwistedInternals()
    if missing:
        raise IncompatibleTwistedError(
            f"Twisted {twistedVersion.short()} lacks the internals txpush "
            f"extends ({', '.join(missing)}): install a Twisted release "
            f"txpush is tested with ({TESTED_TWISTED})"
        )
    if not isTestedTwisted():
        log.warn(
            "Twisted {release} is not a release txpush is tested with "
            "({tested}); the HTTP/2 internals txpush extends are present, "
            "but their behaviour is untested",
            release=twistedVersion.short(),
            tested=TESTED_TWISTED,
        )
    problem = tlsIncompatibility()
    if problem is not None:
        log.error("{problem}", problem=problem)
