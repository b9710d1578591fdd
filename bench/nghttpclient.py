"""
Page loads with nghttp, and what its statistics and frame log say.

nghttp -a fetches the assets a page links, as a browser does: it parses the
HTML as it arrives and requests what it finds, and it accepts pushes.  Its
statistics (-s) give each stream's responseEnd relative to connectEnd, which
nghttp records once the TLS handshake is done, so the page-complete time
(the largest responseEnd) leaves the handshake out and counts HTTP/2 only.
"""

from __future__ import annotations

import re
import resource
import subprocess
from dataclasses import dataclass, field

# Browsers open large flow-control windows (Chrome: 6 MB per stream, 15 MB
# per connection); nghttp's default, 64 KB, would make the page's 1.7 MB of
# assets take several round trips of WINDOW_UPDATEs whatever the server does.
WINDOW_BITS = 23
CONNECTION_WINDOW_BITS = 24

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
_DURATION = re.compile(r"\+?([0-9.]+)(us|ms|s|min)\Z")
_DATA = re.compile(
    r"recv DATA frame <length=(\d+), flags=0x[0-9a-f]+, stream_id=(\d+)>"
)
_COOKIE = re.compile(r"recv \(stream_id=\d+\) set-cookie: ([^=;\s]+)=([^;\s]*)")
_PATH = re.compile(r"recv \(stream_id=\d+\) :path: (\S+)")
_PROMISED = re.compile(r"promised_stream_id=(\d+)\)")
_ENCODING = re.compile(r"recv \(stream_id=\d+\) content-encoding: (\S+)")


class LoadError(RuntimeError):
    """nghttp failed, or its statistics lack a response."""


def _seconds(text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not an nghttp duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Row:
    """One stream of nghttp's statistics."""

    streamID: int
    responseEnd: float
    pushed: bool
    code: int
    path: str


@dataclass
class Load:
    """
    One page load.

    @ivar rows: The statistics, one row per response.
    @ivar pushedDataBytes: DATA bytes received on pushed streams (frame log
        only, else L{None}).
    @ivar promises: PUSH_PROMISE frames received (frame log only).
    @ivar resets: RST_STREAM frames sent or received (frame log only).
    @ivar cookies: The last value each C{Set-Cookie} name was given.
    @ivar pushedBytesByPath: DATA bytes received on pushed streams, by the
        path their PUSH_PROMISE named (frame log only).
    @ivar encodings: The C{Content-Encoding} values of the responses, each
        once (frame log only).
    @ivar clientCPU: nghttp's own CPU seconds (user + system) for the load.
    """

    rows: list[Row]
    pushedDataBytes: int | None = None
    promises: int | None = None
    resets: int | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    pushedBytesByPath: dict[str, int] = field(default_factory=dict)
    encodings: list[str] = field(default_factory=list)
    clientCPU: float = 0.0

    @property
    def pageComplete(self) -> float:
        """The end of the last response, in seconds after connectEnd."""
        return max(row.responseEnd for row in self.rows)

    @property
    def pushedPaths(self) -> list[str]:
        """The paths of the pushed responses."""
        return [row.path for row in self.rows if row.pushed]

    @property
    def cookieHeader(self) -> str | None:
        """A C{Cookie} header value sending every cookie back, or None."""
        if not self.cookies:
            return None
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


def parseStatistics(output: str) -> list[Row]:
    """Parse the request timing table of C{nghttp -s}."""
    rows = []
    inTable = False
    for line in output.splitlines():
        if line.startswith("id  responseEnd"):
            inTable = True
            continue
        if not inTable or not line.strip():
            continue
        tokens = line.split()
        pushed = len(tokens) > 2 and tokens[2] == "*"
        if pushed:
            del tokens[2]
        if len(tokens) < 7 or not tokens[0].isdigit():
            continue
        rows.append(
            Row(
                streamID=int(tokens[0]),
                responseEnd=_seconds(tokens[1]),
                pushed=pushed,
                code=int(tokens[4]),
                path=tokens[6],
            )
        )
    return rows


def parseFrames(output: str, load: Load) -> None:
    """Fill in what the frame log of C{nghttp -v} says."""
    # nghttp logs a PUSH_PROMISE's header block (on the parent stream) just
    # before the frame line that names the promised stream.
    promised: dict[int, str] = {}
    path = "?"
    for line in output.splitlines():
        if (found := _PATH.search(line)) is not None:
            path = found.group(1)
        elif (found := _PROMISED.search(line)) is not None:
            promised[int(found.group(1))] = path
    pushedBytes = 0
    byPath: dict[str, int] = {}
    for match in _DATA.finditer(output):
        stream = int(match.group(2))
        if stream % 2 == 0:  # Even streams are the server's.
            length = int(match.group(1))
            pushedBytes += length
            key = promised.get(stream, "?")
            byPath[key] = byPath.get(key, 0) + length
    load.pushedDataBytes = pushedBytes
    load.pushedBytesByPath = byPath
    load.encodings = sorted({m.group(1) for m in _ENCODING.finditer(output)})
    load.promises = output.count("recv PUSH_PROMISE frame")
    load.resets = output.count("RST_STREAM frame")
    for match in _COOKIE.finditer(output):
        load.cookies[match.group(1)] = match.group(2)


def load(
    url: str,
    assets: bool = True,
    cookie: str | None = None,
    frames: bool = False,
    expected: int = 1,
    timeout: float = 15.0,
) -> Load:
    """
    Load a page with nghttp.

    @param url: The page's URL.
    @param assets: Fetch the linked assets (C{-a}), as a first visit does.
    @param cookie: A C{Cookie} header value to send, as a repeat visit does.
    @param frames: Log frames (C{-v}) for exact pushed bytes and cookies;
        it slows nghttp a little, so timed loads leave it off.
    @param expected: The fewest 200 responses a complete load has.
    @param timeout: Seconds before nghttp is stopped.
    @raise LoadError: nghttp failed or the load is incomplete.
    """
    argv = ["nghttp", "-ns", f"-w{WINDOW_BITS}", f"-W{CONNECTION_WINDOW_BITS}"]
    if assets:
        argv.append("-a")
    if frames:
        argv.append("-v")
    if cookie is not None:
        argv += ["-H", f"cookie: {cookie}"]
    argv.append(url)
    # The caller runs one child at a time: the children's usage grows by
    # this nghttp's alone.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise LoadError(f"{url}: nghttp timed out after {timeout:g} s") from e
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = parseStatistics(done.stdout)
    ok = sum(1 for row in rows if row.code == 200)
    if done.returncode != 0 or ok < expected:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-12:])
        raise LoadError(
            f"{' '.join(argv)}: status {done.returncode}, {ok} responses of "
            f"{expected}:\n{tail}"
        )
    result = Load(rows, clientCPU=cpu)
    if frames:
        parseFrames(done.stdout, result)
    return result
