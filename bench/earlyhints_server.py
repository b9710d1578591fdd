"""
Serve the thinking application (L{thinkapp}) one of four ways, for
C{earlyhints.py}.

Run: python bench/earlyhints_server.py ARM --port PORT --site DIR
        [--certificate PEM --key PEM] [--think MS ...]

ARM is one of:

    - C{twist-web}: a stock C{twisted.web.server.Site} over TLS (HTTP/2 by
      ALPN), as C{twist web} serves: no hints;
    - C{txpush-manifest}: C{PushSite(CacheAwarePushResource(app,
      PushConfig(manifest=..., push=False)))} over TLS, the manifest naming
      each page's five assets;
    - C{txpush-learned}: the same without a manifest: whatever txpush
      hints, it takes from the page's own responses;
    - C{backend}: the stock C{Site} over plain TCP (HTTP/1.1), for Apache to
      proxy to.

C{GET /_stats} answers JSON: the pages' arrival and answer times (the
reactor's clock) and, for txpush, its counters.  It is not a page of the
application and is never hinted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from twisted.internet import endpoints, reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thinkapp import ThinkApp, manifestMapping

ARMS = ("twist-web", "txpush-manifest", "txpush-learned", "backend")


class Stats(Resource):
    """C{/_stats}: the application's log and txpush's counters, as JSON."""

    isLeaf = True

    def __init__(self, app: ThinkApp, pushResource: Any) -> None:
        super().__init__()
        self.app = app
        self.pushResource = pushResource

    def render_GET(self, request: Any) -> bytes:
        stats: dict[str, Any] = {"pages": self.app.log}
        if self.pushResource is not None:
            counters = self.pushResource.counters
            stats["counters"] = {
                name: getattr(counters, name)
                for name in ("pages", "pushed", "earlyHints", "hinted")
            }
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps(stats).encode()


def makeSite(arm: str, directory: Path, thinkTimes: list[int]) -> Site:
    """The site of C{arm}, serving the application in C{directory}."""
    app = ThinkApp(directory)
    pushResource = None
    if arm in ("twist-web", "backend"):
        site = Site(app)
    else:
        from txpush import CacheAwarePushResource, Manifest, PushConfig, PushSite

        if arm == "txpush-manifest":
            config = PushConfig(
                manifest=Manifest.fromMapping(manifestMapping(thinkTimes)), push=False
            )
        else:
            config = PushConfig(push=False)
        pushResource = CacheAwarePushResource(app, config)
        site = PushSite(pushResource)
    app.putChild(b"_stats", Stats(app, pushResource))
    site.noisy = False
    return site


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and serve until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("arm", choices=ARMS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--site", type=Path, required=True, help="the assets' root")
    parser.add_argument("--certificate", type=Path)
    parser.add_argument("--key", type=Path)
    parser.add_argument(
        "--think",
        type=int,
        action="append",
        default=None,
        metavar="MS",
        help="a think time the manifest names a page for (repeatable)",
    )
    options = parser.parse_args(argv)
    site = makeSite(options.arm, options.site, options.think or [0, 100, 300])
    if options.arm == "backend":
        description = f"tcp:{options.port}:interface=127.0.0.1"
    else:
        if options.certificate is None or options.key is None:
            parser.error(f"{options.arm} needs --certificate and --key")
        description = (
            f"ssl:{options.port}:interface=127.0.0.1"
            f":privateKey={options.key}:certKey={options.certificate}"
        )
    endpoints.serverFromString(reactor, description).listen(site)
    if options.arm.startswith("txpush"):
        import txpush

        print(f"txpush from {Path(txpush.__file__).parent}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
