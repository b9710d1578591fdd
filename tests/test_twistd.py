"""
C{twistd txpush}: the plugin runs as a daemon under twistd, with a pid file
and a log file, and stops on SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from txpush.testing.h2client import H2Client

TWISTD = Path(sys.executable).parent / "twistd"

SERVING = re.compile(r"Serving .* open http://127\.0\.0\.1:(\d+)/")


def waitUntil(condition: Callable[[], object], timeout: float = 30.0) -> object:
    """
    Poll C{condition} until it returns something true, and return that.

    @raise AssertionError: It did not within C{timeout} seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def running(pid: int) -> bool:
    """Whether the process runs (a zombie left for its reaper does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_daemonServesAndStopsOnSIGTERM(tmp_path: Path) -> None:
    """
    twistd --pidfile P --logfile L txpush ... detaches (twistd itself exits
    0), writes its pid to P and logs where it serves to L; the daemon
    serves a page with its manifest's asset pushed over HTTP/2; on SIGTERM
    it stops and removes P.
    """
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<link rel="stylesheet" href="/style.css">')
    (site / "style.css").write_text("body { margin: 0; }")
    manifest = tmp_path / "push.json"
    manifest.write_text('{"/index.html": ["/style.css"]}')
    pidfile, logfile = tmp_path / "twistd.pid", tmp_path / "twistd.log"
    completed = subprocess.run(
        [
            str(TWISTD),
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(logfile),
            "txpush",
            "--state-dir",
            str(tmp_path / "state"),
            "--listen",
            "tcp:0",
            "--path",
            str(site),
            "--push-manifest",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    pid = int(str(waitUntil(lambda: pidfile.exists() and pidfile.read_text())))
    try:
        assert pid != os.getpid()
        found = waitUntil(
            lambda: logfile.exists() and SERVING.search(logfile.read_text())
        )
        assert isinstance(found, re.Match)
        with H2Client(int(found.group(1))) as client:
            page = client.get(b"/")
            pushes = client.pushes()
        assert page.status == 200
        assert bytes(page.body) == (site / "index.html").read_bytes()
        assert [push.path for push in pushes] == [b"/style.css"]
        assert bytes(pushes[0].body) == b"body { margin: 0; }"
        os.kill(pid, signal.SIGTERM)
        waitUntil(lambda: not running(pid))
        waitUntil(lambda: not pidfile.exists())
    finally:
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    log = logfile.read_text()
    assert "Stopping on signal 15" in log
    assert "Traceback" not in log
