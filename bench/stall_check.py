"""
Does a server that runs slower (under a profiler) still finish every page?

Run: python bench/stall_check.py [--loads N]

Found while profiling txpush for the benchmark: under cProfile, txpush's
first page load over HTTP/2 never finished, while stock twist web's did.
This check makes the slowdown deterministic without cProfile: each server
runs in a child process with a no-op C{sys.setprofile} hook (which only
makes every Python call slower), serves the benchmark's site over TLS, and
a client (bench/h2client.py) loads the page and then its 8 assets, as a
browser does, on a new connection each time.  A load that makes no progress
for 5 s is reported with what each stream received, and the server prints
the state of its HTTP/2 send loop.  Both servers run the same Twisted; the
txpush server has push off (--no-push), so no push is involved.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from h2client import H2Client  # noqa: E402
from procs import Processes, freePorts  # noqa: E402
from run import prepare  # noqa: E402

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
    options.parseOptions(["--path", root, "--push-manifest", manifest, "--no-push",
        "--listen", f"ssl:{port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"])
    service = makeService(options)
    service.startService()
    site = service.services[0].site

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
sys.setprofile(lambda *args: None)
threading.setprofile(lambda *args: None)
reactor.run()
"""


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
    finally:
        processes.stopAll()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
