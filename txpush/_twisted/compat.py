"""
L{checkTwistedInternals}: verify that the private Twisted names
L{txpush._twisted} uses are present in the installed Twisted.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re

from twisted import version as twistedVersion

from txpush.errors import IncompatibleTwistedError

TESTED_TWISTED = "Twisted>=26.10.0,<26.11"
"""The Twisted releases whose internals txpush is tested with."""

TWISTED_INTERNALS: dict[str, tuple[str, ...]] = {
    "twisted.web": ("_http2",),
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
        "_maxBufferedControlFrameBytes",
        "_requestReceived",
        "_requestAborted",
        "_requestDone",
        "_handleWindowUpdate",
        "_tryToWriteControlData",
        "_terminate",
        "_cancelTimeouts",
    ),
    "twisted.web._http2.H2Stream": (
        "streamID",
        "producer",
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


def checkTwistedInternals() -> None:
    """
    Verify that the Twisted internals txpush extends are present.

    @raise IncompatibleTwistedError: One is missing or changed shape; the
        message names it and the installed Twisted release.
    """
    missing = missingTwistedInternals()
    if missing:
        raise IncompatibleTwistedError(
            f"Twisted {twistedVersion.short()} lacks the internals txpush "
            f"extends ({', '.join(missing)}): install the Twisted release "
            f"txpush is tested with ({TESTED_TWISTED})"
        )
