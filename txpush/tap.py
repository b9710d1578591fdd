"""
C{twist txpush}: serve a directory, a WSGI application, a resource script
or a resource class over HTTPS and HTTP/2 with cache-aware push and Early
Hints.  The command line is L{txpush.commandline}'s; this module builds the
service from it.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.application.service import MultiService, Service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from twisted.web.resource import IResource

from txpush._twisted.informational import HintingConnectionPool
from txpush.accesslog import pushLogFormatter
from txpush.commandline import (
    DEFAULT_PORT,
    DEMO_MANIFEST,
    DEMO_SITE,
    EX_UNAVAILABLE,
    EX_USAGE,
    MAX_COOKIE_AGE,
    Options,
    ServeSettings,
    _endpointEscape,
    defaultStateDirectory,
)
from txpush.devcert import ensureDevelopmentCertificate
from txpush.learning import AssetLearner, LearnFileError
from txpush.manifest import Manifest, ManifestError, loadManifest
from txpush.mounts import AddedHeaders, MountedResources, prefixSegments
from txpush.proxy import ReverseProxyResource, newConnectionPool
from txpush.resource import CacheAwarePushResource
from txpush.roots import (
    RootError,
    classRoot,
    fileRoot,
    namedCallable,
    scriptRoot,
    userRoot,
    wsgiRoot,
)
from txpush.site import PushSite
from txpush.staticfiles import ValidatedFile
from txpush.workers import (
    BoundPort,
    SupervisorLifeline,
    WorkerSupervisor,
    planProcess,
)

__all__ = [
    "DEFAULT_PORT",
    "DEMO_MANIFEST",
    "DEMO_SITE",
    "EX_UNAVAILABLE",
    "EX_USAGE",
    "MAX_COOKIE_AGE",
    "Options",
    "ServeSettings",
    "defaultStateDirectory",
    "makeService",
    "serviceFromSettings",
]


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text and text[0] else type(error).__name__


def loadSiteManifest(settings: ServeSettings) -> Manifest | None:
    """
    @param settings: The settings.
    @return: Their manifest, loaded and checked; when the root is a
        directory (the demo's or C{--path}), every page and asset must name
        what it serves.  Other roots' paths are the application's to answer.
    @raise usage.UsageError: It cannot be read or is wrong; the message names
        the file, the line and what to do.
    """
    if settings.manifest is None:
        return None
    siteRoot = _siteDirectory(settings)
    try:
        return loadManifest(
            settings.manifest, siteRoot=siteRoot, requireFiles=siteRoot is not None
        )
    except ManifestError as e:
        raise usage.UsageError(f"--push-manifest: {e}") from None


def _siteDirectory(settings: ServeSettings) -> Path | None:
    # The directory of the root, when it is one.
    if settings.site is not None:
        return settings.site if settings.site.is_dir() else None
    if settings.servesDemo:
        return DEMO_SITE
    return None


def developmentCertificateArguments(settings: ServeSettings) -> tuple[Path, str]:
    """
    Make (or find) the development certificate.

    @param settings: The settings.
    @return: The certificate's path, and the endpoint arguments naming it.
    @raise usage.UsageError: The state directory cannot keep it.
    """
    directory = settings.stateDirectory
    try:
        certificate, key = ensureDevelopmentCertificate(directory)
    except OSError as e:
        raise usage.UsageError(
            f"--state-dir {directory}: cannot keep the development "
            f"certificate there ({_describe(e)}): give a writable directory"
        ) from None
    arguments = (
        f"privateKey={_endpointEscape(str(key))}:"
        f"certKey={_endpointEscape(str(certificate))}"
    )
    return certificate, arguments


DEFAULT_BACKLOG = 1024
"""
The listen backlog of an endpoint whose description gives none (Twisted's
is 50): a burst of new connections beyond the backlog has its SYNs dropped,
and its clients wait seconds to retry.
"""

_STREAM_ENDPOINTS = ("tcp:", "tcp6:", "ssl:", "unix:")


def parseEndpoints(
    settings: ServeSettings, reactor: Any
) -> tuple[list[tuple[str, IStreamServerEndpoint]], Path | None]:
    """
    @param settings: The settings.
    @param reactor: The reactor the endpoints listen with.
    @return: Each endpoint description with its endpoint, and the
        development certificate, if an C{ssl:} endpoint names none.
    @raise usage.UsageError: A description is not an endpoint that loads.
    """
    certificate = None
    parsed = []
    for description in settings.listen:
        full = description
        if description.startswith(_STREAM_ENDPOINTS) and "backlog=" not in description:
            full += f":backlog={DEFAULT_BACKLOG}"
        if description.startswith("ssl:") and "privateKey=" not in description:
            certificate, arguments = developmentCertificateArguments(settings)
            full += ":" + arguments
        try:
            endpoint = endpoints.serverFromString(reactor, full)
        except Exception as e:
            raise usage.UsageError(
                f"--listen {description}: {_describe(e)}: give a Twisted "
                "endpoint such as ssl:8443 or tcp:8080, with privateKey= "
                "and certKey= naming PEM files that load"
            ) from None
        parsed.append((description, endpoint))
    return parsed, certificate


class ListeningService(Service):
    """
    Listens on endpoints at once (so that a port in use is an error before
    the server starts), and on stop closes the ports, then the site's HTTP/2
    connections gracefully.

    @ivar site: The site the ports serve.
    @ivar ports: Endpoint descriptions and the ports listening on them.
    @ivar gracePeriod: Seconds open streams may take to finish on stop.
    @ivar afterStop: Called once every connection is closed (the WSGI
        thread pool's stop: no request runs in it any more).
    """

    log = Logger()

    def __init__(
        self,
        site: PushSite,
        ports: list[tuple[str, IListeningPort]],
        gracePeriod: float,
        afterStop: tuple[Callable[[], None], ...] = (),
    ) -> None:
        """
        @param site: The site the ports serve.
        @param ports: Endpoint descriptions and the ports listening on them.
        @param gracePeriod: Seconds open streams may take to finish on stop.
        @param afterStop: Called once every connection is closed.
        """
        self.site = site
        self.ports = ports
        self.gracePeriod = gracePeriod
        self.afterStop = afterStop

    def startService(self) -> None:
        """
        Make SIGINT and SIGTERM stop the server gracefully, with exit status
        0: a requested stop is not a failure.
        """
        super().startService()
        from twisted.internet import reactor as globalReactor

        reactor: Any = globalReactor

        def stop(signalNumber: int, frame: object) -> None:
            self.log.info("Stopping on signal {signal}", signal=signalNumber)
            reactor.callFromThread(reactor.stop)

        def install() -> None:
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)

        reactor.callWhenRunning(install)

    def stopService(self) -> Deferred[None]:
        """
        Stop listening, then let open HTTP/2 streams finish.

        @return: Fires when every connection is closed.
        """
        super().stopService()
        stopped = gatherResults(
            [maybeDeferred(port.stopListening) for _, port in self.ports]
        )
        closed = stopped.addCallback(lambda _: self.site.shutDown(self.gracePeriod))

        def stopTheRest(result: object) -> object:
            for stop in self.afterStop:
                stop()
            return result

        return closed.addBoth(stopTheRest)


class LearnFileService(Service):
    """
    Writes what is learned to a file every L{interval} seconds and at stop.

    @ivar learner: The learner to save.
    @ivar path: The file.
    @cvar interval: Seconds between two writes.
    """

    log = Logger()
    interval = 30.0

    def __init__(self, learner: AssetLearner, path: Path) -> None:
        """
        @param learner: The learner to save.
        @param path: The file.
        """
        self.learner = learner
        self.path = path
        self._loop = LoopingCall(self.save)

    def save(self) -> None:
        """
        Write the file; a failure is logged, and serving goes on.
        """
        try:
            self.learner.save(self.path)
        except OSError as e:
            self.log.error(
                "--learn-file {file}: cannot write it: {error}",
                file=str(self.path),
                error=str(e),
            )

    def startService(self) -> None:
        """
        Save periodically.
        """
        super().startService()
        self._loop.start(self.interval, now=False)

    def stopService(self) -> None:
        """
        Save one last time.
        """
        super().stopService()
        if self._loop.running:
            self._loop.stop()
        self.save()


def listenNow(
    site: PushSite, parsed: list[tuple[str, IStreamServerEndpoint]]
) -> list[tuple[str, IListeningPort]]:
    """
    Listen on each endpoint now, before the reactor runs.

    @param site: The site to serve.
    @param parsed: Endpoint descriptions and endpoints.
    @return: The descriptions and their listening ports.
    @raise SystemExit: An endpoint cannot listen (a port in use, a
        privileged port): the process ends with a one-line message.
    """
    ports: list[tuple[str, IListeningPort]] = []
    for description, endpoint in parsed:
        outcome: list[Any] = []
        endpoint.listen(site).addBoth(outcome.append)
        if not outcome or isinstance(outcome[0], Failure):
            reason = _describe(outcome[0].value) if outcome else "did not listen"
            for _, port in ports:
                port.stopListening()
            sys.stderr.write(
                f"twist txpush: --listen {description}: cannot listen: {reason}: "
                "stop what uses the port or pick another\n"
            )
            raise SystemExit(EX_UNAVAILABLE)
        ports.append((description, outcome[0]))
    return ports


def _url(description: str, port: IListeningPort) -> str:
    number = getattr(port.getHost(), "port", 0)
    if description.startswith("ssl:"):
        return f"https://localhost:{number}/"
    return (
        f"http://127.0.0.1:{number}/ "
        "(cleartext: HTTP/1.1, or HTTP/2 with prior knowledge)"
    )


def _warnAboutTheSite(log: Logger, settings: ServeSettings) -> None:
    # Mistakes that serve, but not what the operator likely meant.
    site = settings.site
    assert site is not None
    if not site.is_dir():
        return
    indexNames = settings.indexNames or ValidatedFile.indexNames
    if not any((site / name).is_file() for name in indexNames):
        log.warn(
            "--path {site} has no index.html: / shows a directory listing; add "
            "an index.html for a page there (every directory without one is "
            "listed, as twist web lists them)",
            site=str(site),
        )
    if settings.manifest is None and not settings.learn:
        log.warn(
            "No --push-manifest and no --learn: no page of {site} has assets to "
            "push or hint (static files set no Link: rel=preload headers); name "
            "them with --push-manifest FILE, or learn them with --learn",
            site=str(site),
        )


def buildRoot(
    settings: ServeSettings,
    reactor: Any,
    pool: ThreadPool | None,
    backendPool: HintingConnectionPool | None = None,
) -> IResource:
    """
    Make the resource tree the settings name, before the cache-aware
    resource wraps it: the root (the demo site, C{--path}, C{--wsgi},
    C{--resource-script}, C{--class}, C{--user} or C{--proxy URL}), the
    C{--static} directories and C{--proxy PREFIX=URL} backends beside it,
    and the C{--add-header} headers around them all.

    @param settings: The settings.
    @param reactor: The reactor a WSGI application answers on.
    @param pool: The thread pool a WSGI application runs in.
    @param backendPool: The connection pool of the C{--proxy} backends.
    @return: The resource tree.
    @raise usage.UsageError: The root cannot be made; the message names the
        option and what to do.
    """

    def proxyTo(backend: bytes) -> ReverseProxyResource:
        assert backendPool is not None
        return ReverseProxyResource(
            backend,
            reactor,
            backendPool,
            settings.forwarding,
            settings.proxyTimeout,
            earlyHints=settings.earlyHints,
        )

    if settings.proxy is not None:
        root: IResource = proxyTo(settings.proxy)
    else:
        try:
            root = _root(settings, reactor, pool)
        except RootError as e:
            raise usage.UsageError(f"{_rootOption(settings)}: {e}") from None
    mounts: dict[tuple[bytes, ...], IResource] = {
        prefixSegments(prefix): ValidatedFile(
            str(directory), cacheControl=settings.cacheControl
        )
        for prefix, directory in settings.static
    }
    for prefix, backend in settings.proxyMounts:
        mounts[prefixSegments(prefix)] = proxyTo(backend)
    if mounts:
        root = MountedResources(root, mounts)
    if settings.addedHeaders:
        root = AddedHeaders(root, settings.addedHeaders)
    return root


def _rootOption(settings: ServeSettings) -> str:
    for option, value in (
        ("--wsgi", settings.wsgi),
        ("--resource-script", settings.resourceScript),
        ("--class", settings.rootClass),
    ):
        if value is not None:
            return f"{option} {value}"
    return f"--path {settings.site}"


def _root(settings: ServeSettings, reactor: Any, pool: ThreadPool | None) -> IResource:
    if settings.wsgi is not None:
        assert pool is not None
        return wsgiRoot(reactor, pool, settings.wsgi)
    if settings.resourceScript is not None:
        return scriptRoot(settings.resourceScript)
    if settings.rootClass is not None:
        return classRoot(settings.rootClass)
    if settings.userDirectories:
        return userRoot(settings.cacheControl)
    processors = {}
    for extension, className in settings.processors:
        try:
            processors[extension] = namedCallable(className)
        except RootError as e:
            raise usage.UsageError(
                f"--processor {extension}={className}: {e}"
            ) from None
    return fileRoot(
        settings.site or DEMO_SITE,
        cacheControl=settings.cacheControl,
        indexNames=settings.indexNames,
        defaultType=settings.mimeType,
        ignoredExtensions=settings.ignoredExtensions,
        processors=processors,
    )


def makeService(options: Options) -> MultiService:
    """
    Build the C{twist txpush} service from its options.

    @param options: The parsed L{Options}.
    @return: The service; its ports are already listening.
    @raise SystemExit: A file the options name is wrong (a manifest, a
        certificate, the state directory), or a port cannot be listened on:
        the process ends with a one-line message.
    """
    try:
        return serviceFromSettings(options["settings"])
    except usage.UsageError as e:
        sys.stderr.write(f"twist txpush: {e} (see twist txpush --help)\n")
        raise SystemExit(EX_USAGE) from None


def serviceFromSettings(settings: ServeSettings) -> MultiService:
    """
    Build the C{twist txpush} service.

    @param settings: What to serve and how.
    @return: The service; its ports are already listening.  With
        C{--workers N}, the supervisor of N workers, which the sockets are
        bound for; in one of them (L{txpush.workers}), the server on the
        sockets it inherited.
    @raise usage.UsageError: A file the settings name is wrong.
    @raise SystemExit: A port cannot be listened on.
    """
    from twisted.internet import reactor

    log = Logger(namespace="txpush")
    plan = planProcess(settings, reactor)
    settings = plan.settings
    config = settings.pushConfig(loadSiteManifest(settings))
    parsed, certificate = parseEndpoints(settings, plan.listeningReactor)
    learner = None
    if config.learning is not None and settings.learnFile is not None:
        try:
            learner = AssetLearner.load(settings.learnFile, config.learning)
        except LearnFileError as e:
            log.warn(
                "--learn-file {file}: learning starts empty: {error}",
                file=str(settings.learnFile),
                error=str(e),
            )
    pool = None
    if settings.wsgi is not None:
        # ThreadPool keeps 5 threads at least unless told a smaller minimum.
        pool = ThreadPool(
            minthreads=min(5, settings.wsgiThreads),
            maxthreads=settings.wsgiThreads,
            name="txpush-wsgi",
        )
    backendPool = None
    if settings.proxy is not None or settings.proxyMounts:
        backendPool = newConnectionPool(reactor)
    root = buildRoot(settings, reactor, pool, backendPool)
    resource = CacheAwarePushResource(root, config, learner)
    resource.logsPages = settings.logPageDecisions
    site = PushSite(
        resource,
        logPath=settings.accessLog,
        logFormatter=pushLogFormatter,
        timeout=settings.idleTimeout,
        handshakeTimeout=settings.handshakeTimeout,
        maxBufferedBytes=settings.connectionBuffer,
    )
    site.displayTracebacks = settings.displayTracebacks
    ports = listenNow(site, parsed)
    service = MultiService()
    if plan.workerCommand is not None:
        log.info(
            "Serving {site} with cache-aware push with {workers} workers: open {urls}",
            site=settings.rootDescription(),
            workers=settings.workers,
            urls=", ".join(_url(d, p) for d, p in ports),
        )
        bound = [port for _, port in ports if isinstance(port, BoundPort)]
        WorkerSupervisor(
            reactor, bound, settings.workers, plan.workerCommand, settings.gracePeriod
        ).setServiceParent(service)
        return service
    afterStop: tuple[Callable[[], None], ...] = ()
    if pool is not None:
        reactor.callWhenRunning(pool.start)
        afterStop += (pool.stop,)
    if backendPool is not None:
        afterStop += (backendPool.closeCachedConnections,)
    ListeningService(site, ports, settings.gracePeriod, afterStop).setServiceParent(
        service
    )
    if resource.learner is not None and settings.learnFile is not None:
        LearnFileService(resource.learner, settings.learnFile).setServiceParent(service)
    if plan.isWorker:
        SupervisorLifeline(reactor).setServiceParent(service)
    if certificate is not None:
        log.info(
            "Development certificate for localhost: {certificate}",
            certificate=str(certificate),
        )
    if settings.site is not None:
        _warnAboutTheSite(log, settings)
    log.info(
        "Serving {site} with cache-aware push: open {urls}",
        site=settings.rootDescription(),
        urls=", ".join(_url(d, p) for d, p in ports),
    )
    return service
