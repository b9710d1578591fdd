"""
The command line of C{twist txpush}: every option of C{twist web}, with
the same spelling, short forms and meaning, and txpush's own; parsed and
checked into a L{ServeSettings}, from which L{txpush.tap} builds the
service.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs
import twisted
from twisted.logger import LogLevel
from twisted.python import usage

from txpush.config import PushConfig
from txpush.digest import DEFAULT_CAPACITY_BITS, DEFAULT_COOKIE_NAME, DEFAULT_MAX_AGE
from txpush.failedassets import DEFAULT_RETRY_AFTER
from txpush.forwarding import HOST_MODES, ForwardingConfig, parseTrustedProxy
from txpush.learning import LearningConfig
from txpush.linkhints import LinkHintConfig
from txpush.manifest import Manifest
from txpush.mounts import prefixSegments
from txpush.policy import DEFAULT_MAX_PUSHES, DEFAULT_TRACK, TRACKED_TYPES
from txpush.proxy import DEFAULT_PROXY_TIMEOUT, BackendURLError, parseBackendURL
from txpush.roots import DEFAULT_WSGI_THREADS
from txpush.site import (
    DEFAULT_GRACE_PERIOD,
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BUFFERED_BYTES,
)
from txpush.staticfiles import CacheControl

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

MAX_WORKERS = 1024
"""The most worker processes C{--workers} runs."""

WORKER_VARIABLE = "TXPUSH_WORKER"
"""
The environment variable that makes C{twist txpush} one of the workers of a
C{--workers} supervisor: C{INDEX:FD,FD,...}, the worker's index (from 1) and
the listening sockets it inherits, in C{--listen} order.
"""


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

    @ivar site: The directory or file to serve (C{--path}), or L{None}.
    @ivar wsgi: The WSGI application to serve, or L{None}.
    @ivar wsgiThreads: The size of the WSGI application's thread pool.
    @ivar resourceScript: The resource script to serve, or L{None}.
    @ivar rootClass: The resource class to serve, or L{None}.
    @ivar userDirectories: Serve users' C{~/public_html} directories.
    @ivar static: Prefixes and the directories served at them.
    @ivar indexNames: The names of index files, or C{()} for C{File}'s.
    @ivar mimeType: The type of files whose extension says none, or
        L{None} for C{File}'s.
    @ivar ignoredExtensions: Extensions a request may leave out.
    @ivar processors: Extensions and the class names that serve them.
    @ivar addedHeaders: Headers added to every response.
    @ivar displayTracebacks: Show uncaught exceptions to the client.
    @ivar proxy: The backend URL every request is forwarded to, or L{None}.
    @ivar proxyMounts: Prefixes and the backend URLs they are forwarded to.
    @ivar proxyTimeout: Seconds a backend has to start its response.
    @ivar forwarding: How requests are forwarded to a backend.
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
    @ivar logPageDecisions: Whether each page's decision is logged: when
        C{twist}'s log level is debug (the default elsewhere, as under
        C{twistd}).
    @ivar workers: How many worker processes serve (C{--workers}); 1 is
        this process alone.
    @ivar workerIndex: This process's index among a supervisor's workers
        (from 1), or L{None} when it is no worker.
    @ivar workerDescriptors: A worker's inherited listening sockets, in
        C{listen} order.
    """

    site: Path | None = None
    wsgi: str | None = None
    wsgiThreads: int = DEFAULT_WSGI_THREADS
    resourceScript: Path | None = None
    rootClass: str | None = None
    userDirectories: bool = False
    static: tuple[tuple[str, Path], ...] = ()
    indexNames: tuple[str, ...] = ()
    mimeType: str | None = None
    ignoredExtensions: tuple[str, ...] = ()
    processors: tuple[tuple[str, str], ...] = ()
    addedHeaders: tuple[tuple[bytes, bytes], ...] = ()
    displayTracebacks: bool = False
    proxy: bytes | None = None
    proxyMounts: tuple[tuple[str, bytes], ...] = ()
    proxyTimeout: float = DEFAULT_PROXY_TIMEOUT
    forwarding: ForwardingConfig = attrs.field(factory=ForwardingConfig)
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
    logPageDecisions: bool = True
    workers: int = 1
    workerIndex: int | None = None
    workerDescriptors: tuple[int, ...] = ()

    @property
    def servesDemo(self) -> bool:
        """
        Whether no root was given, so that the demo site is served.
        """
        roots = (self.site, self.wsgi, self.resourceScript, self.rootClass, self.proxy)
        return not self.userDirectories and all(root is None for root in roots)

    def rootDescription(self) -> str:
        """
        @return: What the root is, for the log: C{the demo site}, a
            directory, C{the WSGI application NAME}, ...
        """
        if self.site is not None:
            return str(self.site)
        if self.wsgi is not None:
            return f"the WSGI application {self.wsgi}"
        if self.resourceScript is not None:
            return f"the resource script {self.resourceScript}"
        if self.rootClass is not None:
            return f"the resource class {self.rootClass}"
        if self.userDirectories:
            return "the users' ~/public_html directories"
        if self.proxy is not None:
            return f"the backend {self.proxy.decode()}"
        return "the demo site"

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


ROOT_OPTIONS = ("path", "wsgi", "resource-script", "class", "user", "proxy")
"""The options that each choose the root resource; at most one is given."""

FILE_OPTIONS = ("index", "mime-type", "ignore-ext", "allow-ignore-ext", "processor")
"""The options that change how C{--path} serves files, so need it."""


def txpushVersion() -> str:
    """
    @return: The installed txpush's version.
    """
    try:
        return metadata.version("txpush")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _oneLine(text: str | None) -> str:
    return " ".join((text or "").split())


_Method = TypeVar("_Method", bound=Callable[..., None])


def _folded(method: _Method) -> _Method:
    # usage.Options prints a docstring as written: fold it into one line.
    method.__doc__ = _oneLine(method.__doc__)
    return method


def _deprecated(option: str, since: str, instead: str) -> str:
    return (
        f"twist txpush: {option} was deprecated in Twisted {since}, as in "
        f"twist web: {instead}\n"
    )


class Options(usage.Options):
    """
    The options of C{twist txpush}: parsed and checked into
    C{self["settings"]}, a L{ServeSettings}; nothing is read, imported,
    written or listened on until L{txpush.tap.makeService}.

    Every option of C{twist web} is here with its spelling and short form;
    unlike C{twist web}, they may come in any order, and giving two roots
    is a mistake rather than the last one winning.
    """

    synopsis = "[txpush options]"
    longdesc = """\
Serve a directory, a WSGI application, a resource script or a resource class
over HTTPS and HTTP/2 with cache-aware server push for clients that take
pushes, and 103 Early Hints and Link preload headers for browsers. With no
options, serve the embedded demo site on https://localhost:8443/ with a
development certificate made on first run."""

    optParameters: ClassVar[list[list[Any]]] = [
        [
            "path",
            None,
            None,
            "The directory to serve (its .rpy, .epy and .cgi files run, as in "
            "twist web), or a file to serve at /. [default: the demo site]",
        ],
        [
            "wsgi",
            None,
            None,
            "Serve this WSGI application (package.module.name, importable from "
            "the current directory) on a thread pool; its Link: rel=preload "
            "headers are pushed and hinted.",
        ],
        [
            "wsgi-threads",
            None,
            str(DEFAULT_WSGI_THREADS),
            "With --wsgi, the most requests the application runs at once "
            "(the thread pool's size).",
        ],
        [
            "resource-script",
            None,
            None,
            "Serve this .rpy file (a Python file that sets resource) as the "
            "root resource; it runs for each request.",
        ],
        [
            "class",
            None,
            None,
            "Serve an instance of this Resource subclass "
            "(package.module.Class), made with no argument.",
        ],
        [
            "proxy-timeout",
            None,
            f"{DEFAULT_PROXY_TIMEOUT:g}",
            "Seconds a --proxy backend has to start its response; then the "
            "client gets 504.",
        ],
        [
            "proxy-host",
            None,
            "pass",
            "The Host a --proxy backend gets: pass (the client's) or backend "
            "(the backend URL's host and port).",
        ],
        [
            "mime-type",
            "m",
            None,
            "With --path, the Content-Type of files whose extension says "
            "none. [default: text/html]",
        ],
        [
            "push-manifest",
            None,
            None,
            'A JSON file mapping pages to their assets: {"/index.html": '
            '["/style.css", "/app.js"]}. [default: the demo\'s, with no root]',
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
            "Write the access log to this file: the Combined Log Format, each "
            "line ending with what push did (push=pushed, or push=page "
            "pushed=N cached=N hinted=N). [default: the twist log]",
        ],
        [
            "logfile",
            "l",
            None,
            "The same as --access-log (twist web's name for it).",
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
        [
            "workers",
            None,
            "1",
            "Serve with this many worker processes, or auto for one per CPU: "
            "each a full txpush on the same listening sockets, a dead one "
            "replaced; with --learn-file, each keeps its own file "
            "(learn.1.json, ...); 1 is this process alone.",
        ],
        [
            "port",
            "p",
            None,
            "(DEPRECATED: use --listen) An endpoint description to listen on.",
        ],
        [
            "https",
            None,
            None,
            "(DEPRECATED: use --listen) A port to listen on for HTTPS, with "
            "--certificate and --privkey.",
        ],
        [
            "certificate",
            "c",
            None,
            "(DEPRECATED: use --listen) The certificate (PEM) of --https. "
            "[default: server.pem]",
        ],
        [
            "privkey",
            "k",
            None,
            "(DEPRECATED: use --listen) The private key (PEM) of --https. "
            "[default: server.pem]",
        ],
    ]

    optFlags: ClassVar[list[list[Any]]] = [
        [
            "user",
            "u",
            "Serve each user's ~/public_html at /USER/ (and the personal "
            "servers of ~/.twistd-web-pb), as twist web --user does.",
        ],
        [
            "allow-ignore-ext",
            None,
            "With --path, let a request for foo get foo.EXT, for any extension.",
        ],
        [
            "display-tracebacks",
            None,
            "Show the tracebacks of uncaught exceptions to the client. WARNING: "
            "this may be a security risk and expose private data!",
        ],
        [
            "notracebacks",
            "n",
            "(DEPRECATED: tracebacks are off by default; --display-tracebacks "
            "turns them on.)",
        ],
        [
            "personal",
            None,
            "Not supported: a personal server speaks Perspective Broker to a "
            "twist web --user front, not HTTP/2 (run twist web --personal).",
        ],
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
            "path": usage.CompleteFiles(),
            "resource-script": usage.CompleteFiles("*.rpy"),
            "push-manifest": usage.CompleteFiles("*.json"),
            "state-dir": usage.CompleteDirs(),
            "access-log": usage.CompleteFiles("*.log"),
            "logfile": usage.CompleteFiles("*.log"),
            "learn-file": usage.CompleteFiles("*.json"),
            "certificate": usage.CompleteFiles("*.pem"),
            "privkey": usage.CompleteFiles("*.pem"),
            "track": usage.CompleteList(list(TRACKED_TYPES)),
        }
    )

    def __init__(self) -> None:
        super().__init__()
        for repeatable in (
            "listen",
            "cache-control",
            "index",
            "ignore-ext",
            "processor",
            "add-header",
            "static",
            "proxy",
            "trusted-proxy",
        ):
            self[repeatable] = []

    @_folded
    def opt_listen(self, description: str) -> None:
        """
        Listen on a Twisted endpoint; repeat to listen on several.  ssl:PORT
        serves HTTPS (HTTP/2 with ALPN, and HTTP/1.1), with the development
        certificate unless privateKey= and certKey= name one.  tcp:PORT
        serves cleartext HTTP/2 with prior knowledge and HTTP/1.1.
        [default: ssl:8443]
        """
        self["listen"].append(description)

    @_folded
    def opt_cache_control(self, value: str) -> None:
        """
        The Cache-Control of the served files: VALUE for every type, or
        TYPE=VALUE for one (text/html=no-cache, image/*=max-age=86400);
        repeatable.  [default: no-cache, stored but revalidated on each use]
        """
        self["cache-control"].append(value)

    @_folded
    def opt_index(self, name: str) -> None:
        """
        With --path, add the name of a file that serves as a directory's
        index; repeatable, in order of preference.  [default: index,
        index.html, index.htm, index.rpy]
        """
        self["index"].append(name)

    @_folded
    def opt_ignore_ext(self, extension: str) -> None:
        """
        With --path, an extension a request may leave out (.html: foo gets
        foo.html); repeatable, tried in order.
        """
        self["ignore-ext"].append(extension)

    @_folded
    def opt_processor(self, value: str) -> None:
        """
        With --path, EXT=CLASS: files ending with EXT are served by CLASS
        (package.module.Class), called with the file's path and the
        registry, as twist web does; repeatable.
        """
        self["processor"].append(value)

    @_folded
    def opt_add_header(self, header: str) -> None:
        """
        Add a header to every response, "Name: Value"; repeatable.  A Link
        rel=preload header added so is pushed and hinted like the site's own.
        """
        self["add-header"].append(header)

    @_folded
    def opt_static(self, value: str) -> None:
        """
        PREFIX=DIR: serve the files of DIR under the path PREFIX, beside the
        root (a WSGI application's static files: --static /static=./static);
        repeatable.  They are pushed and hinted like the root's own.
        """
        self["static"].append(value)

    @_folded
    def opt_proxy(self, value: str) -> None:
        """
        URL: forward every request to the HTTP/1.1 backend at URL
        (http://127.0.0.1:8000), pushing and hinting its Link headers; or
        PREFIX=URL: forward the paths under PREFIX only (--proxy
        /api=http://127.0.0.1:8000), beside the root; repeatable.
        """
        self["proxy"].append(value)

    @_folded
    def opt_trusted_proxy(self, value: str) -> None:
        """
        An address or network (10.0.0.0/8) of a proxy in front whose
        X-Forwarded-For, -Proto and -Host a --proxy backend gets, extended;
        from any other client they are replaced.  Repeatable.
        """
        self["trusted-proxy"].append(value)

    @_folded
    def opt_version(self) -> None:
        """
        Display txpush's and Twisted's versions and exit.
        """
        print(f"txpush {txpushVersion()} (Twisted {twisted.__version__})")
        raise SystemExit(0)

    opt_i = opt_index

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
        self._deprecations: list[str] = []
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
        wsgiThreads = _wholeNumber("wsgi-threads", self["wsgi-threads"], 1, 1000, "")
        workers = self._workers()
        workerIndex, workerDescriptors = _workerVariable()
        try:
            cacheControl = CacheControl.fromArguments(self["cache-control"])
        except ValueError as e:
            raise usage.UsageError(f"--cache-control {e}") from None
        listen = self._listen()
        for description in listen:
            problem = _listenProblem(description)
            if problem is not None:
                raise usage.UsageError(f"--listen {description}: {problem}")
        if self["track"] not in TRACKED_TYPES:
            raise usage.UsageError(
                f"--track {self['track']}: give one of {', '.join(TRACKED_TYPES)}"
            )
        self._checkRoots()
        if self["wsgi"] is None and self["wsgi-threads"] != str(DEFAULT_WSGI_THREADS):
            raise usage.UsageError("--wsgi-threads: give --wsgi too")
        prefixes: dict[tuple[bytes, ...], str] = {}
        static = self._static(prefixes)
        proxy, proxyMounts = self._proxies(prefixes)
        proxyTimeout = _seconds("proxy-timeout", self["proxy-timeout"], 0.1, 86400)
        if self["proxy-host"] not in HOST_MODES:
            raise usage.UsageError(
                f"--proxy-host {self['proxy-host']}: give pass or backend"
            )
        forwarding = ForwardingConfig(
            hostMode=self["proxy-host"], trustedProxies=self._trustedProxies()
        )
        if self["personal"]:
            raise usage.UsageError(
                "--personal: not supported: a personal server publishes its "
                "site over Perspective Broker to a twist web --user front, not "
                "over HTTP/2; run twist web --personal for that, or serve the "
                "site itself with --path and --listen"
            )
        if self["notracebacks"]:
            self._deprecations.append(
                _deprecated(
                    "--notracebacks",
                    "19.7.0",
                    "tracebacks are off by default; --display-tracebacks turns them on",
                )
            )
        settings = ServeSettings(
            site=self._sitePath(),
            wsgi=self["wsgi"],
            wsgiThreads=wsgiThreads,
            resourceScript=self._resourceScript(),
            rootClass=self["class"],
            userDirectories=self["user"],
            static=static,
            indexNames=tuple(self["index"]),
            mimeType=self._mimeType(),
            ignoredExtensions=tuple(
                _extension("ignore-ext", e, allowAny=True) for e in self["ignore-ext"]
            )
            + (("*",) if self["allow-ignore-ext"] else ()),
            processors=self._processors(),
            addedHeaders=self._addedHeaders(),
            displayTracebacks=self["display-tracebacks"],
            proxy=proxy,
            proxyMounts=proxyMounts,
            proxyTimeout=proxyTimeout,
            forwarding=forwarding,
            manifest=self._manifestPath(),
            listen=tuple(listen) or (f"ssl:{DEFAULT_PORT}",),
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
            logPageDecisions=self._logsAtDebug(),
            workers=workers,
            workerIndex=workerIndex,
            workerDescriptors=workerDescriptors,
        )
        try:
            settings.pushConfig(None)
        except ValueError as e:
            raise usage.UsageError(
                f"--digest-cookie {self['digest-cookie']}: {e}"
            ) from None
        # Said only once the command line is right: a mistake is one line.
        for message in self._deprecations:
            sys.stderr.write(message)
        self["settings"] = settings

    def _logsAtDebug(self) -> bool:
        # twist's own option (twist --log-level LEVEL); twistd has none.
        parent = self.parent
        level = parent.get("logLevel") if parent is not None else None
        return level is None or level is LogLevel.debug

    def _workers(self) -> int:
        value = self["workers"]
        if value == "auto":
            workers = min(os.cpu_count() or 1, MAX_WORKERS)
        else:
            workers = _wholeNumber(
                "workers",
                value,
                1,
                MAX_WORKERS,
                ", or auto for one per CPU",
            )
        if workers > 1 and Path(sys.argv[0]).name.startswith("twistd"):
            raise usage.UsageError(
                f"--workers {value}: not supported under twistd, which runs "
                "one daemon process: run twist txpush --workers, under a "
                "process manager to detach it"
            )
        return workers

    def _given(self, option: str) -> bool:
        if option == "proxy":
            return any(not value.startswith("/") for value in self["proxy"])
        # Flags are 0 or 1, repeatable options lists, parameters None or str.
        value = self[option]
        return value is not None and value != 0 and value != []

    def _checkRoots(self) -> None:
        roots = [f"--{name}" for name in ROOT_OPTIONS if self._given(name)]
        if len(roots) > 1:
            raise usage.UsageError(
                f"{' and '.join(roots)}: give one root: --path, --wsgi, "
                "--resource-script, --class, --user or --proxy URL (--static "
                "DIR and --proxy PREFIX=URL serve beside any of them)"
            )
        if self["path"] is None:
            for name in FILE_OPTIONS:
                if self._given(name):
                    raise usage.UsageError(
                        f"--{name}: give --path too: it changes how the files "
                        "of --path are served"
                    )

    def _listen(self) -> list[str]:
        listen = list(self["listen"])
        if self["port"] is not None:
            self._deprecations.append(
                _deprecated("--port", "18.4.0", f"use --listen {self['port']}")
            )
            listen.append(self["port"])
        if self["https"] is None:
            for name in ("certificate", "privkey"):
                if self[name] is not None:
                    raise usage.UsageError(
                        f"--{name}: give --https PORT too, or rather --listen "
                        "ssl:PORT:privateKey=KEY.pem:certKey=CERT.pem"
                    )
            return listen
        https = self["https"]
        self._deprecations.append(
            _deprecated(
                "--https",
                "18.4.0",
                f"use --listen ssl:{https}:privateKey=KEY.pem:certKey=CERT.pem, "
                f"or --listen ssl:{https} for the development certificate",
            )
        )
        files = {}
        for name in ("certificate", "privkey"):
            given = Path(self[name] or "server.pem").expanduser()
            if not given.is_file():
                raise usage.UsageError(
                    f"--{name} {given}: no such file (--https needs "
                    "--certificate and --privkey, server.pem by default): give "
                    f"PEM files, or --listen ssl:{https} for the development "
                    "certificate"
                )
            files[name] = _endpointEscape(str(given.absolute()))
        listen.append(
            f"ssl:port={https}:privateKey={files['privkey']}:"
            f"certKey={files['certificate']}"
        )
        return listen

    def _sitePath(self) -> Path | None:
        if self["path"] is None:
            return None
        path = Path(self["path"]).expanduser()
        if not path.exists():
            raise usage.UsageError(
                f"--path {path}: no such directory or file: give the directory to serve"
            )
        if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
            raise usage.UsageError(
                f"--path {path}: not readable by this user: fix its permissions"
            )
        return path.resolve()

    def _resourceScript(self) -> Path | None:
        if self["resource-script"] is None:
            return None
        path = Path(self["resource-script"]).expanduser()
        if not path.is_file():
            raise usage.UsageError(
                f"--resource-script {path}: no such file: give an .rpy file "
                "that sets resource"
            )
        return path.resolve()

    def _takePrefix(
        self,
        option: str,
        value: str,
        prefix: str,
        what: str,
        taken: dict[tuple[bytes, ...], str],
    ) -> str:
        # --static and --proxy PREFIX=URL share the paths: each prefix once.
        try:
            segments = prefixSegments(prefix)
        except ValueError as e:
            raise usage.UsageError(f"--{option} {value}: {e}") from None
        if segments in taken:
            raise usage.UsageError(
                f"--{option} {value}: {prefix} is already {taken[segments]}: "
                "give each prefix once"
            )
        taken[segments] = what
        return "/" + b"/".join(segments).decode()

    def _static(
        self, taken: dict[tuple[bytes, ...], str]
    ) -> tuple[tuple[str, Path], ...]:
        mounts = []
        for value in self["static"]:
            prefix, equals, directory = value.partition("=")
            if not equals or not directory:
                raise usage.UsageError(
                    f"--static {value}: give PREFIX=DIR, such as "
                    "--static /static=./static"
                )
            path = Path(directory).expanduser()
            if not path.is_dir():
                raise usage.UsageError(
                    f"--static {value}: {path} is no directory: give the "
                    "directory of the files to serve at that prefix"
                )
            path = path.resolve()
            served = f"served from {path}"
            mounts.append(
                (self._takePrefix("static", value, prefix, served, taken), path)
            )
        return tuple(mounts)

    def _proxies(
        self, taken: dict[tuple[bytes, ...], str]
    ) -> tuple[bytes | None, tuple[tuple[str, bytes], ...]]:
        root = None
        mounts = []
        for value in self["proxy"]:
            prefix, equals, url = value.partition("=")
            if not value.startswith("/"):
                prefix, url = "", value
            elif not equals:
                raise usage.UsageError(
                    f"--proxy {value}: give URL, or PREFIX=URL such as "
                    "--proxy /api=http://127.0.0.1:8000"
                )
            try:
                backend = parseBackendURL(url)
            except BackendURLError as e:
                raise usage.UsageError(f"--proxy {value}: {e}") from None
            if prefix:
                forwarded = f"forwarded to {backend.decode()}"
                mounts.append(
                    (
                        self._takePrefix("proxy", value, prefix, forwarded, taken),
                        backend,
                    )
                )
            elif root is not None:
                raise usage.UsageError(
                    f"--proxy {value}: every request already goes to "
                    f"{root.decode()}: give one URL, and PREFIX=URL for the others"
                )
            else:
                root = backend
        return root, tuple(mounts)

    def _trustedProxies(self) -> tuple[Any, ...]:
        networks = []
        for value in self["trusted-proxy"]:
            try:
                networks.append(parseTrustedProxy(value))
            except ValueError as e:
                raise usage.UsageError(f"--trusted-proxy {e}") from None
        if networks and not self["proxy"]:
            raise usage.UsageError("--trusted-proxy: give --proxy too")
        return tuple(networks)

    def _mimeType(self) -> str | None:
        value = self["mime-type"]
        if value is None:
            return None
        kind, slash, subtype = value.partition("/")
        if not (slash and kind and subtype) or any(c in value for c in " \r\n"):
            raise usage.UsageError(
                f"--mime-type {value}: give a type/subtype, such as text/plain"
            )
        return str(value)

    def _processors(self) -> tuple[tuple[str, str], ...]:
        processors = []
        for value in self["processor"]:
            extension, equals, className = value.partition("=")
            if not equals or not className or not extension:
                raise usage.UsageError(
                    f"--processor {value}: give EXT=CLASS, such as "
                    "--processor .rpy=twisted.web.script.ResourceScript"
                )
            processors.append((_extension("processor", extension), className))
        return tuple(processors)

    def _addedHeaders(self) -> tuple[tuple[bytes, bytes], ...]:
        headers = []
        for value in self["add-header"]:
            name, colon, rest = value.partition(":")
            name, rest = name.strip(), rest.strip()
            token = (
                name.isascii()
                and name
                and all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in name)
            )
            if not colon or not token or not rest.isprintable():
                raise usage.UsageError(
                    f'--add-header {value!r}: give a header as "Name: Value", '
                    "such as --add-header 'X-Frame-Options: DENY'"
                )
            headers.append((name.encode("ascii"), rest.encode("utf-8")))
        return tuple(headers)

    def _manifestPath(self) -> Path | None:
        if self["push-manifest"] is not None:
            return Path(self["push-manifest"]).expanduser()
        noRoot = not any(self._given(name) for name in ROOT_OPTIONS)
        return DEMO_MANIFEST if noRoot else None

    def _learnFile(self) -> Path | None:
        if self["learn-file"] is None:
            return None
        if not self["learn"]:
            raise usage.UsageError("--learn-file: give --learn too")
        return _fileToWrite("learn-file", self["learn-file"])

    def _accessLog(self) -> Path | None:
        given = {self[name] for name in ("access-log", "logfile")} - {None}
        if len(given) > 1:
            raise usage.UsageError(
                "--access-log and --logfile: they are the same option: give one"
            )
        if not given:
            return None
        option = "access-log" if self["access-log"] is not None else "logfile"
        path = _fileToWrite(option, given.pop())
        if path.exists() and not os.access(path, os.W_OK):
            raise usage.UsageError(
                f"--{option} {path}: not writable by this user: fix its "
                "permissions or give another file"
            )
        return path


def _workerVariable() -> tuple[int | None, tuple[int, ...]]:
    # Set by a --workers supervisor for its workers, and only there.
    value = os.environ.get(WORKER_VARIABLE)
    if value is None:
        return None, ()
    index, colon, descriptors = value.partition(":")
    try:
        number = int(index)
        inherited = tuple(int(d) for d in descriptors.split(",") if d)
    except ValueError:
        number, inherited = 0, ()
    if not colon or number < 1 or not inherited:
        raise usage.UsageError(
            f"${WORKER_VARIABLE} {value!r}: only twist txpush --workers sets "
            "it, for its workers: unset it"
        )
    return number, inherited


def _extension(option: str, value: str, allowAny: bool = False) -> str:
    # File compares extensions with their dot; twist web takes them as given,
    # so "html" would never match: add the dot.
    if allowAny and value == "*":
        return value
    if not value.strip(".") or "/" in value:
        raise usage.UsageError(f"--{option} {value}: give an extension, such as .html")
    return value if value.startswith(".") else "." + value


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


def _endpointEscape(value: str) -> str:
    # Endpoint strings separate arguments with ":" and escape with "\\".
    return value.replace("\\", "\\\\").replace(":", "\\:")
