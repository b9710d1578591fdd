"""
Watching the data-sending loop of a server's HTTP/2 connection (Twisted's
C{H2Connection._sendPrioritisedData}): whether it is asleep, waiting for a
stream to have data and window, and how many turns it takes.  A loop that
spins instead of sleeping turns on every pass of the reactor.

Call these on the reactor's thread.
"""

from __future__ import annotations

from typing import Any


def sendingLoopAsleep(connection: Any) -> bool:
    """
    Whether the connection's sending loop is asleep, waiting for a stream
    to have something to send and window to send it in.

    @param connection: A C{twisted.web._http2.H2Connection}.
    """
    return connection._sendingDeferred is not None


class SendingLoopTurns:
    """
    Counts the turns of one connection's sending loop from now on.

    @ivar turns: How many turns it took since this was made.
    """

    def __init__(self, connection: Any) -> None:
        """
        Start counting.

        @param connection: A C{twisted.web._http2.H2Connection}.
        """
        self.turns = 0
        original = connection._sendPrioritisedData

        def counted(*args: object) -> object:
            self.turns += 1
            return original(*args)

        # The loop looks itself up on the connection each time it
        # schedules its next turn.
        connection._sendPrioritisedData = counted
