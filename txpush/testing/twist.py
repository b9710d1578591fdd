"""
C{twist txpush} run as a real process, its log read as it comes.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

TWIST = Path(sys.executable).parent / "twist"
"""The C{twist} of the running interpreter's environment."""

SERVING = re.compile(r"Serving .* open (.*)$")
"""The log line that says where the server listens."""

PROBLEM = re.compile(r"Traceback|Unhandled|#critical\]|#error\]", re.IGNORECASE)
"""Log lines that look like a problem (tracebacks' lines start with a tab)."""


class TwistServer:
    """
    C{twist txpush} in a subprocess, with its log read in a thread.

    @ivar process: The process.
    @ivar log: Every line it logged so far.
    @ivar urls: The URLs it said it serves, once it said so.
    """

    def __init__(
        self,
        *arguments: str,
        stateDirectory: Path,
        wait: bool = True,
        startTimeout: float = 30.0,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """
        Start C{twist --log-format text txpush --state-dir STATE ARGUMENTS}.

        @param arguments: The options of C{twist txpush}.
        @param stateDirectory: Its C{--state-dir}.
        @param wait: Whether to wait until it says where it serves.
        @param startTimeout: How long to wait for that, in seconds.
        @param cwd: The directory it runs in (a WSGI application's), or
            this process's.
        @param env: Its environment, or this process's.
        @raise AssertionError: It did not say so in time (it is stopped).
        """
        self.process = subprocess.Popen(
            [
                str(TWIST),
                "--log-format",
                "text",
                "txpush",
                "--state-dir",
                str(stateDirectory),
                *arguments,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            cwd=cwd,
            env=env,
        )
        self.log: list[str] = []
        self.urls: list[str] = []
        self._read = 0
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._readLog, daemon=True)
        self._reader.start()
        if wait:
            try:
                line = self.waitFor(SERVING, startTimeout)
            except AssertionError:
                self.stop()
                raise
            self.urls = re.findall(r"(https?://[^/ ]+/)", line)

    def _readLog(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.log.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def waitFor(self, pattern: re.Pattern[str], timeout: float = 30.0) -> str:
        """
        Wait for a log line, among those not looked at by an earlier call.

        @param pattern: What the line must match.
        @param timeout: How long to wait, in seconds.
        @return: The first such line.
        @raise AssertionError: None came in time, or the process ended.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                while self._read < len(self.log):
                    line = self.log[self._read]
                    self._read += 1
                    if pattern.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    break
                self._changed.wait(remaining)
        raise AssertionError(f"no log line matching {pattern.pattern}: {self.log}")

    @property
    def problems(self) -> list[str]:
        """The log lines so far that look like a problem."""
        return [
            line.rstrip("\n")
            for line in list(self.log)
            if PROBLEM.search(line) or line.startswith("\t")
        ]

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    def url(self, scheme: str = "http", path: str = "/") -> str:
        """
        A URL the server serves.

        @param scheme: C{"http"} or C{"https"}: which of its URLs.
        @param path: The path, from the root.
        """
        base = next(u for u in self.urls if u.startswith(scheme + "://"))
        return base.rstrip("/") + path

    def port(self, scheme: str = "http") -> int:
        """
        The port of one of its URLs.

        @param scheme: C{"http"} or C{"https"}: which of its URLs.
        """
        return int(self.url(scheme).rstrip("/").rsplit(":", 1)[1])

    def stop(self, signalNumber: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """
        Signal the server, wait for it to exit (kill it after C{timeout}) and
        for its last log lines.

        @param signalNumber: The signal to send.
        @param timeout: How long to wait before killing it, in seconds.
        @return: Its exit status.
        """
        if self.process.poll() is None:
            self.process.send_signal(signalNumber)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._reader.join(5)
        return self.process.returncode

    def kill(self) -> None:
        """Kill the server if it still runs, and wait for it."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)


def loggedAccess(lines: list[str], requestLine: str, status: int, push: str) -> bool:
    """
    @param lines: Access log lines.
    @param requestLine: A request line, such as C{GET / HTTP/2}.
    @param status: Its status.
    @param push: What push did, the line's last field: C{push=pushed}...
    @return: Whether a line logs that request with that status and field.
    """
    return any(
        f'"{requestLine}" {status}' in line and line.endswith(push) for line in lines
    )
