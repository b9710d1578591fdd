"""
Does a server that runs slower (under a profiler) still finish every page?

Run: python bench/stall_check.py [--loads N]

Found while profiling txpush for the benchmark: under cProfile, txpush's
first page load over HTTP/2 never finished, while stock twist web's did.
This check makes the slowdown deterministic without cProfile: each server
runs in a child process with a no-op C{sys.setprofile} hook (which only
makes every Python call slower), serves the benchmark's site over TLS, and
a client (txpush.testing.h2client) loads the page and then its 8 assets, as a
browser does, on a new connection each time.  A load that makes no progress
for 5 s is reported with what each stream received, and the server prints
the state of its HTTP/2 send loop.  Both servers run the same Twisted; the
txpush server has push off (--no-push), so no push is involved.

Then the cost of stalled pushes: txpush with push on and an idle timeout of
2 s serves a client whose initial window (0, then 1 byte) it never opens;
the server's CPU time per second while the page and its pushes stall (the
sending loop should sleep, not spin), and the time until the idle timeout's
GOAWAY.  (Over TLS the connection itself closes some 15 s later: Twisted
aborts it then, when the client has not closed it.)  tests/test_hardening.py
and tests/test_push.py check that the sending loop sleeps; these are the
figures.  Written to bench/results/stall.md too.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "stall.md"
INITIAL_WINDOW_SIZE = 0x4
IDLE_TIMEOUT = 2
sys.path[:0] = [str(HERE), str(HERE.parent)]

import h2.events  # noqa: E402
from procs import Processes, cpuSeconds, freePorts  # noqa: E402
from run import prepare  # noqa: E402
from servers import Setup  # noqa: E402

from txpush.testing.h2client import H2Client  # noqa: E402

# The child: a server with a no-op profile hook, which prints the state of
# its HTTP/2 connections' send loops on SIGUSR1.
SERVER = """
import signal, sys, threading
from twisted.internet import reactor
from twisted.internet.endpoints import serverFromString
from twisted.web.server import Site
from twisted.web.static import File

kind, port, root, manifest, key, cert = sys.argv[1:]
if kind == "twist-web":
    site = Site(File(root))
    listen = f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
    serverFromString(reactor, listen).listen(site)
else:
    from txpush.tap import Options, makeService
    options = Options()
    push = [] if kind == "txpush-push" else ["--no-push"]
    options.parseOptions(["--path", root, "--push-manifest", manifest, *push,
        "--listen", f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"])
    service = makeService(options)
    service.startService()
    site = service.services[0].site
    if kind == "txpush-push":
        site.timeOut = IDLE_TIMEOUT

def dump():
    for connection in list(getattr(site, "http2Connections", ())):
        waiting = connection._sendingDeferred is not None
        window = connection.conn.outbound_flow_control_window
        queued = {
            streamID: sum(len(chunk) for chunk in queue if isinstance(chunk, bytes))
            for streamID, queue in connection._outboundStreamQueues.items()
        }
        print(f"send loop parked: {waiting}; connection window: {window};"
              f" bytes queued by stream: {queued}", flush=True)

signal.signal(signal.SIGUSR1, lambda *args: reactor.callFromThread(dump))
if kind != "txpush-push":
    sys.setprofile(lambda *args: None)
    threading.setprofile(lambda *args: None)
reactor.run()
""".replace("IDLE_TIMEOUT", str(IDLE_TIMEOUT))


def loadOnce(port: int, assets: list[str], onStall: Callable[[], None]) -> str | None:
    """
    Load the page, then its assets.

    @param onStall: Called after 5 s without completion, before the
        connection closes.
    @return: None, or what each stream received.
    """
    with H2Client(port, tls=True, timeout=5) as client:
        try:
            client.get(b"/")
            ids = [client.request(path.encode()) for path in assets]
            client.runUntil(lambda: all(client.streams[i].done for i in ids))
        except TimeoutError:
            onStall()
            return ", ".join(
                f"{(s.path or b'').decode()} {len(s.body)}"
                + ("" if s.done else " (open)")
                for s in client.streams.values()
            )
    return None


class HoldingClient(H2Client):
    """A client that never gives back flow-control window."""

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            self.streams[event.stream_id].body += event.data
            return
        super()._handle(event)


def stalledFigures(port: int, pid: int, window: int) -> tuple[float, float, bool]:
    """
    Load the page with an initial window of C{window} bytes that is never
    opened, and wait for the server's idle timeout.

    @return: The server's CPU seconds per second from the response's
        headers to the server's GOAWAY, the seconds until that GOAWAY (or
        until the connection closed), and whether there was one.
    """
    settings = {INITIAL_WINDOW_SIZE: window}
    with HoldingClient(port, tls=True, settings=settings, timeout=30) as client:
        streamID = client.request(b"/")
        client.runUntil(lambda: client.streams[streamID].headers is not None)
        before = cpuSeconds(pid)
        started = time.monotonic()
        with contextlib.suppress(TimeoutError, ConnectionError):
            client.runUntil(lambda: client.closed or client.terminated is not None)
        elapsed = time.monotonic() - started
        used = cpuSeconds(pid) - before
        return used / elapsed, elapsed, client.terminated is not None


def stallCost(processes: Processes, setup: Setup) -> list[str]:
    """
    Serve with push on and a short idle timeout; the stalled-push figures,
    as the lines of a Markdown table.
    """
    kind = "txpush-push"
    (port,) = freePorts(1)
    site = setup.site
    process = processes.spawn(
        kind,
        [
            *(sys.executable, "-c", SERVER, kind, str(port)),
            *(str(site.root), str(site.manifest)),
            *(str(setup.key), str(setup.certificate)),
        ],
    )
    processes.waitForPort(kind, process, port, 60)
    lines = [
        "| initial window | server CPU s per s while stalled |"
        f" s until GOAWAY (idle timeout {IDLE_TIMEOUT} s) | GOAWAY |",
        "|---:|---:|---:|---|",
    ]
    try:
        for window in (0, 1):
            cpu, closedAfter, goAway = stalledFigures(port, process.pid, window)
            lines.append(
                f"| {window} | {cpu:.3f} | {closedAfter:.2f} |"
                f" {'yes' if goAway else 'no'} |"
            )
    finally:
        processes.stop(process)
    return lines


def main(argv: list[str] | None = None) -> None:
    """Check both servers; print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="txpush-stall-"))
    processes = Processes(work)
    try:
        setup = prepare(work)
        for kind in ("twist-web", "txpush"):
            (port,) = freePorts(1)
            process = processes.spawn(
                kind,
                [
                    *(sys.executable, "-c", SERVER, kind, str(port)),
                    *(str(setup.site.root), str(setup.site.manifest)),
                    *(str(setup.key), str(setup.certificate)),
                ],
            )
            processes.waitForPort(kind, process, port, 60)

            def dumpState(process: subprocess.Popen[bytes] = process) -> None:
                process.send_signal(signal.SIGUSR1)
                time.sleep(1)

            for load in range(options.loads):
                stalled = loadOnce(port, list(setup.site.assets), dumpState)
                if stalled:
                    print(f"{kind}: load {load + 1} STALLED for 5 s: {stalled}")
                    for line in processes.logTail(kind).splitlines():
                        if "send loop" in line:
                            print(f"  server: {line}")
                    break
            else:
                print(f"{kind}: {options.loads} of {options.loads} loads complete")
            processes.stop(process)
        table = stallCost(processes, setup)
        print("\n".join(table))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            "# Stalled pushes\n\nWritten by `python bench/stall_check.py`: txpush"
            " serving the benchmark's page and its pushes over TLS to a client"
            " that never opens its initial window.\n\n" + "\n".join(table) + "\n"
        )
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
