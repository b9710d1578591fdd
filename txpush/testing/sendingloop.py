"""
Watching the data-sending loop of a txpush HTTP/2 connection: whether it is
asleep, waiting for a stream to have data and window, and how many turns it
takes.  A loop that spins instead of sleeping turns on every pass of the
reactor.

Call these on the reactor's thread.
"""

from __future__ import annotations

from typing import Any


def sendingLoopAsleep(connection: Any) -> bool:
    """
    Whether the connection's sending loop is asleep, waiting for a stream
    to have something to send and window to send it in.

    @param connection: A L{txpush._twisted.connection.PushingH2Connection}.
    """
    return bool(connection.sendingLoopAsleep())


class SendingLoopTurns:
    """
    Counts the turns of one connection's sending loop from now on.
    """

    def __init__(self, connection: Any) -> None:
        """
        Start counting.

        @param connection: A L{txpush._twisted.connection.PushingH2Connection}.
        """
        self._connection = connection
        self._startTurns: int = connection.sendingLoopTurns

    @property
    def turns(self) -> int:
        """
        How many turns the loop took since this was made.
        """
        turns: int = self._connection.sendingLoopTurns - self._startTurns
        return turns
