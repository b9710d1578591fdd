"""
Exceptions raised by L{txpush.IPusher.push}.

Each says what was wrong and what to do about it.  They all derive from
L{PushError}, so callers that only want to know "was it pushed?" can catch
that one.  Those that describe a bad argument are also L{ValueError}s.
"""


class PushError(Exception):
    """
    A push could not be made.  The page is unaffected: serve it as usual.
    """


class InvalidPushTargetError(PushError, ValueError):
    """
    The push target is not an absolute path (C{/app.js}) or an absolute URL
    with the page's own scheme and authority.
    """


class InvalidPushMethodError(PushError, ValueError):
    """
    The push method is not C{GET} or C{HEAD}: only safe, cacheable requests
    may be pushed (RFC 9113, section 8.4).
    """


class InvalidPushHeaderError(PushError, ValueError):
    """
    A header given for the pushed request is one that a promised request may
    not carry (a pseudo-header, a connection-specific header, or one that
    describes a request body), or its name or value is malformed.
    """


class RecursivePushError(PushError):
    """
    L{push<txpush.IPusher.push>} was called while answering a pushed request:
    HTTP/2 only lets a server push in answer to a request the client sent.
    """


class PushNotSupportedError(PushError):
    """
    The client does not accept pushes on this connection any more: it sent
    C{SETTINGS_ENABLE_PUSH=0}, the connection is going away, or the page's
    own response has already ended.
    """


class PushLimitReachedError(PushError):
    """
    As many pushed streams are open as the client's
    C{SETTINGS_MAX_CONCURRENT_STREAMS} (or the site's own cap) allows.  Try
    again after some of them finish, or push fewer assets.
    """


class IncompatibleTwistedError(RuntimeError):
    """
    The installed Twisted lacks an HTTP/2 internal that txpush extends.
    Install the Twisted release named in txpush's requirements.
    """
