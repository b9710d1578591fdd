"""
Cache-aware push by subclassing CacheAwarePushResource.

A small blog: every page needs the site's stylesheet and script, and each
article also its own illustration.  The subclass says so in C{assetsFor}; the
resource pushes them to clients that take pushes, remembers them in the
digest cookie so a repeat visit pushes nothing, and sends them as 103 Early
Hints to browsers.  Run::

    python examples/cacheaware.py

then::

    nghttp -ans http://127.0.0.1:8080/articles/push        # pushed (*)
    nghttp -ans --no-push -v https://127.0.0.1:8443/       # a 103 first
"""

import sys
from pathlib import Path

from twisted.internet import endpoints, reactor
from twisted.logger import globalLogBeginner, textFileLogObserver
from twisted.web.resource import Resource
from twisted.web.static import Data

from txpush import Asset, CacheAwarePushResource, PushConfig, PushSite
from txpush.devcert import ensureDevelopmentCertificate

PAGE = """<!DOCTYPE html>
<html><head><title>{title}</title>
<link rel="stylesheet" href="/static/site.css"><script src="/static/site.js"></script>
</head><body><h1>{title}</h1>{body}</body></html>
"""


class Article(Resource):
    """An article page: /articles/NAME."""

    isLeaf = True

    def render_GET(self, request):
        name = (
            request.postpath[0].decode("ascii", "replace") if request.postpath else ""
        )
        body = f'<img src="/static/{name}.svg" alt="{name}">'
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return PAGE.format(title=name.title(), body=body).encode()


class Home(Resource):
    """The home page."""

    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        links = '<a href="/articles/push">Push</a>'
        return PAGE.format(title="Home", body=links).encode()


class BlogPush(CacheAwarePushResource):
    """
    Every page pushes the site's stylesheet and script; an article also its
    illustration.
    """

    def assetsFor(self, request):
        if request.path.startswith(b"/static/"):
            return []
        assets = [b"/static/site.css", b"/static/site.js"]
        if request.path.startswith(b"/articles/"):
            name = request.path.rsplit(b"/", 1)[1]
            assets.append(Asset(b"/static/" + name + b".svg", "image"))
        return assets


def buildSite():
    """The blog, wrapped for cache-aware push, in a PushSite."""
    static = Resource()
    static.putChild(b"site.css", Data(b"body { max-width: 40em; }\n", "text/css"))
    static.putChild(b"site.js", Data(b'console.log("blog");\n', "text/javascript"))
    static.putChild(
        b"push.svg",
        Data(
            b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>',
            "image/svg+xml",
        ),
    )
    root = Resource()
    root.putChild(b"", Home())
    root.putChild(b"articles", Article())
    root.putChild(b"static", static)
    return PushSite(BlogPush(root, PushConfig(track="all")))


def main():
    """Serve the blog on localhost, over TLS and cleartext HTTP/2."""
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    certificate, key = ensureDevelopmentCertificate(Path(".txpush"))
    site = buildSite()
    tls = f"ssl:8443:interface=127.0.0.1:privateKey={key}:certKey={certificate}"
    endpoints.serverFromString(reactor, tls).listen(site)
    endpoints.serverFromString(reactor, "tcp:8080:interface=127.0.0.1").listen(site)
    reactor.run()


if __name__ == "__main__":
    main()
