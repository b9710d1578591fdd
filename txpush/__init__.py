"""
txpush: HTTP/2 server push for Twisted Web.

Serve a resource tree with L{PushSite}; from a resource, push with
C{IPusher(request, None)}, which is L{None} when the client cannot take
pushes::

    pusher = IPusher(request, None)
    if pusher is not None:
        pusher.push(b"/style.css")
"""

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
from txpush.pusher import PushResult
from txpush.site import PushSite

__all__ = [
    "IPusher",
    "IncompatibleTwistedError",
    "InvalidPushHeaderError",
    "InvalidPushMethodError",
    "InvalidPushTargetError",
    "PushError",
    "PushLimitReachedError",
    "PushNotSupportedError",
    "PushResult",
    "PushSite",
    "RecursivePushError",
]
