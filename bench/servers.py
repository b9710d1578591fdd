"""
The servers compared, as command lines: stock C{twist web}, three
configurations of C{twist txpush}, and the established push servers nghttpd
and H2O.  All serve the same generated site over TLS (HTTP/2 by ALPN) with
the same certificate, txpush's development certificate (ECDSA P-256).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workload import Site, asOf

BIN = Path(sys.executable).parent
TWIST = str(BIN / "twist")


@dataclass(frozen=True)
class Setup:
    """
    What every server needs to know.

    @ivar site: The generated site.
    @ivar stateDir: txpush's C{--state-dir}, where the development
        certificate is.
    @ivar certificate: The certificate (PEM).
    @ivar key: Its private key (PEM).
    @ivar work: A directory for configuration files and logs.
    """

    site: Site
    stateDir: Path
    certificate: Path
    key: Path
    work: Path


@dataclass(frozen=True)
class Server:
    """
    One server configuration.

    @ivar name: A short key, used in file names and tables.
    @ivar label: What the tables and plots call it.
    @ivar pushes: Whether it pushes on a first visit.
    @ivar command: Makes the command line, given the setup and the port.
    @ivar available: Whether its program is installed.
    """

    name: str
    label: str
    pushes: bool
    command: Callable[[Setup, int], list[str]]
    available: Callable[[], bool] = lambda: True


def twistWebCommand(setup: Setup, port: int) -> list[str]:
    """The command line of stock C{twist web} serving the site."""
    listen = (
        f"ssl:{port}:interface=127.0.0.1"
        f":privateKey={setup.key}:certKey={setup.certificate}"
    )
    return [
        TWIST,
        "--log-format",
        "text",
        "web",
        "--path",
        str(setup.site.root),
        "--listen",
        listen,
    ]


def txpushCommand(
    *flags: str, manifest: bool = True
) -> Callable[[Setup, int], list[str]]:
    """
    The command line of C{twist txpush} serving the site, with C{flags}, and
    with its push manifest unless told not to.
    """

    def command(setup: Setup, port: int) -> list[str]:
        pages = ["--push-manifest", str(setup.site.manifest)] if manifest else []
        return [
            TWIST,
            "--log-format",
            "text",
            "txpush",
            "--path",
            str(setup.site.root),
            *pages,
            "--listen",
            f"ssl:{port}:interface=127.0.0.1",
            "--state-dir",
            str(setup.stateDir),
            "--grace-period",
            "1",
            *flags,
        ]

    return command


def _nghttpd(setup: Setup, port: int) -> list[str]:
    assets = ",".join(setup.site.assets)
    return [
        "nghttpd",
        "-a",
        "127.0.0.1",
        "-d",
        str(setup.site.root),
        # nghttp requests "/", which nghttpd maps to index.html only after
        # matching push rules: name both.
        f"-p/index.html={assets}",
        f"-p/={assets}",
        str(port),
        str(setup.key),
        str(setup.certificate),
    ]


# In H2O 2.2.5 only a Link header emitted by a handler triggers a push (not
# one added with header.add): an mruby handler adds the page's Link headers,
# then returns 399 to hand the request on to file.dir.
_H2O_CONFIG = """\
user: nobody
num-threads: 1
pid-file: {run}/h2o.pid
error-log: {run}/error.log
http2-casper: ON
listen:
  host: 127.0.0.1
  port: {port}
  ssl:
    certificate-file: {certificate}
    key-file: {key}
    ocsp-update-interval: 0
hosts:
  "127.0.0.1:{port}":
    access-log:
      path: {run}/access.log
      format: '%h "%r" %s %b push=%{{x-http2-push}}o'
    paths:
      "/":
        mruby.handler: |
          Proc.new do |env|
            if env["PATH_INFO"] == "/" || env["PATH_INFO"] == "/index.html"
              [399, {{"link" => "{links}"}}, []]
            else
              [399, {{}}, []]
            end
          end
        file.dir: {root}
"""


def _h2o(setup: Setup, port: int) -> list[str]:
    run = setup.work / "h2o"
    run.mkdir(exist_ok=True)
    os.chmod(run, 0o777)  # H2O drops to nobody, who writes its logs here.
    links = "\\n".join(
        f"<{path}>; rel=preload; as={asOf(path)}"
        + ("; crossorigin" if asOf(path) == "font" else "")
        for path in setup.site.assets
    )
    config = run / "h2o.conf"
    config.write_text(
        _H2O_CONFIG.format(
            run=run,
            port=port,
            certificate=setup.certificate,
            key=setup.key,
            links=links,
            root=setup.site.root,
        )
    )
    return ["h2o", "-c", str(config)]


SERVERS = (
    Server("twist-web", "twist web (no push)", False, twistWebCommand),
    Server(
        "txpush-push",
        "txpush plain push (--no-digest)",
        True,
        txpushCommand("--no-digest"),
    ),
    Server("txpush-cache", "txpush cache-aware push (default)", True, txpushCommand()),
    Server(
        "txpush-hints",
        "txpush hints only (--no-push)",
        False,
        txpushCommand("--no-push"),
    ),
    Server(
        "nghttpd",
        "nghttpd (naive push)",
        True,
        _nghttpd,
        lambda: shutil.which("nghttpd") is not None,
    ),
    Server(
        "h2o",
        "H2O 2.2.5 (push + casper)",
        True,
        _h2o,
        lambda: shutil.which("h2o") is not None,
    ),
)
"""Every server, in the order of the tables."""


def byName(name: str) -> Server:
    """The server called C{name}."""
    for server in SERVERS:
        if server.name == name:
            return server
    raise KeyError(name)
