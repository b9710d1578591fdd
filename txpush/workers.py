"""
C{twist txpush --workers N}: N worker processes serving the same listening
sockets, each a full txpush.

The process the operator started is the supervisor.  It checks the command
line as one process would, binds every C{--listen} endpoint's socket itself
(L{BoundSockets}) without serving it, and runs each worker as a fresh
C{python -m twisted} process with the same command line, the sockets as
inherited file descriptors and C{$TXPUSH_WORKER} saying which they are and
which worker it is (L{WorkerSupervisor}).  A worker listens on those sockets
instead of binding its own (L{InheritedSockets}), wrapping its site in TLS
itself for C{ssl:} endpoints, and stops when the supervisor is gone
(L{SupervisorLifeline}).

The kernel hands each new connection to one of the processes accepting on
the shared socket; the digest lives in the client's cookie, so any worker
serves any visit.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from signal import SIGINT, SIGTERM, Signals, signal
from typing import Any, TextIO

import attrs
from twisted.application.service import Service
from twisted.internet import main
from twisted.internet.abstract import isIPv6Address
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import (
    CannotListenError,
    ProcessExitedAlready,
    ReactorNotRunning,
)
from twisted.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IReadDescriptor,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.python.lockfile import FilesystemLock
from zope.interface import implementer

from txpush.commandline import WORKER_VARIABLE, ServeSettings

__all__ = [
    "EX_SOFTWARE",
    "BoundPort",
    "BoundSockets",
    "InheritedSockets",
    "ProcessPlan",
    "SupervisorLifeline",
    "WorkerSupervisor",
    "planProcess",
    "workerCommand",
    "workerLearnFile",
]

EX_SOFTWARE = 70
"""
The supervisor's exit status when its workers die as soon as they start,
again and again (sysexits.h).
"""

FIRST_DESCRIPTOR = 3
"""A worker's first inherited listening socket; the others follow it."""


def workerLearnFile(path: Path, index: int) -> Path:
    """
    The C{--learn-file} of one worker: each keeps its own.

    @param path: The C{--learn-file} given.
    @param index: The worker's index, from 1.
    @return: C{path} with the index before its suffix: C{learn.json} is
        C{learn.1.json} for worker 1.
    """
    return path.with_name(f"{path.stem}.{index}{path.suffix}")


def workerCommand(argv: Sequence[str]) -> tuple[str, ...]:
    """
    The command line that runs a worker: this one again, by this
    interpreter: the C{twist} script it runs, or C{python -m twisted} when
    it was run so.

    @param argv: This process's C{sys.argv}.
    @return: The worker's command, its executable first.
    @raise usage.UsageError: This process is not C{twist txpush}.
    """
    if len(argv) < 2 or "txpush" not in argv[1:]:
        raise usage.UsageError(
            "--workers: only the twist command runs workers: run "
            "twist txpush --workers N"
        )
    script = Path(argv[0])
    if script.name == "__main__.py" or not script.is_file():
        return (sys.executable, "-m", "twisted", *argv[1:])
    return (sys.executable, str(script.absolute()), *argv[1:])


@attrs.frozen
class ProcessPlan:
    """
    What this process is among the supervisor and its workers.

    @ivar settings: The settings this process serves with: a worker's own
        C{--learn-file}; none for the supervisor, which serves nothing.
    @ivar listeningReactor: What the endpoints listen with: the reactor,
        L{BoundSockets} in the supervisor, L{InheritedSockets} in a worker.
    @ivar workerCommand: The supervisor's command for its workers, or
        L{None} in any other process.
    """

    settings: ServeSettings
    listeningReactor: Any
    workerCommand: tuple[str, ...] | None = None

    @property
    def isWorker(self) -> bool:
        """
        Whether this process is one of a supervisor's workers.
        """
        return self.settings.workerIndex is not None


def planProcess(
    settings: ServeSettings, reactor: Any, argv: Sequence[str] | None = None
) -> ProcessPlan:
    """
    Decide what this process is: one server (C{--workers 1}), the supervisor
    of C{--workers N}, or one of its workers (C{$TXPUSH_WORKER} is set).

    @param settings: The settings of the command line.
    @param reactor: The reactor.
    @param argv: This process's command line, or L{None} for C{sys.argv}.
    @return: The plan.
    @raise usage.UsageError: This process should supervise workers but is
        not C{twist txpush}.
    """
    if settings.workerIndex is not None:
        # Not for the application's own processes.
        os.environ.pop(WORKER_VARIABLE, None)
        learnFile = settings.learnFile
        if learnFile is not None:
            learnFile = workerLearnFile(learnFile, settings.workerIndex)
        return ProcessPlan(
            attrs.evolve(settings, learnFile=learnFile),
            InheritedSockets(reactor, settings.workerDescriptors),
        )
    if settings.workers > 1:
        return ProcessPlan(
            attrs.evolve(settings, learnFile=None),
            BoundSockets(reactor),
            workerCommand(sys.argv if argv is None else argv),
        )
    return ProcessPlan(settings, reactor)


@implementer(IListeningPort)
class BoundPort:
    """
    A socket the supervisor bound and listens on, for its workers to accept
    connections on; it accepts none itself.

    @ivar socket: The listening socket.
    """

    def __init__(
        self,
        listening: socket.socket,
        path: str | None = None,
        lock: FilesystemLock | None = None,
    ) -> None:
        """
        @param listening: The listening socket.
        @param path: A C{unix:} socket's file, removed on stop.
        @param lock: A C{unix:} socket's lock file, released on stop.
        """
        self.socket = listening
        self._socketPath = path
        self._lock = lock

    def fileno(self) -> int:
        """
        @return: The socket's file descriptor.
        """
        return self.socket.fileno()

    def startListening(self) -> None:
        """
        Nothing: the socket listens from the start.
        """

    def stopListening(self) -> Deferred[None]:
        """
        Close the socket: once the workers closed theirs too, connections
        are refused.  Unlike a Twisted port's, no C{shutdown()}, which would
        stop the workers' accepting at once.

        @return: A fired L{Deferred}.
        """
        if self.socket.fileno() != -1:
            self.socket.close()
            if self._socketPath is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._socketPath)
            if self._lock is not None:
                self._lock.unlock()
        return succeed(None)

    def getHost(self) -> IPv4Address | IPv6Address | UNIXAddress:
        """
        @return: The socket's address.
        """
        name = self.socket.getsockname()
        if self.socket.family == socket.AF_INET6:
            return IPv6Address("TCP", name[0], name[1])
        if self.socket.family == socket.AF_INET:
            return IPv4Address("TCP", name[0], name[1])
        return UNIXAddress(name)


def _listening(family: int, address: Any, backlog: int) -> socket.socket:
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(backlog)
        listening.setblocking(False)
    except OSError:
        listening.close()
        raise
    return listening


class _ReactorStandIn:
    """
    A reactor whose C{listen} methods are its own, and everything else the
    wrapped reactor's: what the endpoints of a supervisor or a worker listen
    with.
    """

    def __init__(self, reactor: Any) -> None:
        """
        @param reactor: The reactor.
        """
        self._wrappedReactor = reactor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrappedReactor, name)


class BoundSockets(_ReactorStandIn):
    """
    What the supervisor's endpoints listen with: instead of the reactor's
    ports, it binds and listens on plain sockets (as the reactor would, with
    the same errors), which the workers inherit.  The factories are not
    used: the workers serve.  Everything else is the reactor's.
    """

    def listenTCP(
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
    ) -> BoundPort:
        """
        Bind a TCP socket (IPv6 when C{interface} is an IPv6 address).

        @param port: The port, or 0 for any free one.
        @param factory: Not used.
        @param backlog: The listen queue's length.
        @param interface: The address to bind, or C{""} for all.
        @return: The bound socket.
        @raise CannotListenError: It cannot be bound.
        """
        family = socket.AF_INET6 if isIPv6Address(interface) else socket.AF_INET
        try:
            address: Any = (interface, port)
            if family == socket.AF_INET6:
                address = socket.getaddrinfo(
                    interface, port, family, 0, 0, socket.AI_NUMERICHOST
                )[0][4]
            return BoundPort(_listening(family, address, backlog))
        except OSError as e:
            raise CannotListenError(interface, port, e) from None

    def listenSSL(
        self,
        port: int,
        factory: IProtocolFactory,
        contextFactory: object,
        backlog: int = 50,
        interface: str = "",
    ) -> BoundPort:
        """
        Bind the TCP socket of an C{ssl:} endpoint: the workers speak TLS
        on it.

        @param port: The port, or 0 for any free one.
        @param factory: Not used.
        @param contextFactory: Not used (each worker makes its own).
        @param backlog: The listen queue's length.
        @param interface: The address to bind, or C{""} for all.
        @return: The bound socket.
        @raise CannotListenError: It cannot be bound.
        """
        return self.listenTCP(port, factory, backlog, interface)

    def listenUNIX(
        self,
        address: str,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> BoundPort:
        """
        Bind a UNIX socket, as C{reactor.listenUNIX} does: its file gets
        C{mode}; with C{wantPID}, a lock file guards it and a stale socket
        is removed.

        @param address: The socket's file, or C{"\\0NAME"} for an abstract
            one.
        @param factory: Not used.
        @param backlog: The listen queue's length.
        @param mode: The file's permissions.
        @param wantPID: Whether to keep a lock file beside it.
        @return: The bound socket.
        @raise CannotListenError: It cannot be bound.
        """
        path = os.fsdecode(address)
        inFileSystem = not path.startswith("\0")
        lock = None
        if wantPID and inFileSystem:
            lock = FilesystemLock(path + ".lock")
            if not lock.lock():
                raise CannotListenError(None, path, "Cannot acquire lock")
            if not lock.clean:
                with contextlib.suppress(OSError):
                    if stat.S_ISSOCK(os.stat(path).st_mode):
                        os.remove(path)
        try:
            listening = _listening(socket.AF_UNIX, path, backlog)
            if inFileSystem:
                os.chmod(path, mode)
        except OSError as e:
            if lock is not None:
                lock.unlock()
            raise CannotListenError(None, path, e) from None
        return BoundPort(listening, path if inFileSystem else None, lock)

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> BoundPort:
        """
        Keep a socket listening already (C{systemd:}, C{adopt:} endpoints).

        @param fileDescriptor: Its file descriptor; the caller closes it.
        @param addressFamily: Its address family.
        @param factory: Not used.
        @return: The socket, on a descriptor of its own.
        """
        return BoundPort(
            socket.socket(addressFamily, socket.SOCK_STREAM, 0, os.dup(fileDescriptor))
        )


@implementer(IListeningPort)
class _SharedUNIXPort:
    # A worker's UNIX port: on stop, only this worker's descriptor closes.
    # Twisted's would shut the socket down and remove its file, for the
    # supervisor and every other worker too.

    def __init__(self, port: Any) -> None:
        self._port = port

    def startListening(self) -> None:
        pass

    def stopListening(self) -> Deferred[None]:
        port = self._port
        if port.socket.fileno() != -1:
            port.stopReading()
            port.socket.close()
            port.factory.doStop()
        return succeed(None)

    def getHost(self) -> UNIXAddress:
        address: UNIXAddress = self._port.getHost()
        return address


class InheritedSockets(_ReactorStandIn):
    """
    What a worker's endpoints listen with: each C{listen} takes the next
    socket the supervisor bound, in C{--listen} order, and serves the
    factory on it.  Everything else is the reactor's.
    """

    def __init__(self, reactor: Any, descriptors: Sequence[int]) -> None:
        """
        @param reactor: The reactor.
        @param descriptors: The inherited sockets' file descriptors.
        """
        super().__init__(reactor)
        self._descriptors = list(descriptors)

    def listenTCP(
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Serve the next inherited TCP socket.

        @param port: The endpoint's port (the socket is bound already).
        @param factory: The factory to serve.
        @param backlog: Not used.
        @param interface: The endpoint's interface, for an error.
        @return: The port.
        @raise CannotListenError: No TCP socket is left to take.
        """
        return self._adopt((socket.AF_INET, socket.AF_INET6), factory, port)

    def listenSSL(
        self,
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        """
        Serve TLS on the next inherited TCP socket, as C{reactor.listenSSL}
        does on a port of its own: the TLS context is the endpoint's (its
        certificate, and ALPN C{h2} and C{http/1.1}, which the site offers).

        @param port: The endpoint's port (the socket is bound already).
        @param factory: The factory to serve.
        @param contextFactory: The endpoint's TLS context factory.
        @param backlog: Not used.
        @param interface: Not used.
        @return: The port.
        @raise CannotListenError: No TCP socket is left to take.
        """
        tls = TLSMemoryBIOFactory(contextFactory, False, factory)
        return self._adopt((socket.AF_INET, socket.AF_INET6), tls, port)

    def listenUNIX(
        self,
        address: str,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> IListeningPort:
        """
        Serve the next inherited UNIX socket; on stop, its file stays, the
        supervisor's to remove.

        @param address: The endpoint's file.
        @param factory: The factory to serve.
        @param backlog: Not used.
        @param mode: Not used.
        @param wantPID: Not used.
        @return: The port.
        @raise CannotListenError: No UNIX socket is left to take.
        """
        return _SharedUNIXPort(self._adopt((socket.AF_UNIX,), factory, address))

    def adoptStreamPort(
        self, fileDescriptor: int, addressFamily: int, factory: IProtocolFactory
    ) -> IListeningPort:
        """
        Serve the next inherited socket in place of one the endpoint adopts.

        @param fileDescriptor: Not used: the supervisor adopted it.
        @param addressFamily: Its address family.
        @param factory: The factory to serve.
        @return: The port.
        @raise CannotListenError: No such socket is left to take.
        """
        return self._adopt((addressFamily,), factory, fileDescriptor)

    def _adopt(
        self, families: tuple[int, ...], factory: IProtocolFactory, port: object
    ) -> IListeningPort:
        if not self._descriptors:
            raise CannotListenError(None, port, "no inherited socket left")
        descriptor = self._descriptors.pop(0)
        try:
            inherited = socket.socket(fileno=descriptor)
        except OSError as e:
            raise CannotListenError(None, port, e) from None
        family = inherited.family
        inherited.detach()
        try:
            if family not in families:
                raise CannotListenError(
                    None, port, f"inherited socket {descriptor} is another kind"
                )
            adopted: IListeningPort = self._wrappedReactor.adoptStreamPort(
                descriptor, family, factory
            )
            return adopted
        finally:
            # The port has a duplicate of its own.
            os.close(descriptor)


@implementer(IReadDescriptor)
class _Lifeline:
    # A worker's standard input: the supervisor holds the pipe's other end,
    # which closes when it exits, however it exits.

    def __init__(self, lost: Callable[[], None]) -> None:
        self._lost = lost

    def fileno(self) -> int:
        return 0

    def doRead(self) -> Failure | None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return None
        except OSError:
            return Failure(main.CONNECTION_LOST)
        return None if data else Failure(main.CONNECTION_DONE)

    def connectionLost(self, reason: Failure) -> None:
        self._lost()

    def logPrefix(self) -> str:
        return "txpush-worker"


class SupervisorLifeline(Service):
    """
    In a worker: stop gracefully when the supervisor is gone (killed with
    SIGKILL, say), rather than serve on unsupervised.
    """

    log = Logger(namespace="txpush.workers")

    def __init__(self, reactor: Any) -> None:
        """
        @param reactor: The reactor to stop.
        """
        self._workerReactor = reactor
        self._lifeline = _Lifeline(self._supervisorGone)

    def startService(self) -> None:
        """
        Watch standard input, and leave the process group: a terminal's
        SIGINT goes to the supervisor, which stops each worker once.
        """
        super().startService()
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        self._workerReactor.addReader(self._lifeline)

    def stopService(self) -> None:
        """
        Stop watching it.
        """
        super().stopService()
        self._workerReactor.removeReader(self._lifeline)

    def _supervisorGone(self) -> None:
        if not self.running:
            return
        self.log.warn("The supervisor is gone: stopping")
        with contextlib.suppress(ReactorNotRunning):
            self._workerReactor.stop()


def _describeExit(reason: Failure) -> str:
    status = reason.value
    signalNumber = getattr(status, "signal", None)
    if signalNumber is not None:
        try:
            name = Signals(signalNumber).name
        except ValueError:
            name = "?"
        return f"killed by signal {signalNumber} ({name})"
    return f"exit status {getattr(status, 'exitCode', 0) or 0}"


class _WorkerProtocol(ProcessProtocol):
    # One worker process: its output relayed line by line, prefixed.

    def __init__(self, supervisor: WorkerSupervisor, index: int) -> None:
        self.supervisor = supervisor
        self.index = index
        self.pid = 0
        self.started = 0.0
        self._partial = {1: b"", 2: b""}

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        lines = (self._partial.get(childFD, b"") + data).split(b"\n")
        self._partial[childFD] = lines.pop()
        for line in lines:
            self.supervisor.relay(childFD, self.index, line)

    def childConnectionLost(self, childFD: int) -> None:
        rest = self._partial.pop(childFD, b"")
        if rest:
            self.supervisor.relay(childFD, self.index, rest)

    def processExited(self, reason: Failure) -> None:
        self.supervisor.workerExited(self, reason)

    def send(self, name: str) -> None:
        with contextlib.suppress(ProcessExitedAlready):
            if self.transport is not None:
                self.transport.signalProcess(name)


class WorkerSupervisor(Service):
    """
    Runs the workers of C{--workers N}, each C{twist txpush} again on the
    supervisor's sockets; replaces one that dies; on stop (SIGINT, SIGTERM)
    stops them all gracefully and waits for them.

    @ivar ports: The listening sockets, in C{--listen} order.
    @ivar count: How many workers to run.
    @ivar command: The workers' command line.
    @ivar gracePeriod: The workers' C{--grace-period}.
    @ivar exitStatus: The status to exit with after the reactor stops, when
        it is not 0.
    @cvar crashLimit: How many quick deaths stop the supervisor.
    @cvar crashWindow: A death within this many seconds of the worker's
        start is quick; that many quick deaths within as many seconds stop
        the supervisor rather than restart workers in a loop.
    @cvar killMargin: Seconds past the grace period after which a worker
        that has not stopped is killed.
    """

    log = Logger(namespace="txpush.workers")
    crashLimit = 5
    crashWindow = 10.0
    killMargin = 5.0

    def __init__(
        self,
        reactor: Any,
        ports: Sequence[BoundPort],
        count: int,
        command: Sequence[str],
        gracePeriod: float,
        streams: dict[int, TextIO] | None = None,
    ) -> None:
        """
        @param reactor: The reactor.
        @param ports: The listening sockets, in C{--listen} order.
        @param count: How many workers to run.
        @param command: The workers' command line, its executable first.
        @param gracePeriod: The workers' C{--grace-period}.
        @param streams: Where the workers' standard output and error go,
            by descriptor (1, 2); this process's by default.
        """
        self.reactor = reactor
        self.ports = list(ports)
        self.count = count
        self.command = tuple(command)
        self.gracePeriod = gracePeriod
        self.exitStatus = 0
        self._streams = streams
        self._workers: dict[int, _WorkerProtocol] = {}
        self._quickDeaths: deque[float] = deque()
        self._stopping = False
        self._signalled = False
        self._stopped: Deferred[None] | None = None
        self._killCall: Any = None

    @property
    def pids(self) -> dict[int, int]:
        """
        The running workers' process ids, by index.
        """
        return {index: worker.pid for index, worker in self._workers.items()}

    def startService(self) -> None:
        """
        Make SIGINT and SIGTERM stop every worker gracefully, and start them.
        """
        super().startService()

        def stop(signalNumber: int, frame: object) -> None:
            if self._signalled:
                return
            self._signalled = True
            self.log.info("Stopping on signal {signal}", signal=signalNumber)
            self.reactor.callFromThread(self._stopReactor)

        def install() -> None:
            signal(SIGINT, stop)
            signal(SIGTERM, stop)

        self.reactor.callWhenRunning(install)
        for index in range(1, self.count + 1):
            self._startWorker(index)

    def _startWorker(self, index: int, replacing: int | None = None) -> None:
        if self._stopping:
            return
        worker = _WorkerProtocol(self, index)
        descriptors = range(FIRST_DESCRIPTOR, FIRST_DESCRIPTOR + len(self.ports))
        childFDs: dict[int, int | str] = {0: "w", 1: "r", 2: "r"}
        for descriptor, port in zip(descriptors, self.ports, strict=True):
            childFDs[descriptor] = port.fileno()
        environment = {
            **os.environ,
            WORKER_VARIABLE: f"{index}:{','.join(map(str, descriptors))}",
        }
        worker.started = self.reactor.seconds()
        try:
            process = self.reactor.spawnProcess(
                worker,
                self.command[0],
                self.command,
                env=environment,
                childFDs=childFDs,
            )
        except OSError as e:
            how = f"cannot start: {e}"
            self.log.error("worker {index} {how}", index=index, how=how)
            if self._died(index, worker.started, how):
                self.reactor.callLater(1.0, self._startWorker, index, replacing)
            return
        worker.pid = process.pid
        self._workers[index] = worker
        if replacing is None:
            self.log.info(
                "worker {index} (pid {pid}) started", index=index, pid=worker.pid
            )
        else:
            self.log.info(
                "worker {index} (pid {pid}) started, replacing pid {old}",
                index=index,
                pid=worker.pid,
                old=replacing,
            )

    def relay(self, childFD: int, index: int, line: bytes) -> None:
        """
        Write a line of a worker's output to this process's, prefixed with
        C{worker INDEX: }; an event of twist's JSON log (C{--log-format
        json}, the default when the output is no terminal) gets a
        C{txpush_worker} field instead, so that the log stays JSON.

        @param childFD: The worker's descriptor: 1 or 2.
        @param index: The worker's index.
        @param line: The line, without its end.
        """
        # twist sends sys.stdout to the log: the log file is the process's
        # own standard output, which the workers' lines go to beside it.
        streams = self._streams or {
            1: sys.__stdout__ or sys.stdout,
            2: sys.__stderr__ or sys.stderr,
        }
        stream = streams.get(childFD, streams[2])
        text = line.decode("utf-8", "replace")
        if text.startswith("\x1e{") and text[2:3] not in ("}", ""):
            text = f'\x1e{{"txpush_worker": {index}, {text[2:]}'
        else:
            text = f"worker {index}: {text}"
        stream.write(text + "\n")
        stream.flush()

    def workerExited(self, worker: _WorkerProtocol, reason: Failure) -> None:
        """
        A worker exited: on stop, the last one ends the stop; otherwise it
        died, and another takes its index.

        @param worker: The worker.
        @param reason: How it exited.
        """
        if self._workers.get(worker.index) is worker:
            del self._workers[worker.index]
        how = _describeExit(reason)
        if self._stopping:
            self.log.info(
                "worker {index} (pid {pid}) stopped: {how}",
                index=worker.index,
                pid=worker.pid,
                how=how,
            )
            self._maybeStopped()
            return
        self.log.warn(
            "worker {index} (pid {pid}) died: {how}",
            index=worker.index,
            pid=worker.pid,
            how=how,
        )
        if self._died(worker.index, worker.started, how):
            self._startWorker(worker.index, replacing=worker.pid)

    def _died(self, index: int, started: float, how: str) -> bool:
        # Whether to replace the worker: not on stop, nor when workers die
        # as soon as they start, again and again.
        if self._stopping:
            return False
        now = self.reactor.seconds()
        if now - started < self.crashWindow:
            self._quickDeaths.append(now)
        while self._quickDeaths and self._quickDeaths[0] < now - self.crashWindow:
            self._quickDeaths.popleft()
        if len(self._quickDeaths) < self.crashLimit:
            return True
        self.log.error(
            "{deaths} workers died within {window:g} seconds of starting (the "
            "last, worker {index}: {how}): stopping rather than restarting "
            "them in a loop; their log lines above say why",
            deaths=len(self._quickDeaths),
            window=self.crashWindow,
            index=index,
            how=how,
        )
        self.exitStatus = EX_SOFTWARE
        self.reactor.addSystemEventTrigger("after", "shutdown", self._exit)
        self._signalled = True
        self._stopReactor()
        return False

    def _stopReactor(self) -> None:
        with contextlib.suppress(ReactorNotRunning):
            self.reactor.stop()

    def _exit(self) -> None:
        # twist exits 0 once the reactor stops; a crash loop is a failure.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(self.exitStatus)

    def stopService(self) -> Deferred[None]:
        """
        Close the sockets (connections are refused once every worker stopped
        listening too), send each worker SIGTERM, and kill those still
        running after their grace period and L{killMargin} seconds.

        @return: Fires once every worker exited.
        """
        super().stopService()
        self._stopping = True
        for port in self.ports:
            port.stopListening()
        if not self._workers:
            return succeed(None)
        self.log.info(
            "Stopping {count} workers: their open streams have {grace:g} seconds "
            "to finish",
            count=len(self._workers),
            grace=self.gracePeriod,
        )
        self._stopped = Deferred()
        for worker in self._workers.values():
            worker.send("TERM")
        self._killCall = self.reactor.callLater(
            self.gracePeriod + self.killMargin, self._kill
        )
        return self._stopped

    def _kill(self) -> None:
        self._killCall = None
        for worker in self._workers.values():
            self.log.warn(
                "worker {index} (pid {pid}) still runs {seconds:g} seconds after "
                "SIGTERM: killing it",
                index=worker.index,
                pid=worker.pid,
                seconds=self.gracePeriod + self.killMargin,
            )
            worker.send("KILL")

    def _maybeStopped(self) -> None:
        if self._workers or self._stopped is None:
            return
        if self._killCall is not None:
            self._killCall.cancel()
            self._killCall = None
        stopped, self._stopped = self._stopped, None
        stopped.callback(None)
