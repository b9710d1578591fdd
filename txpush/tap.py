"""
C{twist txpush}: serve a directory over HTTPS and HTTP/2 with cache-aware
push and Early Hints.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import attrs
from twisted.application.service import MultiService, Service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from txpush.accesslog import pushLogFormatter
from txpush.config import PushConfig
from txpush.devcert import ensureDevelopmentCertificate
from txpush.digest import DEFAULT_CAPACITY_BITS, DEFAULT_COOKIE_NAME, DEFAULT_MAX_AGE
from txpush.failedassets import DEFAULT_RETRY_AFTER
from txpush.learning import AssetLearner, LearnFileError, LearningConfig
from txpush.linkhints import LinkHintConfig
from txpush.manifest import Manifest, ManifestError, loadManifest
from txpush.policy import DEFAULT_MAX_PUSHES, DEFAULT_TRACK, TRACKED_TYPES
from txpush.resource import CacheAwarePushResource
from txpush.site import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BUFFERED_BYTES,
    PushSite,
)
from txpush.staticfiles import CacheControl, ValidatedFile

DEMO_SITE = Path(__file__).parent / "demo"
"""The embedded demo site, served when no C{--path} is given."""

DEMO_MANIFEST = DEMO_SITE / "push-manifest.json"
"""The demo site's push manifest."""

DEFAULT_PORT = 8443
"""The HTTPS port served when no C{--listen} is given."""

MAX_COOKIE_AGE = 400 * 24 * 3600
"""The longest C{Max-Age} browsers keep a cookie for (RFC 6265bis)."""

EX_USAGE = 64
"""Exit status for a wrong command line or a file it names (sysexits.h)."""

EX_UNAVAILABLE = 69
"""Exit status for a port that cannot be listened on (sysexits.h)."""


def defaultStateDirectory() -> Path:
    """
    @return: Where the development certificate is kept by default:
        C{$XDG_STATE_HOME/txpush}, or C{~/.local/state/txpush}.
    """
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "txpush"


def _wholeNumber(option: str, value: str, low: int, high: int, hint: str) -> int:
    return int(_inRange(option, value, int, low, high, "a whole number", hint))


def _seconds(option: str, value: str, low: float, high: float) -> float:
    return _inRange(option, value, float, low, high, "a number of seconds", "")


def _inRange(
    option: str,
    value: str,
    parse: Callable[[str], float],
    low: float,
    high: float,
    kind: str,
    hint: str,
) -> float:
    # NaN fails the range check, as it should.
    try:
        number = parse(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise usage.UsageError(
            f"--{option} {value}: give {kind} from {_plain(low)} to "
            f"{_plain(high)}{hint}"
        )
    return number


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"


@attrs.frozen
class ServeSettings:
    """
    What C{twist txpush} was asked to do: its command line, parsed and
    checked, from which L{makeService} builds the service.

    @ivar site: The directory to serve, or L{None} for the demo site.
    @ivar manifest: The push manifest to load, or L{None} for none.
    @ivar listen: The endpoint descriptions to listen on.
    @ivar stateDirectory: Where the development certificate is kept.
    @ivar push: Push to clients that take pushes.
    @ivar useDigest: Keep the digest cookie.
    @ivar earlyHints: Send C{103 Early Hints}.
    @ivar linkPreload: Read and add C{Link: rel=preload} headers.
    @ivar linkHints: Hint each page's earlier Link headers before it answers.
    @ivar preconnect: Hint preconnects to the other sites its links name.
    @ivar cookieName: The digest cookie's name.
    @ivar capacityBits: The digest's capacity.
    @ivar track: Which fetched assets the digest records.
    @ivar maxPushes: The most assets pushed for one page.
    @ivar learn: Learn pages' assets from the traffic.
    @ivar learnFile: Where learning is kept, or L{None}.
    @ivar accessLog: The access log file, or L{None} for the twist log.
    @ivar gracePeriod: Seconds open streams may take to finish on stop.
    @ivar handshakeTimeout: Seconds a client has to finish its handshake.
    @ivar idleTimeout: Seconds after which a client that neither sends nor
        reads is closed.
    @ivar connectionBuffer: The cap on response bytes buffered for one
        HTTP/2 client.
    @ivar cacheControl: The C{Cache-Control} of the served files.
    @ivar digestMaxAge: The digest cookie's C{Max-Age}, in seconds.
    @ivar failedAssetRetry: Seconds an asset whose push answered 400 or more
        is left out of its page.
    """

    site: Path | None = None
    manifest: Path | None = DEMO_MANIFEST
    listen: tuple[str, ...] = (f"ssl:{DEFAULT_PORT}",)
    stateDirectory: Path = attrs.field(factory=defaultStateDirectory)
    push: bool = True
    useDigest: bool = True
    earlyHints: bool = True
    linkPreload: bool = True
    linkHints: bool = True
    preconnect: bool = True
    cookieName: bytes = DEFAULT_COOKIE_NAME
    capacityBits: int = DEFAULT_CAPACITY_BITS
    track: str = DEFAULT_TRACK
    maxPushes: int = DEFAULT_MAX_PUSHES
    learn: bool = False
    learnFile: Path | None = None
    accessLog: Path | None = None
    gracePeriod: float = DEFAULT_GRACE_PERIOD
    handshakeTimeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    idleTimeout: float = DEFAULT_IDLE_TIMEOUT
    connectionBuffer: int = DEFAULT_MAX_BUFFERED_BYTES
    cacheControl: CacheControl = attrs.field(factory=CacheControl)
    digestMaxAge: int = DEFAULT_MAX_AGE
    failedAssetRetry: float = DEFAULT_RETRY_AFTER

    def pushConfig(self, manifest: Manifest | None) -> PushConfig:
        """
        @param manifest: The loaded manifest, if any.
        @return: The resource's configuration.
        @raise ValueError: The cookie name is not a token.
        """
        return PushConfig(
            manifest=manifest,
            push=self.push,
            maxPushes=self.maxPushes,
            useDigest=self.useDigest,
            cookieName=self.cookieName,
            capacityBits=self.capacityBits,
            cookieMaxAge=self.digestMaxAge,
            track=self.track,
            earlyHints=self.earlyHints,
            readLinkHeaders=self.linkPreload,
            addLinkHeaders=self.linkPreload,
            linkHints=LinkHintConfig() if self.linkHints else None,
            preconnect=self.preconnect,
            learning=LearningConfig() if self.learn else None,
            failedAssetRetry=self.failedAssetRetry,
        )


class Options(usage.Options):
    """
    The options of C{twist txpush}: parsed and checked into
    C{self["settings"]}, a L{ServeSettings}; nothing is read, written or
    listened on until L{makeService}.
    """

    synopsis = "[txpush options]"
    longdesc = """\
Serve a directory over HTTPS and HTTP/2 with cache-aware server push for
clients that take pushes, and 103 Early Hints and Link preload headers for
browsers. With no options, serve the embedded demo site on
https://localhost:8443/ with a development certificate made on first run."""

    optParameters: ClassVar[list[list[Any]]] = [
        ["path", None, None, "The directory to serve. [default: the demo site]"],
        [
            "push-manifest",
            None,
            None,
            'A JSON file mapping pages to their assets: {"/index.html": '
            '["/style.css", "/app.js"]}. [default: the demo\'s, with no --path]',
        ],
        [
            "state-dir",
            None,
            None,
            "Where the development certificate is kept. "
            "[default: $XDG_STATE_HOME/txpush or ~/.local/state/txpush]",
        ],
        [
            "digest-cookie",
            None,
            DEFAULT_COOKIE_NAME.decode(),
            "The name of the cache digest cookie (H2O's by default).",
        ],
        [
            "digest-max-age",
            None,
            str(DEFAULT_MAX_AGE),
            "The digest cookie's Max-Age in seconds (30 days by default): "
            "no longer than browsers keep the assets it records.",
        ],
        [
            "capacity-bits",
            None,
            str(DEFAULT_CAPACITY_BITS),
            "The digest's capacity, 1 to 15 bits; 13 holds about 100 assets "
            "at a 1% false-positive rate.",
        ],
        [
            "track",
            None,
            DEFAULT_TRACK,
            "Which assets the client fetches itself the digest records: all, "
            "or blocking-assets (stylesheets and scripts, as H2O). Pushed "
            "assets are recorded whatever their type.",
        ],
        [
            "max-pushes",
            None,
            str(DEFAULT_MAX_PUSHES),
            "The most assets pushed for one page.",
        ],
        [
            "failed-asset-retry",
            None,
            f"{DEFAULT_RETRY_AFTER:g}",
            "Seconds an asset whose push answered 400 or more (a mistyped "
            "path, a failing application) is neither pushed nor hinted for "
            "its page; its first failure is logged.",
        ],
        [
            "access-log",
            None,
            None,
            "Write the access log to this file, each line saying what push "
            "did (push=pushed, or push=page pushed=N cached=N hinted=N). "
            "[default: the twist log]",
        ],
        [
            "learn-file",
            None,
            None,
            "With --learn, keep what is learned in this JSON file: read at "
            "start, written every 30 seconds and at stop.",
        ],
        [
            "grace-period",
            None,
            str(DEFAULT_GRACE_PERIOD),
            "Seconds open HTTP/2 streams may take to finish on SIGINT or "
            "SIGTERM, after a GOAWAY.",
        ],
        [
            "handshake-timeout",
            None,
            f"{DEFAULT_HANDSHAKE_TIMEOUT:g}",
            "Seconds a client has, from connecting, to finish the TLS "
            "handshake and send the HTTP/2 preface and SETTINGS (or an "
            "HTTP/1.1 request's headers); then it is cut off.",
        ],
        [
            "idle-timeout",
            None,
            f"{DEFAULT_IDLE_TIMEOUT:g}",
            "Seconds after which a connection whose client neither sends nor "
            "reads is closed (a response the application is still making "
            "keeps it open).",
        ],
        [
            "connection-buffer",
            None,
            str(DEFAULT_MAX_BUFFERED_BYTES),
            "The most response bytes buffered for one HTTP/2 client that does "
            "not read; responses pause when it is reached.",
        ],
    ]

    optFlags: ClassVar[list[list[Any]]] = [
        ["no-push", None, "Push nothing: every client gets Early Hints instead."],
        [
            "no-digest",
            None,
            "Plain push: no digest cookie, every page pushes all its assets "
            "(once per connection).",
        ],
        ["no-early-hints", None, "Send no 103 Early Hints."],
        [
            "learn",
            None,
            "Learn each page's assets from the traffic (the assets browsers "
            "fetch for it), and push or hint them like the manifest's.",
        ],
        [
            "no-link-preload",
            None,
            "Neither push assets named by Link: rel=preload headers of the "
            "site's responses, nor add such headers.",
        ],
        [
            "no-link-hints",
            None,
            "Do not send a page's earlier Link: rel=preload headers as the "
            "103 Early Hints of its next requests.",
        ],
        [
            "no-preconnect",
            None,
            "Send no rel=preconnect hints for the other sites a page's links name.",
        ],
    ]

    compData = usage.Completions(
        optActions={
            "path": usage.CompleteDirs(),
            "push-manifest": usage.CompleteFiles("*.json"),
            "state-dir": usage.CompleteDirs(),
            "access-log": usage.CompleteFiles("*.log"),
            "learn-file": usage.CompleteFiles("*.json"),
            "track": usage.CompleteList(list(TRACKED_TYPES)),
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["cache-control"] = []

    def opt_listen(self, description: str) -> None:
        """
        Listen on a Twisted endpoint; repeat to listen on several.  ssl:PORT
        serves HTTPS (HTTP/2 with ALPN, and HTTP/1.1), with the development
        certificate unless privateKey= and certKey= name one.  tcp:PORT
        serves cleartext HTTP/2 with prior knowledge and HTTP/1.1.
        [default: ssl:8443]
        """
        self["listen"].append(description)

    def opt_cache_control(self, value: str) -> None:
        """
        The Cache-Control of the served files: VALUE for every type, or
        TYPE=VALUE for one (text/html=no-cache, image/*=max-age=86400);
        repeatable.  [default: no-cache, stored but revalidated on each use]
        """
        self["cache-control"].append(value)

    # usage.Options prints a docstring as written: fold it into one line.
    opt_listen.__doc__ = " ".join((opt_listen.__doc__ or "").split())
    opt_cache_control.__doc__ = " ".join((opt_cache_control.__doc__ or "").split())

    def parseOptions(self, options: Any = None) -> None:
        """
        Parse the command line; a mistake ends the process with a one-line
        message and exit status 64, not a traceback.

        @param options: The arguments, without the program and plugin names.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            sys.stderr.write(f"twist txpush: {e} (see twist txpush --help)\n")
            raise SystemExit(EX_USAGE) from None

    def postOptions(self) -> None:
        """
        Check every option and build C{self["settings"]}.

        @raise usage.UsageError: An option is wrong; the message names it and
            what to do.
        """
        capacityBits = _wholeNumber(
            "capacity-bits",
            self["capacity-bits"],
            1,
            15,
            " (13 holds about 100 assets at a 1% false-positive rate)",
        )
        maxPushes = _wholeNumber("max-pushes", self["max-pushes"], 0, 1000, "")
        gracePeriod = _seconds("grace-period", self["grace-period"], 0, 3600)
        handshakeTimeout = _seconds(
            "handshake-timeout", self["handshake-timeout"], 0.1, 3600
        )
        idleTimeout = _seconds("idle-timeout", self["idle-timeout"], 0.1, 86400)
        failedAssetRetry = _seconds(
            "failed-asset-retry", self["failed-asset-retry"], 0, 86400
        )
        connectionBuffer = _wholeNumber(
            "connection-buffer",
            self["connection-buffer"],
            16384,
            2**30,
            " (bytes)",
        )
        digestMaxAge = _wholeNumber(
            "digest-max-age",
            self["digest-max-age"],
            1,
            MAX_COOKIE_AGE,
            " (seconds; browsers keep a cookie at most 400 days)",
        )
        try:
            cacheControl = CacheControl.fromArguments(self["cache-control"])
        except ValueError as e:
            raise usage.UsageError(f"--cache-control {e}") from None
        for description in self["listen"]:
            problem = _listenProblem(description)
            if problem is not None:
                raise usage.UsageError(f"--listen {description}: {problem}")
        if self["track"] not in TRACKED_TYPES:
            raise usage.UsageError(
                f"--track {self['track']}: give one of {', '.join(TRACKED_TYPES)}"
            )
        settings = ServeSettings(
            site=self._sitePath(),
            manifest=self._manifestPath(),
            listen=tuple(self["listen"]) or (f"ssl:{DEFAULT_PORT}",),
            stateDirectory=(
                Path(self["state-dir"]).expanduser()
                if self["state-dir"]
                else defaultStateDirectory()
            ),
            push=not self["no-push"],
            useDigest=not self["no-digest"],
            earlyHints=not self["no-early-hints"],
            linkPreload=not self["no-link-preload"],
            linkHints=not self["no-link-hints"],
            preconnect=not self["no-preconnect"],
            cookieName=self["digest-cookie"].encode("ascii", "replace"),
            capacityBits=capacityBits,
            track=self["track"],
            maxPushes=maxPushes,
            learn=self["learn"],
            learnFile=self._learnFile(),
            accessLog=self._accessLog(),
            gracePeriod=gracePeriod,
            handshakeTimeout=handshakeTimeout,
            idleTimeout=idleTimeout,
            connectionBuffer=connectionBuffer,
            cacheControl=cacheControl,
            digestMaxAge=digestMaxAge,
            failedAssetRetry=failedAssetRetry,
        )
        try:
            settings.pushConfig(None)
        except ValueError as e:
            raise usage.UsageError(
                f"--digest-cookie {self['digest-cookie']}: {e}"
            ) from None
        self["settings"] = settings

    def _sitePath(self) -> Path | None:
        if self["path"] is None:
            return None
        path = Path(self["path"]).expanduser()
        if not path.is_dir():
            raise usage.UsageError(
                f"--path {path}: no such directory: give the directory to serve"
            )
        if not os.access(path, os.R_OK | os.X_OK):
            raise usage.UsageError(
                f"--path {path}: not readable by this user: fix its permissions"
            )
        return path.resolve()

    def _manifestPath(self) -> Path | None:
        if self["push-manifest"] is not None:
            return Path(self["push-manifest"]).expanduser()
        return DEMO_MANIFEST if self["path"] is None else None

    def _learnFile(self) -> Path | None:
        if self["learn-file"] is None:
            return None
        if not self["learn"]:
            raise usage.UsageError("--learn-file: give --learn too")
        return _fileToWrite("learn-file", self["learn-file"])

    def _accessLog(self) -> Path | None:
        if self["access-log"] is None:
            return None
        path = _fileToWrite("access-log", self["access-log"])
        if path.exists() and not os.access(path, os.W_OK):
            raise usage.UsageError(
                f"--access-log {path}: not writable by this user: fix its "
                "permissions or give another file"
            )
        return path


def _fileToWrite(option: str, value: str) -> Path:
    path = Path(value).expanduser().absolute()
    if path.is_dir() or not os.access(path.parent, os.W_OK):
        raise usage.UsageError(
            f"--{option} {path}: cannot write a file there: give a file in a "
            "writable directory"
        )
    return path


# The endpoint types whose port txpush checks, with an example of each.
_PORT_EXAMPLES = {"tcp": "tcp:8080", "tcp6": "tcp6:8080", "ssl": "ssl:8443"}


def _endpointFields(description: str) -> list[str]:
    # Split at the colons that endpoint strings do not escape with "\".
    fields, current, characters = [], "", iter(description)
    for character in characters:
        if character == "\\":
            current += next(characters, "")
        elif character == ":":
            fields.append(current)
            current = ""
        else:
            current += character
    return [*fields, current]


def _listenProblem(description: str) -> str | None:
    """
    Say what is wrong with the port of a C{--listen} description, when it
    is a C{tcp:}, C{tcp6:} or C{ssl:} endpoint (behind C{haproxy:} or not);
    Twisted's own messages would say C{invalid literal for int()}, or that
    the port cannot be listened on.
    """
    kind, *fields = _endpointFields(description)
    if kind == "haproxy" and fields:
        kind, *fields = fields
    example = _PORT_EXAMPLES.get(kind)
    if example is None:
        return None
    positional = [field for field in fields if "=" not in field]
    named = [field[5:] for field in fields if field.startswith("port=")]
    port = (named or positional or [""])[0]
    hint = f"give a port from 1 to 65535 (0 for any free one), such as {example}"
    if not port:
        return f"names no port: {hint}"
    if not (port.isascii() and port.isdigit()):
        return f"{port!r} is not a port number: {hint}"
    if int(port) > 65535:
        return f"port {port} is out of range: {hint}"
    return None


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text and text[0] else type(error).__name__


def _endpointEscape(value: str) -> str:
    # Endpoint strings separate arguments with ":" and escape with "\\".
    return value.replace("\\", "\\\\").replace(":", "\\:")


def loadSiteManifest(settings: ServeSettings) -> Manifest | None:
    """
    @param settings: The settings.
    @return: Their manifest, loaded and checked against the site: every page
        and asset must name what the site serves.
    @raise usage.UsageError: It cannot be read or is wrong; the message names
        the file, the line and what to do.
    """
    if settings.manifest is None:
        return None
    try:
        return loadManifest(
            settings.manifest, siteRoot=settings.site or DEMO_SITE, requireFiles=True
        )
    except ManifestError as e:
        raise usage.UsageError(f"--push-manifest: {e}") from None


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
        if description.startswith("ssl:") and "privateKey=" not in description:
            certificate, arguments = developmentCertificateArguments(settings)
            full = description + ":" + arguments
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
    """

    log = Logger()

    def __init__(
        self,
        site: PushSite,
        ports: list[tuple[str, IListeningPort]],
        gracePeriod: float,
    ) -> None:
        """
        @param site: The site the ports serve.
        @param ports: Endpoint descriptions and the ports listening on them.
        @param gracePeriod: Seconds open streams may take to finish on stop.
        """
        self.site = site
        self.ports = ports
        self.gracePeriod = gracePeriod

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
        return stopped.addCallback(lambda _: self.site.shutDown(self.gracePeriod))


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
    if not any((site / name).is_file() for name in ValidatedFile.indexNames):
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
    @return: The service; its ports are already listening.
    @raise usage.UsageError: A file the settings name is wrong.
    @raise SystemExit: A port cannot be listened on.
    """
    from twisted.internet import reactor

    log = Logger(namespace="txpush")
    config = settings.pushConfig(loadSiteManifest(settings))
    parsed, certificate = parseEndpoints(settings, reactor)
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
    siteDirectory = settings.site or DEMO_SITE
    files = ValidatedFile(str(siteDirectory), cacheControl=settings.cacheControl)
    resource = CacheAwarePushResource(files, config, learner)
    site = PushSite(
        resource,
        logPath=settings.accessLog,
        logFormatter=pushLogFormatter,
        timeout=settings.idleTimeout,
        handshakeTimeout=settings.handshakeTimeout,
        maxBufferedBytes=settings.connectionBuffer,
    )
    ports = listenNow(site, parsed)
    service = MultiService()
    ListeningService(site, ports, settings.gracePeriod).setServiceParent(service)
    if resource.learner is not None and settings.learnFile is not None:
        LearnFileService(resource.learner, settings.learnFile).setServiceParent(service)
    if certificate is not None:
        log.info(
            "Development certificate for localhost: {certificate}",
            certificate=str(certificate),
        )
    if settings.site is not None:
        _warnAboutTheSite(log, settings)
    log.info(
        "Serving {site} with cache-aware push: open {urls}",
        site="the demo site" if settings.site is None else str(siteDirectory),
        urls=", ".join(_url(d, p) for d, p in ports),
    )
    return service
