"""
The interfaces of txpush.
"""

from zope.interface import Attribute, Interface


class IPusher(Interface):
    """
    Server push for one request, the Twisted spelling of Go's C{http.Pusher}.

    Get one with C{IPusher(request, None)}: it is L{None} when the request
    cannot push (HTTP/1.1, a client that disabled push, a connection going
    away).  Push before writing any of the page's body, so the client does
    not request the asset itself.
    """

    maxConcurrentPushes = Attribute(
        """
        The number of pushed streams that may be open at once on this
        connection: the smaller of the client's
        C{SETTINGS_MAX_CONCURRENT_STREAMS} and the site's own cap.
        """
    )

    diary = Attribute(
        """
        The L{txpush.diary.PushDiary} of this connection: the paths pushed
        on it, most recent last.  L{push} records each path it promises, so a
        policy can push an asset at most once per connection.
        """
    )

    activePushes = Attribute(
        """
        The number of pushed streams open on this connection now.
        """
    )

    def push(target, headers=None, method=b"GET"):  # type: ignore[no-untyped-def]
        """
        Promise C{target} to the client and answer it through the site's
        resource tree, exactly as if the client had asked for it.

        The C{PUSH_PROMISE} is sent before this returns; the pushed request
        is dispatched right after, and its response goes out on the promised
        stream.

        @param target: An absolute path (C{b"/app.js"}, with query if any),
            or an absolute URL with the page's scheme and authority.
        @type target: L{bytes} or L{str}

        @param headers: Extra request headers for the pushed request, as a
            mapping or a sequence of C{(name, value)} pairs.  They are added
            to the C{user-agent}, C{accept-encoding}, C{accept-language} and
            C{cache-control} copied from the page request, and replace those
            of the same name.  Cookies and credentials are never copied: pass
            them here if the pushed resource needs them.

        @param method: C{b"GET"} (the default) or C{b"HEAD"}.
        @type method: L{bytes} or L{str}

        @return: A L{Deferred<twisted.internet.defer.Deferred>} that fires
            with a L{txpush.PushResult} once the pushed response is produced
            or the client cancelled it.  It never fails: the caller may
            ignore it.

        @raise txpush.errors.InvalidPushTargetError: C{target} is not an
            absolute path or a same-origin absolute URL.
        @raise txpush.errors.InvalidPushMethodError: C{method} is not GET or
            HEAD.
        @raise txpush.errors.InvalidPushHeaderError: a header may not be sent
            on a promised request, or is malformed.
        @raise txpush.errors.RecursivePushError: this request is itself a
            pushed one.
        @raise txpush.errors.PushNotSupportedError: the client stopped
            accepting pushes, or the page's response has ended.
        @raise txpush.errors.PushLimitReachedError: the connection has
            C{maxConcurrentPushes} pushed streams open.
        """


class IPageSession(Interface):
    """
    The decisions for one page request of a
    L{txpush.CacheAwarePushResource}: a component of the request, so the
    access log (or any code seeing the request) can read what was done.
    """

    outcome = Attribute(
        """
        The L{txpush.session.PageOutcome} once the response headers went out,
        else L{None}.
        """
    )
