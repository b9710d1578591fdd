"""
txpush: HTTP/2 server push, cache-aware push and Early Hints for Twisted Web.

Serve a resource tree with L{PushSite}; from a resource, push with
C{IPusher(request, None)}, which is L{None} when the client cannot take
pushes::

    pusher = IPusher(request, None)
    if pusher is not None:
        pusher.push(b"/style.css")

or wrap the tree in a L{CacheAwarePushResource}, which pushes each page's
assets (from a manifest, C{Link: rel=preload} headers or your own
C{assetsFor}), skips what the client's digest cookie says it has, and gives
clients that do not take pushes the same assets as C{103 Early Hints}.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each public name and the module that defines it.  The names are imported
# on first use, so that importing a module of the pure core (txpush.digest,
# txpush.policy, ...) does not load Twisted.
_EXPORTS = {
    "Asset": "txpush.assets",
    "CacheAwarePushResource": "txpush.resource",
    "CacheDigest": "txpush.digest",
    "IPusher": "txpush.pusher",
    "IncompatibleTwistedError": "txpush.errors",
    "InvalidPushHeaderError": "txpush.errors",
    "InvalidPushMethodError": "txpush.errors",
    "InvalidPushTargetError": "txpush.errors",
    "Manifest": "txpush.manifest",
    "ManifestError": "txpush.manifest",
    "PushConfig": "txpush.config",
    "PushCounters": "txpush.config",
    "PushError": "txpush.errors",
    "PushLimitReachedError": "txpush.errors",
    "PushNotSupportedError": "txpush.errors",
    "PushResult": "txpush.pusher",
    "PushSite": "txpush.site",
    "RecursivePushError": "txpush.errors",
    "loadManifest": "txpush.manifest",
}

__all__ = [
    "Asset",
    "CacheAwarePushResource",
    "CacheDigest",
    "IPusher",
    "IncompatibleTwistedError",
    "InvalidPushHeaderError",
    "InvalidPushMethodError",
    "InvalidPushTargetError",
    "Manifest",
    "ManifestError",
    "PushConfig",
    "PushCounters",
    "PushError",
    "PushLimitReachedError",
    "PushNotSupportedError",
    "PushResult",
    "PushSite",
    "RecursivePushError",
    "loadManifest",
]

if TYPE_CHECKING:
    from txpush.assets import Asset
    from txpush.config import PushConfig, PushCounters
    from txpush.digest import CacheDigest
    from txpush.errors import (
        IncompatibleTwistedError,
        InvalidPushHeaderError,
        InvalidPushMethodError,
        InvalidPushTargetError,
        PushError,
        PushLimitReachedError,
        PushNotSupportedError,
        RecursivePushError,
    )
    from txpush.interfaces import IPusher
    from txpush.manifest import Manifest, ManifestError, loadManifest
    from txpush.pusher import PushResult
    from txpush.resource import CacheAwarePushResource
    from txpush.site import PushSite


def __getattr__(name: str) -> Any:
    """
    Import a public name on first use.

    @param name: One of C{__all__}.
    @return: The object.
    @raise AttributeError: C{name} is not a public name of txpush.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'txpush' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """
    @return: The public names, with the module's own.
    """
    return sorted(set(globals()) | set(__all__))
