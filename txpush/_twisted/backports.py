"""
L{TwistedBackports}: what the newest Twisted releases of txpush's tested
range do in their HTTP/2 connection and older ones in it do not, so that
txpush's connection is the same on each of them.

A method that only some releases have is defined here for the others alone
(the installed Twisted's own wins where it has one); a behaviour that only
some have is added for all, the way the newest release does it.  The private
names it provides are listed in
L{txpush._twisted.compat.TWISTED_BACKPORTS}.
"""

from __future__ import annotations

from twisted.internet.interfaces import ITCPTransport
from twisted.python.failure import Failure
from twisted.web._http2 import H2Connection

HAS_TERMINATE = hasattr(H2Connection, "_terminate")
"""
Whether the installed Twisted's C{H2Connection} has C{_terminate} (Twisted
26.10 and later); older releases repeat its three steps where they need them.
"""


class TwistedBackports(H2Connection):
    """
    Twisted's C{twisted.web._http2.H2Connection}, with what its releases in
    txpush's tested range do not all have:

      - C{_terminate(reason)}, which Twisted 26.10 added: flush the control
        frames, close the transport, and tell the streams, leaving the
        timeouts armed (Twisted 22.4 to 26.4 do the same inline when h2
        raises a protocol error);
      - C{TCP_NODELAY} on a TCP transport, which Twisted sets from 24.10 on:
        the frames of a pushed response are not held back by Nagle's
        algorithm waiting for the client's acknowledgement.
    """

    def connectionMade(self) -> None:
        """
        Disable Nagle's algorithm on a TCP transport, then start the
        connection as Twisted does (the releases that set it themselves set it
        once more: it costs one system call).
        """
        if ITCPTransport.providedBy(self.transport):
            self.transport.setTcpNoDelay(True)
        super().connectionMade()

    if not HAS_TERMINATE:

        def _terminate(self, reason: Failure) -> None:
            # Twisted 26.10's: the caller queues a GOAWAY first if it wants a
            # particular error code; a lost transport has nothing to close.
            if self._tryToWriteControlData():
                assert self.transport is not None
                self.transport.loseConnection()
                self.connectionLost(reason, _cancelTimeouts=False)
