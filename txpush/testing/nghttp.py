"""
Running nghttp, nghttp2's command-line client, against a server.
"""

from __future__ import annotations

import subprocess


def runNghttp(nghttp: str, *arguments: str, timeout: float = 30.0) -> str:
    """
    Run nghttp (with C{--timeout=10}) and return what it printed.

    @param nghttp: The path of the nghttp executable.
    @param arguments: Its options and URLs.
    @param timeout: How long it may run, in seconds.
    @return: Its standard output.
    @raise AssertionError: It exited with an error (its standard error
        says which).
    """
    completed = subprocess.run(
        [nghttp, "--timeout=10", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout
