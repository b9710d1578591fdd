"""
The DoS benchmark: each attack of txpush.testing.attacks against twist
txpush (h2c and TLS), stock twist web (TLS) and nghttpd (h2c and TLS), on
loopback, with a second client probing every second and the server's
memory and CPU time read from /proc over its process group.

Run: python bench/dos.py               # 20 s per attack, into bench/results/
     python bench/dos.py --quick       # 3 s per attack, into bench/results/quick/
     python bench/dos.py --attacks ping,settings --servers txpush-h2c
     python bench/dos.py --txpush-tree DIR   # twist txpush from another checkout

Each cell of the table is one fresh server process, attacked once.  A server
whose resident memory passes --memory-limit (2 GiB) is killed and the cell
says so.  See bench/README.md, section "DoS", for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from procs import HOST, Processes, freePorts  # noqa: E402

from txpush.devcert import ensureDevelopmentCertificate  # noqa: E402
from txpush.testing import attacks  # noqa: E402

TWIST = str(Path(sys.executable).parent / "twist")
PAGE = "/index.html"
PAGE_TEXT = "<!doctype html><title>probe</title><p>The probe's page.</p>\n"
PAGE_BYTES = len(PAGE_TEXT)
SMALL = b"/1mb.bin"
LARGE = b"/16mb.bin"
PROBE_TIMEOUT = 5.0
BASELINE_PROBES = 5
UNBOUNDED = 10**9
"""A frame budget no run reaches: the deadline ends it."""

IDLE_EXTRA = 25.0
"""
Seconds the idle connections are held beyond the attack's duration in a
full run: txpush closes idle connections after 30 s by default.
"""


def log(message: str) -> None:
    """Say what the run is doing, on standard error."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# The site and the servers.


@dataclass(frozen=True)
class Paths:
    """
    What every server needs.

    @ivar site: The directory served.
    @ivar state: txpush's state directory, with the certificate.
    @ivar certificate: The certificate (PEM), txpush's development one.
    @ivar key: Its key (PEM).
    @ivar txpushTree: A checkout to run twist txpush from, or L{None}.
    """

    site: Path
    state: Path
    certificate: Path
    key: Path
    txpushTree: Path | None


def makeSite(root: Path) -> None:
    """A page, a 1 MB file and a 16 MB file."""
    root.mkdir(parents=True)
    (root / "index.html").write_text(PAGE_TEXT)
    chunk = bytes(range(256)) * 4096
    (root / "1mb.bin").write_bytes(chunk)
    (root / "16mb.bin").write_bytes(chunk * 16)


@dataclass(frozen=True)
class Target:
    """
    One server under attack, on one transport.

    @ivar key: A short name, for options and the JSON.
    @ivar label: The table's column heading.
    @ivar tls: Whether the attacks speak TLS.
    @ivar command: The command line, given the paths and two free ports
        (the one attacked first).
    @ivar program: The program that must be installed.
    """

    key: str
    label: str
    tls: bool
    command: Callable[[Paths, int, int], list[str]]
    program: str

    def available(self) -> bool:
        """Whether its program is installed."""
        return shutil.which(self.program) is not None


def _txpush(paths: Paths, h2c: int, tls: int) -> list[str]:
    return [
        TWIST,
        "--log-format",
        "text",
        "txpush",
        "--path",
        str(paths.site),
        "--listen",
        f"tcp:{h2c}:interface={HOST}",
        "--listen",
        f"ssl:{tls}:interface={HOST}",
        "--state-dir",
        str(paths.state),
    ]


def _twistWeb(paths: Paths, port: int, unused: int) -> list[str]:
    keys = f"privateKey={paths.key}:certKey={paths.certificate}"
    listen = f"ssl:{port}:interface={HOST}:{keys}"
    return [
        TWIST,
        "--log-format",
        "text",
        "web",
        "--path",
        str(paths.site),
        "--listen",
        listen,
    ]


def _nghttpd(tls: bool) -> Callable[[Paths, int, int], list[str]]:
    def command(paths: Paths, port: int, unused: int) -> list[str]:
        keys = [str(paths.key), str(paths.certificate)] if tls else ["--no-tls"]
        return ["nghttpd", "-a", HOST, "-d", str(paths.site), str(port), *keys]

    return command


TARGETS = [
    Target("txpush-h2c", "txpush h2c", False, _txpush, TWIST),
    Target("txpush-tls", "txpush TLS", True, lambda p, a, b: _txpush(p, b, a), TWIST),
    Target("twist-web-tls", "twist web TLS", True, _twistWeb, TWIST),
    Target("nghttpd-h2c", "nghttpd h2c", False, _nghttpd(False), "nghttpd"),
    Target("nghttpd-tls", "nghttpd TLS", True, _nghttpd(True), "nghttpd"),
]


# The attacks.


@dataclass(frozen=True)
class Attack:
    """
    One row of the table.

    @ivar key: A short name, for options and the JSON.
    @ivar label: The row's heading.
    @ivar function: The attack, called with the port, whether TLS, the
        deadline and C{options}.
    @ivar options: Its options.
    @ivar extra: Seconds it may hold beyond the run's duration.
    """

    key: str
    label: str
    function: Callable[..., attacks.AttackResult]
    options: dict[str, Any] = field(default_factory=dict)
    extra: float = 0.0

    def run(self, port: int, tls: bool, seconds: float) -> attacks.AttackResult:
        """Run it against a server for at most C{seconds}."""
        return self.function(port, tls, deadline=seconds, **self.options)


FLOOD = {"frames": UNBOUNDED}
"""A flood's options here: the deadline ends it."""

ATTACKS = [
    Attack("continuation", "CONTINUATION flood", attacks.continuationFlood, FLOOD),
    Attack(
        "priority-hang",
        "PRIORITY hang (1→3, 3→5, 5→3, 1→3 exclusive, close)",
        attacks.priorityHang,
        {"path": SMALL},
    ),
    Attack(
        "priority-shuffle",
        "PRIORITY reshuffling 100 streams",
        attacks.priorityShuffle,
        {**FLOOD, "path": SMALL},
    ),
    Attack(
        "buffering-1mb",
        "internal data buffering: 1 MB on 100 streams, 8 connections",
        attacks.dataBuffering,
        {"path": SMALL, "streams": 100, "connections": 8},
    ),
    Attack(
        "buffering-16mb",
        "internal data buffering: 16 MB on 100 streams",
        attacks.dataBuffering,
        {"path": LARGE, "streams": 100},
    ),
    Attack(
        "window-update",
        "WINDOW_UPDATE flood, unthrottled",
        attacks.windowUpdateFlood,
        {**FLOOD, "path": LARGE},
    ),
    Attack(
        "window-update-5k",
        "WINDOW_UPDATE flood at 5,000 frames/s",
        attacks.windowUpdateFlood,
        {**FLOOD, "path": LARGE, "rate": 5000},
    ),
    Attack(
        "dribble",
        "data dribble: 1-byte WINDOW_UPDATEs on 100 streams",
        attacks.dataDribble,
        {**FLOOD, "path": SMALL},
    ),
    Attack(
        "empty-data",
        "empty DATA frames (at most 2 million)",
        attacks.emptyDataFlood,
        {"path": SMALL, "frames": 2_000_000},
    ),
    Attack(
        "rapid-reset",
        "Rapid Reset of the 16 MB file (at most 10,000 streams)",
        attacks.rapidReset,
        {"path": LARGE, "frames": 20_000},
    ),
    Attack("settings", "SETTINGS flood", attacks.settingsFlood, FLOOD),
    Attack("ping", "PING flood", attacks.pingFlood, FLOOD),
    Attack(
        "slowloris",
        "slowloris: 500 connections that never finish the preface",
        attacks.slowloris,
        {"connections": 500},
    ),
    Attack(
        "idle",
        "1,000 idle connections",
        attacks.idleConnections,
        {"connections": 1000},
        extra=IDLE_EXTRA,
    ),
]


# Watching the server.


def groupMembers(leader: int) -> list[int]:
    """The processes of the process group C{leader} leads."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) == leader:
            members.append(int(entry))
    return members


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def groupUsage(leader: int) -> tuple[int, float]:
    """
    The resident memory (bytes) and CPU time (user + system, seconds) of a
    process group, summed over its processes.
    """
    resident, ticks = 0, 0
    for pid in groupMembers(leader):
        try:
            statm = Path(f"/proc/{pid}/statm").read_text().split()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        resident += int(statm[1]) * PAGE_SIZE
        ticks += int(fields[11]) + int(fields[12])
    return resident, ticks / CLOCK_TICKS


class Sampler:
    """
    Samples a server's process group ten times a second in a thread, and
    kills the group when its memory passes a limit.

    @ivar peak: The most resident memory seen, in bytes.
    @ivar cpu: The CPU time at the last sample, in seconds.
    @ivar killedAt: The memory it had when it was killed, or L{None}.
    """

    def __init__(self, leader: int, limit: int) -> None:
        self.leader = leader
        self.limit = limit
        self.peak, self.cpu = groupUsage(leader)
        self.killedAt: int | None = None
        self.killedAfter: float | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> None:
        """Read the group's usage now; kill it past the limit."""
        resident, cpu = groupUsage(self.leader)
        if not resident:  # Gone: keep the last figures.
            return
        self.peak = max(self.peak, resident)
        self.cpu = cpu
        if resident > self.limit and self.killedAt is None:
            self.killedAt = resident
            self.killedAfter = time.monotonic() - self._started
            os.killpg(self.leader, signal.SIGKILL)

    def stop(self) -> None:
        """Stop sampling, after a last sample."""
        self._stop.set()
        self._thread.join(5)
        self.sample()


class Prober:
    """
    A probing client in its own process (so that the attacker's Python
    does not slow its measurements): a probe on a fresh connection every
    C{interval} seconds, or C{count} probes, until its standard input
    closes.

    @ivar probes: Each probe, as this script's C{--probe-loop} printed it.
    """

    def __init__(self, port: int, tls: bool, interval: float, count: int = 0) -> None:
        argv = [
            sys.executable,
            __file__,
            "--probe-loop",
            str(port),
            "--interval",
            str(interval),
            "--count",
            str(count),
        ] + (["--tls"] if tls else [])
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.probes: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.probes.append(json.loads(line))

    def stop(self) -> list[dict[str, Any]]:
        """Let the probe under way finish, then stop; return the probes."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(PROBE_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)
        return self.probes


def probeLoop(port: int, tls: bool, interval: float, count: int, expected: int) -> None:
    """
    The prober's process: probe, print the result as a JSON line, wait for
    the next tick or the end of standard input.
    """
    started = time.monotonic()
    done = 0
    while count == 0 or done < count:
        tick = time.monotonic()
        result = attacks.probe(port, tls, path=PAGE.encode(), timeout=PROBE_TIMEOUT)
        done += 1
        answer = {
            "at": round(tick - started, 3),
            "status": result.status,
            "ok": result.ok and len(result.body) == expected,
            "seconds": round(result.seconds, 4),
            "error": result.error,
        }
        print(json.dumps(answer), flush=True)
        wait = max(interval - (time.monotonic() - tick), 0)
        if count == 0 and select.select([sys.stdin], [], [], wait)[0]:
            return  # Standard input closed: stop.
        if done < count:
            time.sleep(wait)


# One cell.


@dataclass
class Cell:
    """One attack on one server: the figures of one cell of the table."""

    attack: str
    server: str
    result: dict[str, Any] | None = None
    baselineLatency: float | None = None
    latencyMedian: float | None = None
    latencyMax: float | None = None
    probesSent: int = 0
    probesAnswered: int = 0
    afterProbe: dict[str, Any] | None = None
    baselineMiB: float = 0.0
    peakMiB: float = 0.0
    cpuSeconds: float = 0.0
    cpuAfterSeconds: float = 0.0
    killedAtMiB: float | None = None
    killedAfter: float | None = None
    tracebacks: int = 0
    error: str | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def latencyRatio(self) -> float | None:
        """The median probe latency under attack over the baseline's."""
        if self.latencyMedian is None or not self.baselineLatency:
            return None
        return self.latencyMedian / self.baselineLatency


def mib(count: float) -> float:
    """Bytes in MiB, rounded."""
    return round(count / 2**20, 1)


def startServer(
    processes: Processes, target: Target, paths: Paths, name: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a fresh server for one cell; return it and the port attacked."""
    first, second = freePorts(2)
    argv = target.command(paths, first, second)
    if paths.txpushTree is not None and target.key.startswith("txpush"):
        # env execs twist: the process (group leader) is still the server.
        argv = ["env", f"PYTHONPATH={paths.txpushTree}", *argv]
    process = processes.spawn(name, argv)
    processes.waitForPort(name, process, first, 30)
    if target.key.startswith("txpush"):  # Both listeners, before the probe.
        processes.waitForPort(name, process, second, 30)
    return process, first


def runCell(
    processes: Processes,
    target: Target,
    attack: Attack,
    paths: Paths,
    duration: float,
    settle: float,
    limit: int,
    expected: int,
) -> Cell:
    """Attack a fresh server once and measure it."""
    cell = Cell(attack.key, target.key)
    name = f"{target.key}-{attack.key}"
    try:
        process, port = startServer(processes, target, paths, name)
    except RuntimeError as error:  # It did not start: say so in its cell.
        cell.error = str(error).splitlines()[0]
        return cell
    try:
        baseline = Prober(port, target.tls, 0.2, BASELINE_PROBES).stop()
        answered = [p["seconds"] for p in baseline if p["ok"]]
        if answered:
            cell.baselineLatency = statistics.median(answered)
        sampler = Sampler(process.pid, limit)
        cell.baselineMiB = mib(sampler.peak)
        cpuBefore = sampler.cpu
        window = duration + attack.extra
        started = time.monotonic()
        prober = Prober(port, target.tls, 1.0)
        try:
            result = attack.run(port, target.tls, window)
        except Exception as error:  # Reported in its cell; the run goes on.
            cell.error = f"{type(error).__name__}: {error}"
            result = None
        # However the attack ended, probe for the whole window.
        while time.monotonic() - started < window and sampler.killedAt is None:
            time.sleep(0.1)
        probes = prober.stop()
        sampler.sample()
        cpuDuring = sampler.cpu
        # The work the server goes on doing once the attacker has left.
        time.sleep(settle)
        after = attacks.probe(
            port, target.tls, path=PAGE.encode(), timeout=PROBE_TIMEOUT
        )
        sampler.stop()
    finally:
        # No graceful stop (txpush's grace period): the figures are taken.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        processes.stop(process)
    if result is not None:
        cell.result = {**asdict(result), "goAwayName": result.goAwayName}
    cell.probes = probes
    cell.probesSent = len(probes)
    latencies = [p["seconds"] for p in probes if p["ok"]]
    cell.probesAnswered = len(latencies)
    if latencies:
        cell.latencyMedian = statistics.median(latencies)
        cell.latencyMax = max(latencies)
    cell.afterProbe = {
        "ok": after.ok and len(after.body) == expected,
        "status": after.status,
        "seconds": round(after.seconds, 4),
        "error": after.error,
    }
    cell.peakMiB = mib(sampler.peak)
    cell.cpuSeconds = round(cpuDuring - cpuBefore, 2)
    cell.cpuAfterSeconds = round(sampler.cpu - cpuDuring, 2)
    if sampler.killedAt is not None:
        cell.killedAtMiB = mib(sampler.killedAt)
        cell.killedAfter = round(sampler.killedAfter or 0, 1)
    logText = processes.logTail(name, lines=10**6)
    cell.tracebacks = logText.count("Traceback")
    return cell


# The report.

CODES = {
    "ENHANCE_YOUR_CALM": "EYC",
    "PROTOCOL_ERROR": "PROTOCOL",
    "NO_ERROR": "NO_ERROR",
}


def describeCell(cell: Cell) -> str:
    """A cell of the Markdown table (lines joined by <br>)."""
    if cell.result is None:
        return f"error: {cell.error}"
    result = cell.result
    if result["ended"] == "unreachable":
        first = f"unreachable ({result['error']})"
    elif cell.killedAtMiB is not None:
        first = f"**killed** at {cell.killedAtMiB:.0f} MiB after {cell.killedAfter:g} s"
    elif result["connections"] > 1:
        closed = f"{result['connectionsClosed']}/{result['connections']} closed"
        if result["closedAfter"] is not None:
            closed += f" by {result['closedAfter']:.1f} s"
        first = closed
    elif result["closedByServer"]:
        first = f"closed at {result['closedAfter']:.1f} s"
    else:
        first = "not closed" if result["ended"] != "sent" else "attacker closed"
    code = result.get("goAwayName")
    if code is not None:
        first += f", GOAWAY {CODES.get(code, code)}"
    cpu = f"CPU {cell.cpuSeconds:.1f} s"
    if cell.cpuAfterSeconds >= 0.1:
        cpu += f" (+{cell.cpuAfterSeconds:.1f} s after)"
    second = f"RSS {cell.peakMiB:.0f} MiB, {cpu}"
    ratio = cell.latencyRatio
    third = f"probes {cell.probesAnswered}/{cell.probesSent}"
    if ratio is not None:
        third += f", latency x{ratio:.1f}"
    third += ", after " + ("✓" if cell.afterProbe and cell.afterProbe["ok"] else "✗")
    if cell.tracebacks:
        third += f", {cell.tracebacks} tracebacks logged"
    return "<br>".join([first, second, third])


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown."""
    targets = [t for t in TARGETS if t.key in results["servers"]]
    cells = {(c["attack"], c["server"]): Cell(**c) for c in results["cells"]}
    lines = [
        "# DoS: HTTP/2 attacks on txpush, stock twist web and nghttpd",
        "",
        f"{results['when']}, {results['mode']} run: each attack for "
        f"{results['duration']:g} s (idle connections: {results['idleSeconds']:g} s) "
        "against a fresh server, with a probe on a fresh connection every "
        f"second. txpush {results['txpush']}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(results["versions"].items()))
        + f". Machine: {results['machine']['cores']} cores, "
        f"{results['machine']['cpu']}. Memory limit "
        f"{results['memoryLimitMiB']:.0f} MiB. Made by `python bench/dos.py"
        + (" --quick" if results["mode"] == "quick" else "")
        + "`; bench/README.md (section DoS) says what each figure means.",
        "",
        "Each cell: whether the server closed the attacker's connection (and "
        "when, from the start of the attack), its GOAWAY (EYC: "
        "ENHANCE_YOUR_CALM); the server's peak resident memory and CPU time "
        "during the attack (and in the "
        f"{results['settle']:g} s after it); probes answered of those sent "
        "during the attack, their median latency over the baseline's, and "
        "whether the probe after the attack was answered.",
        "",
        "| attack | " + " | ".join(t.label for t in targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for attack in ATTACKS:
        row = [
            describeCell(cells[attack.key, t.key])
            if (attack.key, t.key) in cells
            else ""
            for t in targets
        ]
        if any(row):
            lines.append(f"| {attack.label} | " + " | ".join(row) + " |")
    baselines = [
        f"{t.label} {1000 * statistics.median(b):.1f} ms"
        for t in targets
        if (
            b := [
                c.baselineLatency
                for (_, server), c in cells.items()
                if server == t.key and c.baselineLatency
            ]
        )
    ]
    lines += [
        "",
        "Baseline probe latency (median over the cells): " + "; ".join(baselines) + ".",
    ]
    return "\n".join(lines) + "\n"


# The run.


def main(argv: list[str] | None = None) -> None:
    """Run the attacks and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per attack")
    parser.add_argument("--duration", type=float, help="seconds per attack (20)")
    parser.add_argument("--attacks", help="comma-separated keys (default: all)")
    parser.add_argument("--servers", help="comma-separated keys (default: all)")
    parser.add_argument(
        "--memory-limit",
        type=int,
        default=2048,
        help="MiB past which a server is killed (2048)",
    )
    parser.add_argument(
        "--txpush-tree",
        type=Path,
        help="run twist txpush from this checkout (put first on PYTHONPATH)",
    )
    parser.add_argument(
        "--txpush-label", help="what the report calls that txpush (default: its path)"
    )
    parser.add_argument("--out", type=Path, help="where to write")
    parser.add_argument("--probe-loop", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tls", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.probe_loop is not None:
        probeLoop(
            options.probe_loop, options.tls, options.interval, options.count, PAGE_BYTES
        )
        return

    # Only now: the prober's process needs none of it.
    from run import machine, toolVersions, txpushRevision

    mode = "quick" if options.quick else "full"
    duration = options.duration or (3.0 if options.quick else 20.0)
    settle = 1.0 if options.quick else 5.0
    keys = set((options.attacks or "").split(",")) - {""}
    chosen = [a for a in ATTACKS if not keys or a.key in keys]
    if options.quick:  # No attack holds longer than the others.
        chosen = [replace(a, extra=0.0) for a in chosen]
    serverKeys = set((options.servers or "").split(",")) - {""}
    targets = [t for t in TARGETS if (not serverKeys or t.key in serverKeys)]
    missing = [t.key for t in targets if not t.available()]
    if missing:
        log(f"not installed, left out: {', '.join(missing)}")
        targets = [t for t in targets if t.available()]
    out = options.out or HERE / "results" / ("quick" if options.quick else "")
    out.mkdir(parents=True, exist_ok=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    work = Path(tempfile.mkdtemp(prefix="txpush-dos-"))
    processes = Processes(work)
    cells: list[Cell] = []
    runStarted = time.monotonic()
    try:
        makeSite(work / "site")
        certificate, key = ensureDevelopmentCertificate(work / "state")
        paths = Paths(
            work / "site", work / "state", certificate, key, options.txpush_tree
        )
        total = len(chosen) * len(targets)
        for attack in chosen:
            for target in targets:
                log(f"[{len(cells) + 1}/{total}] {attack.label} on {target.label}")
                cell = runCell(
                    processes,
                    target,
                    attack,
                    paths,
                    duration,
                    settle,
                    options.memory_limit * 2**20,
                    PAGE_BYTES,
                )
                cells.append(cell)
                log("  " + describeCell(cell).replace("<br>", "; "))
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)
    results = {
        "mode": mode,
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "duration": duration,
        "settle": settle,
        "memoryLimitMiB": options.memory_limit,
        "machine": machine(),
        "versions": toolVersions(),
        "txpush": (
            options.txpush_label
            or (f"from {options.txpush_tree}" if options.txpush_tree else None)
            or txpushRevision()
        ),
        "servers": {t.key: t.label for t in targets},
        "attacks": {a.key: a.label for a in chosen},
        "idleSeconds": duration + (0.0 if options.quick else IDLE_EXTRA),
        "seconds": round(time.monotonic() - runStarted, 1),
        "cells": [asdict(c) for c in cells],
    }
    (out / "dos.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "dos.md").write_text(markdown(results))
    log(f"done in {results['seconds']:.0f} s: {out / 'dos.md'}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # The servers are already stopped.
        log("interrupted")
        sys.exit(130)
