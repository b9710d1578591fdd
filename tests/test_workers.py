"""
C{twist txpush --workers N}: a supervisor binds the sockets and runs N
worker processes, each a full txpush, on them.  Run here as real processes
with real clients: which worker served a request is what the workers' own
log says (the supervisor prefixes each worker's lines with C{worker N:}),
and which processes are the workers is what C{/proc} says.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from twisted.logger import eventsFromJSONLogFile
from twisted.python.usage import UsageError

from txpush.commandline import WORKER_VARIABLE
from txpush.tap import Options, ServeSettings
from txpush.testing.h2client import H2Client
from txpush.testing.twist import TWIST, TwistServer
from txpush.testing.waiting import accepts, waitFor
from txpush.workers import (
    BoundSockets,
    InheritedSockets,
    WorkerSupervisor,
    planProcess,
    workerCommand,
    workerLearnFile,
)

WORKER_APP = '''\
"""A WSGI application whose gated requests answer once the test says so."""

import os
from pathlib import Path

from txpush.testing.waiting import waitFor


def application(environ, startResponse):
    gate = environ.get("HTTP_X_GATE")
    if gate:
        gates = Path(os.environ["WORKERAPP_GATES"])
        started = gates / (gate + ".started")
        (gates / (gate + ".tmp")).write_text(str(os.getpid()))
        os.replace(gates / (gate + ".tmp"), started)
        if not waitFor((gates / gate).exists, timeout=60):
            startResponse("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"the gate never opened"]
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return [b"served"]
'''

STARTED = re.compile(r"worker (\d+) \(pid (\d+)\) started")


@pytest.fixture(scope="module")
def stateDirectory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One development certificate for the module's servers."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture
def appDirectory(tmp_path: Path) -> Path:
    """The servers' current directory, with C{workerapp} and its gates."""
    (tmp_path / "workerapp.py").write_text(WORKER_APP)
    (tmp_path / "gates").mkdir()
    return tmp_path


@pytest.fixture
def start(
    stateDirectory: Path, appDirectory: Path
) -> Iterator[Callable[..., TwistServer]]:
    """
    Start C{twist txpush ARGUMENTS} in the application's directory; the
    servers are killed after the test (their workers stop on their own).
    """
    started: list[TwistServer] = []
    environment = {**os.environ, "WORKERAPP_GATES": str(appDirectory / "gates")}

    def begin(*arguments: str) -> TwistServer:
        server = TwistServer(
            *arguments,
            stateDirectory=stateDirectory,
            cwd=appDirectory,
            env=environment,
        )
        started.append(server)
        return server

    yield begin
    for server in started:
        server.kill()


def workerPids(server: TwistServer, count: int) -> dict[int, int]:
    """
    The supervisor's first C{count} workers, from its log.

    @return: Their process ids, by index.
    """
    pids = {}
    while len(pids) < count:
        match = STARTED.search(server.waitFor(STARTED))
        assert match is not None
        pids[int(match[1])] = int(match[2])
    return pids


def parentOf(pid: int) -> int | None:
    """The parent of a running process, from /proc, or None once it ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1])


def servedBy(lines: list[str], path: str) -> set[int]:
    """The workers whose access log lines say they answered C{path} with 200."""
    logged = re.compile(rf'^worker (\d+): .*"GET {re.escape(path)} HTTP/[0-9.]+" 200 ')
    return {int(m[1]) for m in map(logged.search, list(lines)) if m}


def get(server: TwistServer, path: str, tls: bool = True) -> int | None:
    """One request on a new HTTP/2 connection: its status."""
    port = server.port("https" if tls else "http")
    with H2Client(port, tls=tls) as client:
        return client.get(path.encode()).status


def test_workersServeTheSameSockets(start, appDirectory: Path) -> None:
    """
    With --workers 2, two worker processes, children of the supervisor,
    serve the demo site on the same ssl:, tcp: and unix: endpoints (port 0
    picked once, by the supervisor): requests on new connections are
    answered by both, as their own log lines say.  Each keeps its own
    --learn-file; on SIGTERM all exit, the supervisor with status 0, and the
    UNIX socket's file is removed.
    """
    unixPath = appDirectory / "txpush.sock"
    learnFile = appDirectory / "learn.json"
    server = start(
        "--workers",
        "2",
        "--listen",
        "ssl:0:interface=127.0.0.1",
        "--listen",
        "tcp:0:interface=127.0.0.1",
        "--listen",
        f"unix:{unixPath}",
        "--learn",
        "--learn-file",
        str(learnFile),
    )
    assert re.search(r"with 2 workers: open https://localhost:\d+/", server.log[0])
    pids = workerPids(server, 2)
    assert waitFor(lambda: all(parentOf(p) == server.pid for p in pids.values()))

    counter = itertools.count()
    answered: list[str] = []

    def requestUntilBothServed() -> bool:
        # Over TLS and cleartext HTTP/2 in turn, each on a new connection.
        number = next(counter)
        path = f"/?r={number}"
        assert get(server, path, tls=number % 2 == 0) == 200
        answered.append(path)
        return {1, 2} <= set().union(*(servedBy(server.log, p) for p in answered))

    assert waitFor(requestUntilBothServed, timeout=60, interval=0), server.log

    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(10)
        client.connect(str(unixPath))
        client.sendall(
            b"GET /?over=unix HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        response = b""
        while chunk := client.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 "), response

    assert server.stop() == 0
    assert not server.problems
    assert waitFor(lambda: all(parentOf(p) is None for p in pids.values()))
    assert not unixPath.exists()
    assert workerLearnFile(learnFile, 1).exists()
    assert workerLearnFile(learnFile, 2).exists()
    assert not learnFile.exists()


def test_sigtermDrainsEveryWorker(start, appDirectory: Path) -> None:
    """
    SIGTERM to the supervisor while each worker has a request in flight
    (its application waits for a gate): every worker sends its GOAWAY and
    stops listening, new connections are refused, the in-flight responses
    still complete with 200 once the gates open, every worker exits, and
    so does the supervisor, with status 0.
    """
    server = start(
        "--workers",
        "2",
        "--listen",
        "ssl:0:interface=127.0.0.1",
        "--wsgi",
        "workerapp.application",
        "--wsgi-threads",
        "40",
        "--grace-period",
        "60",
    )
    pids = workerPids(server, 2)
    gates = appDirectory / "gates"
    port = server.port("https")
    inFlight: list[tuple[H2Client, int, str]] = []
    servingPids: set[int] = set()
    try:
        while servingPids != set(pids.values()):
            assert len(inFlight) < 40, f"every request went to {servingPids}"
            gate = f"g{len(inFlight)}"
            client = H2Client(port, tls=True)
            streamID = client.request(b"/slow", [(b"x-gate", gate.encode())])
            inFlight.append((client, streamID, gate))
            started = gates / f"{gate}.started"
            assert waitFor(started.exists, timeout=30), gate
            servingPids.add(int(started.read_text()))

        os.kill(server.pid, signal.SIGTERM)
        for client, _, _ in inFlight:
            client.runUntil(lambda c=client: c.terminated is not None, timeout=30)
        assert waitFor(lambda: not accepts("127.0.0.1", port), timeout=30)
        assert all(parentOf(p) == server.pid for p in pids.values())

        for _, _, gate in inFlight:
            (gates / gate).touch()
        for client, streamID, _ in inFlight:
            client.runUntil(client.settled(streamID), timeout=30)
            stream = client.streams[streamID]
            assert stream.status == 200
            assert bytes(stream.body) == b"served"
    finally:
        for client, _, _ in inFlight:
            client.close()

    assert server.process.wait(90) == 0
    assert waitFor(lambda: all(parentOf(p) is None for p in pids.values()))
    for index, pid in pids.items():
        assert any(
            f"worker {index} (pid {pid}) stopped: exit status 0" in line
            for line in server.log
        )
    assert not accepts("127.0.0.1", port)


def test_killedWorkerIsReplaced(start) -> None:
    """
    A worker killed with SIGKILL: the other serves the next connections at
    once; the supervisor logs the death with the signal, and a new worker
    with the same index, which serves too.
    """
    server = start(
        "--workers",
        "2",
        "--listen",
        "ssl:0:interface=127.0.0.1",
        "--wsgi",
        "workerapp.application",
    )
    pids = workerPids(server, 2)
    os.kill(pids[1], signal.SIGKILL)
    for number in range(5):
        assert get(server, f"/during{number}") == 200

    server.waitFor(
        re.compile(rf"worker 1 \(pid {pids[1]}\) died: killed by signal 9 \(SIGKILL\)")
    )
    line = server.waitFor(
        re.compile(rf"worker 1 \(pid \d+\) started, replacing pid {pids[1]}$")
    )
    match = STARTED.search(line)
    assert match is not None
    replacement = int(match[2])
    assert replacement not in pids.values()
    assert parentOf(replacement) == server.pid
    assert parentOf(pids[1]) is None
    assert parentOf(pids[2]) == server.pid

    mark = len(server.log)
    counter = itertools.count()

    def requestUntilTheNewWorkerServed() -> bool:
        path = f"/after{next(counter)}"
        assert get(server, path) == 200
        return any(
            re.match(r'worker 1: .*"GET /after\d+ HTTP/2" 200 ', line)
            for line in server.log[mark:]
        )

    assert waitFor(requestUntilTheNewWorkerServed, timeout=60, interval=0)
    assert server.stop() == 0


def test_crashLoopStopsTheSupervisor(start) -> None:
    """
    Workers that die as soon as they start, again and again: after the
    fifth such death the supervisor replaces none, logs one line saying so,
    stops the worker left and exits with a nonzero status.
    """
    server = start("--workers", "2", "--listen", "tcp:0:interface=127.0.0.1")
    pids = list(workerPids(server, 2).values())
    replacing = re.compile(r"worker \d+ \(pid (\d+)\) started, replacing pid \d+$")
    for _ in range(5):
        if not pids:
            match = replacing.search(server.waitFor(replacing))
            assert match is not None
            pids.append(int(match[1]))
        os.kill(pids.pop(0), signal.SIGKILL)
    line = server.waitFor(re.compile(r"workers died within"))
    assert "5 workers died within 10 seconds of starting" in line
    assert "stopping rather than restarting them" in line
    assert server.process.wait(60) == 70
    server.kill()
    assert sum("workers died within" in line for line in server.log) == 1
    last = [int(m[2]) for m in map(STARTED.search, server.log) if m][-1]
    assert waitFor(lambda: parentOf(last) is None)


def run(
    *arguments: str, cwd: Path, stateDirectory: Path
) -> subprocess.CompletedProcess[str]:
    """Run C{twist txpush ARGUMENTS} to its end."""
    return subprocess.run(
        [str(TWIST), "txpush", "--state-dir", str(stateDirectory), *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_mistakesAreCaughtBeforeAnyWorkerStarts(
    appDirectory: Path, stateDirectory: Path
) -> None:
    """
    The supervisor checks the command line, the files it names and the
    ports as one process does, with the same one-line messages and exit
    statuses, before any worker starts.
    """
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        inUse = f"tcp:{taken.getsockname()[1]}:interface=127.0.0.1"
        for arguments, status in [
            (("--listen", inUse), 69),
            (("--listen", "tcp:0", "--wsgi", "nosuch.application"), 64),
            (("--listen", "tcp:0", "--push-manifest", "/no/such.json"), 64),
        ]:
            alone = run(*arguments, cwd=appDirectory, stateDirectory=stateDirectory)
            workers = run(
                "--workers",
                "2",
                *arguments,
                cwd=appDirectory,
                stateDirectory=stateDirectory,
            )
            assert (alone.returncode, workers.returncode) == (status, status)
            assert workers.stderr == alone.stderr
            assert workers.stderr.count("\n") == 1, workers.stderr
            assert "worker" not in workers.stdout


def parse(*arguments: str) -> ServeSettings:
    options = Options()
    options.parseOptions(list(arguments))
    settings: ServeSettings = options["settings"]
    return settings


@pytest.mark.parametrize("value", ["0", "x", "-1", "1.5", "1025", ""])
def test_workersOptionMistakes(value: str, capsys) -> None:
    """
    A --workers that is no positive whole number nor auto is one line
    naming --workers and what to write, exit status 64.
    """
    with pytest.raises(SystemExit) as info:
        parse("--workers", value)
    assert info.value.code == 64
    assert capsys.readouterr().err == (
        f"twist txpush: --workers {value}: give a whole number from 1 to 1024, "
        "or auto for one per CPU (see twist txpush --help)\n"
    )


def test_workersOption(monkeypatch) -> None:
    """
    --workers is 1 by default (one process, no supervisor), a number, or
    auto: one per CPU.
    """
    assert parse().workers == 1
    assert parse("--workers", "4").workers == 4
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert parse("--workers", "auto").workers == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert parse("--workers", "auto").workers == 1
    settings = parse("--workers", "3")
    assert (settings.workerIndex, settings.workerDescriptors) == (None, ())


def test_workersRefusedUnderTwistd(monkeypatch, capsys) -> None:
    """
    twistd runs one daemon process: twistd txpush --workers 2 is refused
    with one line; --workers 1 is what twistd txpush always did.
    """
    monkeypatch.setattr(sys, "argv", ["/usr/bin/twistd", "txpush"])
    assert parse("--workers", "1").workers == 1
    with pytest.raises(SystemExit) as info:
        parse("--workers", "2")
    assert info.value.code == 64
    error = capsys.readouterr().err
    assert error.startswith("twist txpush: --workers 2: not supported under twistd")
    assert "twist txpush --workers" in error
    assert error.count("\n") == 1


def test_workerVariable(monkeypatch, capsys) -> None:
    """
    A worker learns its index and inherited sockets from $TXPUSH_WORKER;
    a value the supervisor would not set is one line.
    """
    monkeypatch.setenv(WORKER_VARIABLE, "2:3,4")
    settings = parse("--workers", "2")
    assert (settings.workerIndex, settings.workerDescriptors) == (2, (3, 4))
    monkeypatch.setenv(WORKER_VARIABLE, "two")
    with pytest.raises(SystemExit):
        parse("--workers", "2")
    error = capsys.readouterr().err
    assert error.startswith(f"twist txpush: ${WORKER_VARIABLE} 'two': only twist")
    assert error.count("\n") == 1


@pytest.mark.parametrize(
    "given, first, second",
    [
        ("learn.json", "learn.1.json", "learn.2.json"),
        ("learned", "learned.1", "learned.2"),
        ("site.learn.json", "site.learn.1.json", "site.learn.2.json"),
    ],
)
def test_learnFilePerWorker(given: str, first: str, second: str, tmp_path) -> None:
    """
    Worker i keeps --learn-file PATH as PATH with i before its suffix, in
    the same directory.
    """
    assert workerLearnFile(tmp_path / given, 1) == tmp_path / first
    assert workerLearnFile(tmp_path / given, 2) == tmp_path / second


def test_planProcess(tmp_path, monkeypatch) -> None:
    """
    --workers 1 is one process as before; --workers N makes this process
    the supervisor, which binds the sockets, learns nothing and runs twist
    again; $TXPUSH_WORKER makes it a worker, on its inherited sockets, with
    its own learn file, and the variable is not left for the application's
    processes.
    """
    reactor = object()
    learnFile = tmp_path / "learn.json"
    alone = parse("--learn", "--learn-file", str(learnFile))
    plan = planProcess(alone, reactor)
    assert (plan.settings, plan.listeningReactor, plan.workerCommand) == (
        alone,
        reactor,
        None,
    )
    assert not plan.isWorker

    arguments = ("--workers", "2", "--learn", "--learn-file", str(learnFile))
    argv = ["/venv/bin/twist", "--log-format", "text", "txpush", *arguments]
    plan = planProcess(parse(*arguments), reactor, argv)
    assert isinstance(plan.listeningReactor, BoundSockets)
    assert plan.settings.learnFile is None
    assert plan.workerCommand == (sys.executable, "-m", "twisted", *argv[1:])
    assert not plan.isWorker
    assert workerCommand([str(TWIST), *argv[1:]]) == (
        sys.executable,
        str(TWIST),
        *argv[1:],
    )

    monkeypatch.setenv(WORKER_VARIABLE, "2:3")
    plan = planProcess(parse(*arguments), reactor, argv)
    assert isinstance(plan.listeningReactor, InheritedSockets)
    assert plan.settings.learnFile == tmp_path / "learn.2.json"
    assert plan.workerCommand is None
    assert plan.isWorker
    assert WORKER_VARIABLE not in os.environ


def test_workersNeedTwist() -> None:
    """
    Workers run the twist command line again: a process that is not
    twist txpush (an application calling makeService) cannot supervise.
    """
    with pytest.raises(UsageError) as info:
        workerCommand(["/usr/bin/python3", "serve.py"])
    assert str(info.value).startswith("--workers: only the twist command")


def test_relayedLinesSayWhichWorker() -> None:
    """
    The supervisor writes each line of a worker's output to its own,
    prefixed with the worker's index; an event of twist's JSON log gets a
    txpush_worker field, and the log stays one JSON event per line.
    """
    out, err = io.StringIO(), io.StringIO()
    supervisor = WorkerSupervisor(None, [], 2, ("twist",), 10.0, {1: out, 2: err})
    supervisor.relay(1, 2, b"2026-01-01T00:00:00+0000 [txpush#info] Serving")
    supervisor.relay(2, 1, b"\tTraceback (most recent call last):")
    event = {"log_format": "Serving", "log_namespace": "txpush"}
    supervisor.relay(1, 1, b"\x1e" + json.dumps(event).encode())
    # Not splitlines(): it splits at the JSON log's record separator too.
    lines = out.getvalue().split("\n")
    assert lines[0] == "worker 2: 2026-01-01T00:00:00+0000 [txpush#info] Serving"
    assert lines[2:] == [""]
    assert err.getvalue() == "worker 1: \tTraceback (most recent call last):\n"
    [relayed] = eventsFromJSONLogFile(io.StringIO(lines[1] + "\n"))
    assert relayed == {**event, "txpush_worker": 1}
