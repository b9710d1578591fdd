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

from txpush.assets import Asset
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
from txpush.resource import CacheAwarePushResource, PushConfig, PushCounters
from txpush.site import PushSite

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
