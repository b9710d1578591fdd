"""
Fixtures: a Twisted reactor running in a thread, sites listening on loopback
over cleartext TCP and TLS, and the tools real clients need.
"""

from __future__ import annotations

import http.client
import shutil
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from twisted.internet import endpoints, reactor
from twisted.internet.threads import blockingCallFromThread
from twisted.web.server import Site

from txpush.devcert import ensureDevelopmentCertificate
from txpush.testing.modules import loadModule

T = TypeVar("T")


@pytest.fixture(scope="session")
def reactorThread() -> Iterator[None]:
    """
    Run the global reactor in a daemon thread for the whole test session.
    """
    thread = threading.Thread(
        target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
    )
    thread.start()
    yield
    reactor.callFromThread(reactor.stop)
    thread.join(10)


def onReactor(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """
    Call C{function} in the reactor thread and return its result (waiting
    for a Deferred's).
    """
    return blockingCallFromThread(reactor, function, *args, **kwargs)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """
    A self-signed certificate for localhost: (certificate, key) PEM paths.
    """
    return ensureDevelopmentCertificate(tmp_path_factory.mktemp("certificate"))


class Server:
    """
    A site listening on loopback, over cleartext TCP or TLS.
    """

    def __init__(self, site: Site, tls: bool, certificate: tuple[Path, Path]):
        self.site = site
        self.tls = tls
        if tls:
            cert, key = certificate
            description = f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        else:
            description = "tcp:0:interface=127.0.0.1"
        endpoint = endpoints.serverFromString(reactor, description)
        self.port = onReactor(endpoint.listen, site)

    @property
    def portNumber(self) -> int:
        """The port it listens on."""
        return int(self.port.getHost().port)

    @property
    def scheme(self) -> str:
        """http or https."""
        return "https" if self.tls else "http"

    def url(self, path: str = "/") -> str:
        """A URL of this server."""
        return f"{self.scheme}://127.0.0.1:{self.portNumber}{path}"

    def http11Connection(self) -> http.client.HTTPConnection:
        """An HTTP/1.1 client connection to this server (ALPN http/1.1)."""
        if not self.tls:
            return http.client.HTTPConnection("127.0.0.1", self.portNumber, timeout=5)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["http/1.1"])
        return http.client.HTTPSConnection(
            "127.0.0.1", self.portNumber, context=context, timeout=5
        )

    def stop(self) -> None:
        """Stop listening."""
        onReactor(self.port.stopListening)


@pytest.fixture(params=["h2c", "tls"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each test using it runs over cleartext HTTP/2 and over TLS with ALPN."""
    return str(request.param)


@pytest.fixture
def serve(
    reactorThread: None, certificate: tuple[Path, Path]
) -> Iterator[Callable[..., Server]]:
    """
    A function that starts a site listening: C{serve(site, tls=False)}.
    """
    servers: list[Server] = []

    def start(site: Site, tls: bool = False) -> Server:
        server = Server(site, tls, certificate)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


EXAMPLES = Path(__file__).parent.parent / "examples"


def loadExample(name: str) -> Any:
    """Import C{examples/NAME.py} as a module."""
    return loadModule(name, EXAMPLES / f"{name}.py")


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Chromium, which the test command installs."""
    path = shutil.which("chromium")
    assert path is not None, (
        "chromium is missing: run the test command from the README, which "
        "installs Debian's chromium"
    )
    return path


@pytest.fixture(scope="session")
def nghttp() -> str:
    """
    The path of the nghttp client, which the test command installs.
    """
    path = shutil.which("nghttp")
    assert path is not None, (
        "nghttp is missing: run the test command from the README, which "
        "installs Debian's nghttp2-client"
    )
    return path
