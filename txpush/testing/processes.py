"""
What a running process holds, read from Linux's C{/proc}: its resident
memory, its open file descriptors, and samples of its memory over time.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from txpush.testing.waiting import waitFor


def residentKiB(pid: int) -> int:
    """
    The process's resident memory (VmRSS).

    @param pid: The process.
    @return: KiB.
    """
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None, "no VmRSS in /proc/PID/status"
    return int(match.group(1))


def openDescriptors(pid: int) -> int:
    """
    How many file descriptors the process has open.

    @param pid: The process.
    """
    return len(os.listdir(f"/proc/{pid}/fd"))


def descriptorTargets(pid: int) -> list[str]:
    """
    What the process's open file descriptors point to.

    @param pid: The process.
    @return: The targets, sorted.
    """
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return sorted(targets)


def settledDescriptors(
    pid: int, baseline: int, slack: int, timeout: float = 15.0
) -> int:
    """
    The process's open descriptors once they are back within C{slack} of
    C{baseline}, or as many as are open after C{timeout} seconds.

    @param pid: The process.
    @param baseline: The count to come back to.
    @param slack: How many more may stay open.
    @param timeout: How long to wait, in seconds.
    """
    waitFor(lambda: openDescriptors(pid) <= baseline + slack, timeout, 0.25)
    return openDescriptors(pid)


class MemorySampler:
    """
    Samples a process's VmRSS in a thread every C{interval} seconds, until
    stopped or for at most C{limit} seconds.

    @ivar samples: (seconds since the start, KiB), in order.
    """

    def __init__(self, pid: int, interval: float = 1.0, limit: float = 7200.0):
        """
        Start sampling.

        @param pid: The process.
        @param interval: The time between samples, in seconds.
        @param limit: The longest time to sample for, in seconds.
        """
        self.pid = pid
        self.interval = interval
        self.limit = limit
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            elapsed = time.monotonic() - self._started
            if elapsed > self.limit:
                return
            try:
                self.samples.append((round(elapsed, 2), residentKiB(self.pid)))
            except (OSError, AssertionError):
                return
            self._stop.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        """
        Stop sampling.

        @return: The samples, as (seconds since the start, KiB).
        """
        self._stop.set()
        self._thread.join(5)
        return self.samples
