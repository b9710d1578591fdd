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
    """

    def __init__(self, diarySize: int = DEFAULT_DIARY_SIZE) -> None:
        """
        @param diarySize: The most paths the diary remembers.
        """
        self.diary = PushDiary(diarySize)
        self.pushedStreamIDs: set[int] = set()
        self.digestSent: CacheDigest | None = None
        self.pageLoads: ConnectionLoads | None = None
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

    def mergeDigestSent(self, digest: CacheDigest) -> None:
        """
        Add to C{digest} what this connection's responses already sent.

        @param digest: The client's digest, as its request presented it.
        """
        sent = self.digestSent
        if sent is not None and sent.capacityBits == digest.capacityBits:
            digest.merge(sent)
