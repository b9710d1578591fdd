"""
C{twistd txpush}: the plugin runs as a daemon under twistd, with a pid file
and a log file, and stops on SIGTERM.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

from txpush.testing.h2client import H2Client
from txpush.testing.waiting import waitFor

TWISTD = Path(sys.executable).parent / "twistd"

SERVING = re.compile(r"Serving .* open http://127\.0\.0\.1:(\d+)/")


def waitForExit(pid: int, timeout: float = 30.0) -> bool:
    """
    Wait until the process C{pid} (not a child of this one) ends.

    @return: Whether it ended within C{timeout} seconds.
    """
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        # A process's descriptor becomes readable when it terminates.
        readable, _, _ = select.select([handle], [], [], timeout)
        return bool(readable)
    finally:
        os.close(handle)


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
    assert waitFor(
        lambda: pidfile.exists() and pidfile.read_text().strip() != "", timeout=30
    )
    pid = int(pidfile.read_text())
    try:
        assert pid != os.getpid()
        assert waitFor(
            lambda: (
                logfile.exists() and SERVING.search(logfile.read_text()) is not None
            ),
            timeout=30,
        )
        found = SERVING.search(logfile.read_text())
        assert found is not None
        with H2Client(int(found.group(1))) as client:
            page = client.get(b"/")
            pushes = client.pushes()
        assert page.status == 200
        assert bytes(page.body) == (site / "index.html").read_bytes()
        assert [push.path for push in pushes] == [b"/style.css"]
        assert bytes(pushes[0].body) == b"body { margin: 0; }"
        os.kill(pid, signal.SIGTERM)
        assert waitForExit(pid)
        assert waitFor(lambda: not pidfile.exists(), timeout=30)
    finally:
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    log = logfile.read_text()
    assert "Stopping on signal 15" in log
    assert "Traceback" not in log
