"""
A push-accepting load client: loads the page and its assets again and
again, each load on a new TLS connection, for a fixed time.

Run: python bench/loadclient.py --port PORT --mode push|fetch
        --assets /a.css,/b.js --start-at EPOCH --duration SECONDS

In C{push} mode the client asks for the page only and waits for the pushed
assets; in C{fetch} mode it waits for the page, then requests the assets
itself, all at once on the same connection, as a browser does once it has
parsed the page.  A new connection per load keeps every load a first visit:
a server remembers what it pushed per connection and would not push again.
Prints one JSON line: pages loaded, bytes received, errors, and when the
first load started and the last ended.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from txpush.testing.h2client import H2Client


def loadPage(port: int, mode: str, assets: list[bytes]) -> int:
    """
    Load the page and its assets once.

    @return: The body bytes received.
    @raise RuntimeError: A response is missing or not 200.
    """
    # A load that stalls counts as an error after 10 s, not a lost round.
    with H2Client(port, tls=True, timeout=10) as client:
        page = client.get(b"/")
        if mode == "push":
            responses = client.pushes(page.streamID)
        else:
            ids = [client.request(path) for path in assets]
            client.runUntil(lambda: all(client.streams[i].done for i in ids))
            responses = [client.streams[i] for i in ids]
        got = sorted(stream.path or b"" for stream in responses)
        if got != sorted(assets) or any(s.status != 200 for s in [page, *responses]):
            raise RuntimeError(f"incomplete load: {got!r}")
        return len(page.body) + sum(len(stream.body) for stream in responses)


def main(argv: list[str] | None = None) -> None:
    """Load pages until the time is up; print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("push", "fetch"), required=True)
    parser.add_argument("--assets", required=True, help="comma-separated paths")
    parser.add_argument("--start-at", type=float, required=True, help="epoch time")
    parser.add_argument("--duration", type=float, required=True)
    options = parser.parse_args(argv)
    assets = [path.encode() for path in options.assets.split(",")]
    # Every client process starts at the same moment, after its imports.
    time.sleep(max(0.0, options.start_at - time.time()))
    started = time.time()
    deadline = started + options.duration
    pages = received = errors = 0
    while time.time() < deadline:
        try:
            received += loadPage(options.port, options.mode, assets)
            pages += 1
        except (OSError, RuntimeError, TimeoutError):
            errors += 1
    print(
        json.dumps(
            {
                "pages": pages,
                "bytes": received,
                "errors": errors,
                "started": started,
                "ended": time.time(),
            }
        )
    )


if __name__ == "__main__":
    main()
