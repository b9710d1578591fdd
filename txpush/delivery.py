"""
What the digest may claim: the rule that a response counts as delivered,
and L{UndeliveredBook}, which corrects the cookie of a client whose
connection closed before an asset it names arrived.

The digest names an asset only when the client got it whole and can keep
it: a C{200} response, without C{Cache-Control: no-store}, sent to its end.
A page's C{Set-Cookie} goes out with its headers, before its pushes have
ended, so it names the assets in flight; when one of them then fails (a
status of 300 or more, reset by the client, cut off with the connection),
the next response to that client takes it out again.  On the same
connection that is L{ConnectionPushState<txpush.connectionstate.
ConnectionPushState>}'s job; on a later connection, this book's, which
knows the client by its address and the cookie it was last sent.

Pure code: no Twisted here.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Iterable

DEFAULT_BOOK_SIZE = 10_000
"""
The most clients whose undelivered assets L{UndeliveredBook} keeps; past it
the oldest entry goes, and that client's next visit skips a push it needs
(it fetches the asset itself).
"""


def forbidsStoring(cacheControl: Iterable[bytes]) -> bool:
    """
    @param cacheControl: The values of a response's C{Cache-Control} fields.
    @return: Whether they hold the C{no-store} directive, so the client may
        not keep the response (RFC 9111, section 5.2.2.5).
    """
    for value in cacheControl:
        for directive in value.split(b","):
            name = directive.split(b"=", 1)[0].strip().lower()
            if name == b"no-store":
                return True
    return False


def isDelivered(status: int | None, completed: bool, noStore: bool) -> bool:
    """
    Whether a response may go into the client's digest.

    @param status: Its status code, or L{None} when no headers were written.
    @param completed: Whether it was sent to its end (not reset by the
        client, not cut off with the connection).
    @param noStore: Whether it carries C{Cache-Control: no-store}.
    @return: L{True} for a whole C{200} response the client may keep; not for
        a C{206} part, a C{304} (the client had it already, or not), a
        redirect, an error, or a response cut short.
    """
    return status == 200 and completed and not noStore


class UndeliveredBook:
    """
    The assets each client's digest cookie names but the client did not get,
    by client address and cookie, until that client comes back.

    An entry is taken once: the client's next request that presents that
    cookie from that address removes the assets from its digest (so they are
    pushed again) and clears the entry.  Another client behind the same
    address with the same cookie would take it instead; it then gets one
    push it did not need, the safe side.

    @ivar maxEntries: The most entries kept; the oldest go first.
    @ivar lifetime: How long an entry is kept, in seconds: the cookie's
        C{Max-Age}, after which the client no longer presents it.
    """

    def __init__(
        self, maxEntries: int = DEFAULT_BOOK_SIZE, lifetime: float = 0
    ) -> None:
        """
        @param maxEntries: The most entries kept, 1 or more.
        @param lifetime: How long an entry is kept, in seconds; 0 or less
            keeps entries until they are taken or crowded out.
        @raise ValueError: C{maxEntries} is less than 1.
        """
        if maxEntries < 1:
            raise ValueError(f"maxEntries must be 1 or more, not {maxEntries}")
        self.maxEntries = maxEntries
        self.lifetime = lifetime
        self._entries: OrderedDict[tuple[str, bytes], tuple[float, set[bytes]]] = (
            OrderedDict()
        )
        # How many entries each client has, so that a client with none is
        # told so without its cookie being encoded and hashed.
        self._perClient: Counter[str] = Counter()

    def __len__(self) -> int:
        """
        @return: How many clients have an entry.
        """
        return len(self._entries)

    def holdsFor(self, client: str) -> bool:
        """
        @param client: A client's address.
        @return: Whether some entry is for that address (and so
            L{take} may find something for it).
        """
        return client in self._perClient

    def _forget(self, key: tuple[str, bytes]) -> None:
        self._perClient[key[0]] -= 1
        if not self._perClient[key[0]]:
            del self._perClient[key[0]]

    @staticmethod
    def _key(client: str, cookieValue: str) -> tuple[str, bytes]:
        # A cookie value can take 4 KB; its hash is enough to recognise it.
        return client, hashlib.blake2b(cookieValue.encode(), digest_size=16).digest()

    def undelivered(
        self, client: str, cookieValue: str, path: bytes, now: float
    ) -> None:
        """
        Record that the cookie C{cookieValue}, last sent to C{client}, names
        C{path}, which the client did not get.

        @param client: The client's address.
        @param cookieValue: The digest cookie's value as it was sent.
        @param path: The asset, with its query.
        @param now: The time, in seconds.
        """
        key = self._key(client, cookieValue)
        entry = self._entries.pop(key, None)
        if entry is None:
            self._perClient[client] += 1
        paths = set() if entry is None else entry[1]
        paths.add(path)
        self._entries[key] = (now, paths)
        while len(self._entries) > self.maxEntries:
            self._forget(self._entries.popitem(last=False)[0])

    def take(self, client: str, cookieValue: str, now: float) -> frozenset[bytes]:
        """
        The assets to take out of the digest a client presents, once.

        @param client: The client's address.
        @param cookieValue: The digest cookie's value, as re-encoded from the
            request (see L{CacheDigest.cookieValue
            <txpush.digest.CacheDigest.cookieValue>}).
        @param now: The time, in seconds.
        @return: The paths; empty when the book has nothing for the client,
            or its entry is older than L{lifetime}.
        """
        if client not in self._perClient:
            return frozenset()
        key = self._key(client, cookieValue)
        entry = self._entries.pop(key, None)
        if entry is None:
            return frozenset()
        self._forget(key)
        recorded, paths = entry
        if self.lifetime > 0 and now - recorded > self.lifetime:
            return frozenset()
        return frozenset(paths)
