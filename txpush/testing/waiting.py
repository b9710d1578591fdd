"""
Waiting for a condition from a thread that is not the reactor's: poll it
until it holds or the time runs out, instead of sleeping for a guessed
while.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

POLL_INTERVAL = 0.01
"""How long, in seconds, to wait between two checks of a condition."""


def waitFor(
    condition: Callable[[], bool],
    timeout: float = 5.0,
    interval: float = POLL_INTERVAL,
) -> bool:
    """
    Poll until C{condition()} holds or the timeout.

    @param condition: Checked now and then every C{interval} seconds.
    @param timeout: How long to wait, in seconds.
    @param interval: How long to wait between checks, in seconds.
    @return: The condition's last value: whether it held in time.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(interval)
    return True


def accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """
    Whether C{port} on C{host} accepts a TCP connection now.

    @param host: The address.
    @param port: The port.
    @param timeout: How long one attempt may take, in seconds.
    """
    with (
        contextlib.suppress(OSError),
        socket.create_connection((host, port), timeout=timeout),
    ):
        return True
    return False
