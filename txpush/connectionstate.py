"""
L{ConnectionPushState}: everything txpush keeps about one client
connection, in one object.

The Twisted glue hangs one off each connection (see
L{txpush._twisted.requests.connectionStateOf}); the pure core reads and
updates it.  Nothing here knows of Twisted.
"""

from __future__ import annotations

from txpush.diary import DEFAULT_DIARY_SIZE, PushDiary
from txpush.digest import CacheDigest
from txpush.learning import ConnectionLoads

MAX_UNDELIVERED = 1024
"""
The most undelivered assets one connection remembers; past it the oldest
go, and a cookie may then keep naming one of them.
"""


class ConnectionPushState:
    """
    The push state of one client connection (an HTTP/2 connection, or an
    HTTP/1.1 channel).

    @ivar diary: The paths pushed on the connection.
    @ivar pushedStreamIDs: The pushed streams promised and not yet finished.
    @ivar digestSent: The digest last sent to the client in a C{Set-Cookie},
        or L{None}: responses on one connection carry the union, so that
        concurrent responses (whose requests carried the same old cookie) do
        not undo each other.
    @ivar pageLoads: The recent page loads, for learned push; L{None} until
        the first.
    @ivar undelivered: The assets a cookie sent on this connection may name
        that the client did not get (see L{txpush.delivery}); every later
        digest of the connection leaves them out.
    @ivar cookieValueSent: The value of the digest cookie last sent, as it
        was sent, or L{None}.
    @ivar correctionDue: Whether an asset failed since the last cookie was
        sent, so the client's cookie claims too much and the next response
        sends a corrected one.
    """

    def __init__(self, diarySize: int = DEFAULT_DIARY_SIZE) -> None:
        """
        @param diarySize: The most paths the diary remembers.
        """
        self.diary = PushDiary(diarySize)
        self.pushedStreamIDs: set[int] = set()
        self.digestSent: CacheDigest | None = None
        self.pageLoads: ConnectionLoads | None = None
        self.undelivered: dict[bytes, None] = {}
        self.cookieValueSent: str | None = None
        self.correctionDue = False
        self._origins: dict[int, tuple[bytes | None, bytes | None]] = {}

    def streamOpened(
        self, streamID: int, scheme: bytes | None, authority: bytes | None
    ) -> None:
        """
        Remember the origin a client's request came with.

        @param streamID: Its stream.
        @param scheme: Its C{:scheme}, if it sent one.
        @param authority: Its C{:authority}, if it sent one.
        """
        self._origins[streamID] = (scheme, authority)

    def streamPushed(self, streamID: int) -> None:
        """
        Record a promised stream.

        @param streamID: The promised stream.
        """
        self.pushedStreamIDs.add(streamID)

    def streamClosed(self, streamID: int) -> None:
        """
        Forget a finished stream.

        @param streamID: The stream.
        """
        self.pushedStreamIDs.discard(streamID)
        self._origins.pop(streamID, None)

    def originOf(self, streamID: int) -> tuple[bytes | None, bytes | None]:
        """
        @param streamID: A stream of the connection.
        @return: The C{:scheme} and C{:authority} its request came with, each
            L{None} when it sent none (a pushed stream, say).
        """
        return self._origins.get(streamID, (None, None))

    def loadsFor(self, size: int) -> ConnectionLoads:
        """
        @param size: How many pages to remember, when there are none yet.
        @return: The connection's recent page loads, made on first use.
        """
        if self.pageLoads is None:
            self.pageLoads = ConnectionLoads(size)
        return self.pageLoads

    def rememberDigestSent(self, digest: CacheDigest) -> None:
        """
        Record the digest just sent to the client.

        @param digest: The digest; a copy is kept.
        """
        snapshot = CacheDigest(digest.capacityBits)
        snapshot.merge(digest)
        self.digestSent = snapshot
        self.cookieValueSent = snapshot.cookieValue()
        self.correctionDue = False

    def mergeDigestSent(self, digest: CacheDigest) -> None:
        """
        Add to C{digest} what this connection's responses already sent, and
        take out what the client did not get.

        @param digest: The client's digest, as its request presented it.
        """
        sent = self.digestSent
        if sent is not None and sent.capacityBits == digest.capacityBits:
            digest.merge(sent)
        for path in self.undelivered:
            digest.discard(path)

    def deliveryFailed(self, path: bytes) -> None:
        """
        The client did not get C{path} whole, though a cookie may already
        name it: leave it out of every later digest of the connection.

        @param path: The asset, with its query.
        """
        self.undelivered.pop(path, None)
        self.undelivered[path] = None
        while len(self.undelivered) > MAX_UNDELIVERED:
            del self.undelivered[next(iter(self.undelivered))]
        if self.digestSent is not None:
            self.digestSent.discard(path)
            self.correctionDue = True

    def delivering(self, path: bytes) -> None:
        """
        C{path} is being sent again, and goes into the digest again: its
        own failure, if it fails, calls L{deliveryFailed}.

        @param path: The asset, with its query.
        """
        self.undelivered.pop(path, None)
