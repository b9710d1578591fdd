"""
Servers of bench/speed.py that are not a command of their own.

Run: python bench/speed_servers.py pushsite --site DIR --tls-port P
         [--h2c-port P] --certificate CERT --key KEY

C{pushsite} serves C{twisted.web.static.File(DIR)} through L{txpush.PushSite}
(no L{txpush.CacheAwarePushResource}: no manifest, no hints, no digest), over
TLS (HTTP/2 by ALPN, with the certificate given: txpush's development
certificate) and, with C{--h2c-port}, over cleartext TCP, where PushSite
speaks HTTP/2 with prior knowledge.  Each request is logged as text to
standard output, as C{twist --log-format text web} logs it, so that the
comparison with stock twist web does not leave the log out.

C{app} is the ASGI application hypercorn serves: Starlette's
C{StaticFiles(directory=$SPEED_SITE, html=True)}, which answers C{/} with the
directory's index.html.  Run it as C{SPEED_SITE=DIR hypercorn
speed_servers:app} with this directory on the C{PYTHONPATH}.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if "SPEED_SITE" in os.environ:  # Under hypercorn, which evaluates "app".
    from starlette.staticfiles import StaticFiles

    app = StaticFiles(directory=os.environ["SPEED_SITE"], html=True)


def _endpointEscape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def pushSite(options: argparse.Namespace) -> None:
    """Serve the directory through PushSite until stopped."""
    from twisted.internet import endpoints, reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.web.static import File

    from txpush import PushSite

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    site = PushSite(File(str(options.site)))
    tls = (
        f"ssl:{options.tls_port}:interface=127.0.0.1"
        f":privateKey={_endpointEscape(str(options.key))}"
        f":certKey={_endpointEscape(str(options.certificate))}"
    )
    descriptions = [tls]
    if options.h2c_port is not None:
        descriptions.append(f"tcp:{options.h2c_port}:interface=127.0.0.1")
    for description in descriptions:
        endpoints.serverFromString(reactor, description).listen(site)
    reactor.run()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["pushsite"])
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--tls-port", type=int, required=True)
    parser.add_argument("--h2c-port", type=int)
    parser.add_argument("--certificate", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    options = parser.parse_args(argv)
    pushSite(options)


if __name__ == "__main__":
    main()
