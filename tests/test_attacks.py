"""
The well-known HTTP/2 denial-of-service attacks of issue 13, short, against
a real C{twist txpush} on loopback, played by the python h2 library
(L{txpush.testing.attacks}).

Each test asserts bytes and connection state: the server closes the
attacker's connection (with GOAWAY ENHANCE_YOUR_CALM, or PROTOCOL_ERROR
where the attack breaks the protocol; idle connections get a GOAWAY of no
error; connections that never finish the preface a closed socket), its
resident memory grows by less than L{GROWTH_LIMIT_KIB} over what it was
before the attack (the unmitigated server reaches hundreds of megabytes to
gigabytes in the same attacks), a probe on a fresh connection afterwards,
and during the attacks that hold their connections, gets a 200 with the
right body, and no response's file stays open once its stream is gone.
Deadlines only bound how long an attack may run: nothing here measures
time or CPU (their figures are in bench/dos.py's results).

The server runs with C{--handshake-timeout 1 --idle-timeout 2}, so that the
slow clients' connections close within the test.  A test gets the server the
test before left if that one still runs, holds none of the site's files and
serves a probe, and a new one otherwise; its memory is measured from the
test's start.  A watchdog kills a server whose memory passes L{GUARD_KIB},
so that an unmitigated server fails the test instead of the machine.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h2.errors
import pytest

from txpush.testing.attacks import (
    AttackResult,
    Flood,
    ProbeResult,
    continuationFlood,
    dataBuffering,
    dataDribble,
    emptyDataFlood,
    idleConnections,
    pingFlood,
    priorityHang,
    priorityShuffle,
    probe,
    rapidReset,
    settingsFlood,
    slowloris,
    unreadPingFlood,
    windowUpdateFlood,
)
from txpush.testing.processes import descriptorTargets, residentKiB
from txpush.testing.twist import TwistServer
from txpush.testing.waiting import waitFor

ENHANCE_YOUR_CALM = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
PROTOCOL_ERROR = h2.errors.ErrorCodes.PROTOCOL_ERROR
NO_ERROR = h2.errors.ErrorCodes.NO_ERROR

GROWTH_LIMIT_KIB = 128 * 1024
"""
How much the server's resident memory may grow during one test: the
per-connection cap on buffered output (1 MiB by default) times the few
connections here, and ample room for Python's allocator.
"""

GUARD_KIB = 1536 * 1024
"""The resident memory past which the watchdog kills the server."""

INDEX = b"<!doctype html><title>probe</title><p>The probe's page.</p>\n"
SMALL = b"/1mb.bin"
LARGE = b"/16mb.bin"
CALM = (ENHANCE_YOUR_CALM,)
CALM_OR_PROTOCOL = (ENHANCE_YOUR_CALM, PROTOCOL_ERROR)

CRITICAL = re.compile(r"Traceback|Unhandled|#critical\]")
"""Log lines of a traceback or a critical event."""

TRANSPORTS = [pytest.param(False, id="h2c"), pytest.param(True, id="tls")]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a small page, a 1 MB file and a 16 MB file."""
    root = tmp_path_factory.mktemp("attacked-site")
    (root / "index.html").write_bytes(INDEX)
    chunk = bytes(range(256)) * 4096
    (root / SMALL[1:].decode()).write_bytes(chunk)
    (root / LARGE[1:].decode()).write_bytes(chunk * 16)
    return root


class AttackedServer:
    """
    C{twist txpush} serving L{site} over h2c and TLS, its memory watched.

    @ivar baselineKiB: Its resident memory before the attack.
    @ivar peakKiB: The most it reached since.
    @ivar killedAtKiB: What it had reached when the watchdog killed it.
    """

    def __init__(self, site: Path, stateDirectory: Path) -> None:
        self.site = site
        self.twist = TwistServer(
            *("--path", str(site)),
            *("--listen", "tcp:0:interface=127.0.0.1"),
            *("--listen", "ssl:0:interface=127.0.0.1"),
            *("--handshake-timeout", "1", "--idle-timeout", "2"),
            stateDirectory=stateDirectory,
        )
        self.killedAtKiB: int | None = None
        self.rebase()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            try:
                resident = residentKiB(self.twist.pid)
            except (OSError, AssertionError):
                return
            self.peakKiB = max(self.peakKiB, resident)
            if resident > GUARD_KIB:
                self.killedAtKiB = resident
                self.twist.kill()
                return

    def rebase(self) -> None:
        """Measure the memory and read the log from now on."""
        self.baselineKiB = residentKiB(self.twist.pid)
        self.peakKiB = self.baselineKiB
        self.logStart = len(self.twist.log)

    def healthy(self) -> bool:
        """Whether it runs, holds no file of the site, and serves a probe."""
        if self.killedAtKiB is not None or self.twist.process.poll() is not None:
            return False
        answer = probe(self.port(False), path=b"/index.html", timeout=5)
        return answer.body == INDEX and not self.openFiles()

    @property
    def tracebacks(self) -> list[str]:
        """The log lines since L{rebase} of tracebacks and critical events."""
        return [
            line.rstrip("\n")
            for line in self.twist.log[self.logStart :]
            if CRITICAL.search(line) or line.startswith("\t")
        ]

    def port(self, tls: bool) -> int:
        """Its TLS port, or its h2c one."""
        return self.twist.port("https" if tls else "http")

    def describe(self) -> str:
        """Its memory and the last of its log, for a failure."""
        killed = (
            f"; killed at {self.killedAtKiB // 1024} MiB"
            if self.killedAtKiB is not None
            else ""
        )
        log = "".join(self.twist.log[self.logStart :][-30:])
        return (
            f"resident {self.baselineKiB // 1024} MiB before the attack, at most "
            f"{self.peakKiB // 1024} MiB since{killed}; log ends:\n{log}"
        )

    def assertMemoryHeld(self) -> None:
        """Its memory grew by less than L{GROWTH_LIMIT_KIB}."""
        assert self.killedAtKiB is None, self.describe()
        assert self.peakKiB - self.baselineKiB < GROWTH_LIMIT_KIB, self.describe()

    def assertServes(self, tls: bool, result: ProbeResult | None = None) -> None:
        """
        A probe on a fresh connection (or the one given) got the page.

        @param tls: Over TLS rather than h2c.
        @param result: A probe made earlier, during an attack.
        """
        if result is None:
            result = probe(self.port(tls), tls, path=b"/index.html", timeout=10)
        assert (result.status, result.body) == (200, INDEX), (
            f"{result}; {self.describe()}"
        )

    def openFiles(self) -> list[str]:
        """The files of the site the server has open."""
        try:
            targets = descriptorTargets(self.twist.pid)
        except OSError:
            return []
        return [target for target in targets if target.startswith(str(self.site))]

    def assertFilesClosed(self) -> None:
        """The server soon has no file of the site open."""
        waitFor(lambda: not self.openFiles(), timeout=10)
        assert not self.openFiles(), self.describe()

    def stop(self) -> None:
        """Stop the watchdog and the server."""
        self._stop.set()
        self._watchdog.join(5)
        self.twist.kill()


@pytest.fixture(scope="module")
def servers() -> Iterator[list[AttackedServer]]:
    """
    The module's servers, the last one in use: a test gets it again if the
    tests before left it healthy, a new one otherwise.
    """
    started: list[AttackedServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The servers' state directory, with their development certificate."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture
def attacked(servers: list[AttackedServer], site: Path, state: Path) -> AttackedServer:
    """
    A healthy C{twist txpush}, its memory and log watched afresh: the one
    the test before left (if it still runs, holds none of the site's files
    and serves a probe), or a new one.
    """
    if not (servers and servers[-1].healthy()):
        servers.append(AttackedServer(site, state))
    servers[-1].rebase()
    return servers[-1]


def assertClosed(result: AttackResult, *codes: int) -> None:
    """
    The server closed every connection of the attack, after a GOAWAY with
    one of C{codes} on each if any are given.
    """
    assert result.connections > 0, result
    assert result.closedByServer, result
    if codes:
        assert result.goAways == result.connections, result
        assert result.goAwayCode in codes, (result, result.goAwayName)


# Floods: the connection is closed long before the budget is spent.

FLOODS = [
    # The flood, what it requests, its budget of frames, the GOAWAY codes
    # it may get, and over which transports it runs.
    ("continuation", continuationFlood, b"/", 40_000, CALM_OR_PROTOCOL, "both"),
    ("priorityShuffle", priorityShuffle, SMALL, 2_000_000, CALM, "h2c"),
    ("windowUpdate", windowUpdateFlood, LARGE, 5_000_000, CALM, "h2c"),
    ("dataDribble", dataDribble, SMALL, 5_000_000, CALM, "h2c"),
    ("emptyData", emptyDataFlood, SMALL, 5_000_000, CALM, "both"),
    ("rapidReset", rapidReset, LARGE, 40_000, CALM, "both"),
    ("settings", settingsFlood, b"/", 5_000_000, CALM, "both"),
    ("ping", pingFlood, b"/", 5_000_000, CALM, "both"),
    ("unreadPing", unreadPingFlood, b"/", 5_000_000, (), "h2c"),
]


def _floodCases() -> list[Any]:
    cases = []
    for name, attack, path, frames, codes, transports in FLOODS:
        for tls in [False, True] if transports == "both" else [False]:
            label = f"{name}-{'tls' if tls else 'h2c'}"
            cases.append(pytest.param(attack, path, frames, codes, tls, id=label))
    return cases


@pytest.mark.parametrize(("attack", "path", "frames", "codes", "tls"), _floodCases())
def test_flood(
    attacked: AttackedServer,
    attack: Flood,
    path: bytes,
    frames: int,
    codes: tuple[int, ...],
    tls: bool,
) -> None:
    """
    Each flood of cheap frames (L{FLOODS}): HEADERS without END_HEADERS
    then CONTINUATION frames without end (some 650 MB at most: the server
    must not hold them), PRIORITY frames reshuffling 100 waiting streams,
    1-byte WINDOW_UPDATEs on streams waiting on the connection's window or
    on windows of 0 (the data dribble), empty DATA frames, Rapid Reset of
    the 16 MB file, SETTINGS, PING (answers read or not): the server closes
    the connection after a GOAWAY (ENHANCE_YOUR_CALM, or PROTOCOL_ERROR for
    the CONTINUATION flood; whichever, for a client that reads nothing)
    before the budget is spent, over TLS as over h2c; no file of the site
    stays open (a reset stream's producer is stopped), nothing is logged
    as a traceback or critical (a client's reset, say), and the page is
    served after.
    """
    result = attack(
        attacked.port(tls), tls, path=path, frames=frames, deadline=30, linger=10
    )
    attacked.assertMemoryHeld()
    assertClosed(result, *codes)
    assert result.framesSent < frames, result
    attacked.assertFilesClosed()
    attacked.assertServes(tls)
    assert attacked.tracebacks == [], attacked.describe()


def test_priorityHang(attacked: AttackedServer) -> None:
    """
    Streams 1, 3 and 5 waiting on a window of 0; PRIORITY 1 on 3, 3 on 5,
    5 on 3, then 1 on 3 exclusively; the attacker closes the connection:
    the server goes on serving (a priority tree that kept the cycle never
    finishes removing the streams, its memory climbing).
    """
    result = priorityHang(attacked.port(False), path=SMALL)
    assert result.ended == "sent", result
    attacked.assertServes(False)
    attacked.assertMemoryHeld()
    attacked.assertFilesClosed()


# Clients that hold their connections: probed while they hold them.


def test_dataBuffering(attacked: AttackedServer) -> None:
    """
    Windows of 2**31-1, the 16 MB file on 100 streams, the socket never
    read (CVE-2019-9517), over h2c and over TLS at once: the server buffers
    at most its cap for each, serves a probe meanwhile, closes both
    connections once they are idle, and then has no file open.
    """
    probes: dict[bool, ProbeResult] = {}

    def attack(tls: bool) -> AttackResult:
        def during() -> None:
            probes[tls] = probe(attacked.port(tls), tls, path=b"/index.html")

        return dataBuffering(
            attacked.port(tls),
            tls,
            path=LARGE,
            streams=100,
            deadline=45,
            during=during,
        )

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attack, [False, True]))
    attacked.assertMemoryHeld()
    for tls, result in zip([False, True], results, strict=True):
        attacked.assertServes(tls, probes.get(tls))
        assertClosed(result)
    attacked.assertFilesClosed()
    attacked.assertServes(True)


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_slowloris(attacked: AttackedServer, tls: bool) -> None:
    """
    20 connections that dribble the preface a byte a second and never
    finish it, and 5 that say nothing at all (over TLS: not even a
    ClientHello): the server closes them all, once its handshake timeout
    has passed, and serves a probe meanwhile.
    """
    probes: list[ProbeResult] = []

    def during() -> None:
        probes.append(probe(attacked.port(tls), tls, path=b"/index.html"))

    with ThreadPoolExecutor(1) as pool:
        silent = pool.submit(
            slowloris, attacked.port(tls), tls, connections=5, deadline=30, silent=True
        )
        dribbling = slowloris(
            attacked.port(tls), tls, connections=20, deadline=30, during=during
        )
        quiet = silent.result()
    attacked.assertServes(tls, probes[0] if probes else None)
    assertClosed(dribbling)
    assertClosed(quiet)
    attacked.assertMemoryHeld()
    attacked.assertServes(tls)


@pytest.mark.parametrize("tls", TRANSPORTS)
def test_idleConnections(attacked: AttackedServer, tls: bool) -> None:
    """
    20 connections past the preface and SETTINGS that then say nothing: the
    server sends each a GOAWAY of no error and closes it, once its idle
    timeout has passed, and serves a probe meanwhile.
    """
    probes: list[ProbeResult] = []

    def during() -> None:
        probes.append(probe(attacked.port(tls), tls, path=b"/index.html"))

    result = idleConnections(
        attacked.port(tls), tls, connections=20, deadline=30, during=during
    )
    attacked.assertServes(tls, probes[0] if probes else None)
    assertClosed(result, NO_ERROR)
    attacked.assertMemoryHeld()
    attacked.assertServes(tls)


def test_probeSeesAStoppedServer(site: Path, state: Path) -> None:
    """
    The probe that the tests above rely on tells a served page from a
    server that stopped answering: after SIGSTOP it times out, after
    SIGCONT it gets the page.
    """
    server = AttackedServer(site, state)
    try:
        server.twist.process.send_signal(signal.SIGSTOP)
        stopped = probe(server.port(False), path=b"/index.html", timeout=1)
        server.twist.process.send_signal(signal.SIGCONT)
        assert stopped.status is None and stopped.error == "timed out", stopped
        server.assertServes(False)
    finally:
        server.stop()
