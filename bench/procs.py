"""
Child processes of the benchmark: started in their own process groups, on
free loopback ports, and always stopped, whatever ends the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

HOST = "127.0.0.1"


def freePorts(count: int) -> list[int]:
    """
    Find C{count} distinct free TCP ports on 127.0.0.1.

    The sockets are held until all are found so that no port comes twice;
    a server then binds the port a moment later (a small race, accepted).
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cpuSeconds(pid: int) -> float:
    """
    The user plus system CPU time a process has used so far, in seconds
    (Linux C{/proc}).
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Processes:
    """
    The long-lived children of a run (servers, the proxy).  Each gets its
    own process group, so that stopping it stops whatever it forked (H2O's
    child processes), and so that Ctrl-C in the terminal reaches only the
    benchmark, which then stops them in order.
    """

    def __init__(self, logs: Path) -> None:
        """
        @param logs: The directory for the children's output.
        """
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def spawn(
        self, name: str, argv: list[str], stdout: int | None = None
    ) -> subprocess.Popen[bytes]:
        """
        Start a child; its standard error (and output, unless C{stdout} is
        given) goes to C{logs/NAME.log}.
        """
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (kept by the child)
        with log:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log if stdout is None else stdout,
                stderr=log,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def logTail(self, name: str, lines: int = 15) -> str:
        """The last lines a child wrote, for error messages."""
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def waitForPort(
        self, name: str, process: subprocess.Popen[bytes], port: int, timeout: float
    ) -> None:
        """
        Wait until C{port} accepts connections.

        @raise RuntimeError: The process ended, or the time ran out.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with status {process.returncode}:\n"
                    + self.logTail(name)
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((HOST, port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not listen on {port} in {timeout:g} s")

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
        """Stop a child's whole process group: SIGTERM, then SIGKILL."""
        if process in self.running:
            self.running.remove(process)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; make sure nothing it forked lingers.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            return

    def stopAll(self) -> None:
        """Stop every child still running, newest first."""
        for process in reversed(list(self.running)):
            self.stop(process)
