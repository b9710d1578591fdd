"""
The Go blog's server push example ("HTTP/2 Server Push", 2017), in Twisted.

The page pushes its script and stylesheet before writing its HTML, so a
client that accepts pushes has them without asking.  Run::

    python examples/gopush.py

and fetch it with a push-accepting client::

    nghttp -ans http://127.0.0.1:8080/        # cleartext HTTP/2
    nghttp -ans https://127.0.0.1:8443/       # TLS with ALPN h2

Pushed streams are marked with C{*} in nghttp's statistics.
"""

import sys
from pathlib import Path

from twisted.internet import endpoints, reactor
from twisted.logger import Logger, globalLogBeginner, textFileLogObserver
from twisted.web.resource import Resource
from twisted.web.static import Data

from txpush import IPusher, PushError, PushSite
from txpush.devcert import ensureDevelopmentCertificate

INDEX_HTML = b"""<!DOCTYPE html>
<html>
<head>
  <title>Hello</title>
  <link rel="stylesheet" href="/style.css">
  <script src="/app.js"></script>
</head>
<body>Hello, gopher!</body>
</html>
"""

log = Logger()


class Index(Resource):
    """
    The page: pushes its assets, then writes its HTML.
    """

    isLeaf = True

    def render_GET(self, request):
        pusher = IPusher(request, None)
        if pusher is not None:
            for asset in (b"/app.js", b"/style.css"):
                try:
                    pusher.push(asset)
                except PushError as e:
                    log.warn("Failed to push {asset}: {e}", asset=asset, e=e)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return INDEX_HTML


def buildSite():
    """
    The example's resource tree, in a L{PushSite}.
    """
    root = Resource()
    root.putChild(b"", Index())
    root.putChild(b"app.js", Data(b'console.log("hello");\n', "text/javascript"))
    root.putChild(b"style.css", Data(b"body { color: navy; }\n", "text/css"))
    return PushSite(root)


def main(tlsPort=8443, cleartextPort=8080, stateDirectory=Path(".txpush")):
    """
    Serve the example over TLS and over cleartext HTTP/2 on localhost.
    """
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    certificate, key = ensureDevelopmentCertificate(stateDirectory)
    site = buildSite()
    endpoints.serverFromString(
        reactor,
        f"ssl:{tlsPort}:interface=127.0.0.1:privateKey={key}:certKey={certificate}",
    ).listen(site)
    endpoints.serverFromString(
        reactor, f"tcp:{cleartextPort}:interface=127.0.0.1"
    ).listen(site)
    log.info(
        "Open https://localhost:{tls}/ (certificate {cert}) or "
        "http://127.0.0.1:{plain}/ with prior-knowledge HTTP/2",
        tls=tlsPort,
        cert=certificate,
        plain=cleartextPort,
    )
    reactor.run()


if __name__ == "__main__":
    main()
