"""
The backend of C{fronts.py}: a Flask application, served by gunicorn
(C{-k gthread}) over HTTP/1.1, that thinks before it answers its pages.

Run: FRONTS_SITE=DIR FRONTS_THINK_MS=50 gunicorn -k gthread --chdir bench \
        -b 127.0.0.1:PORT fronts_app:app

Its pages, C{/} and C{/p/NAME/} (any name: a page the front has never
seen), sleep C{FRONTS_THINK_MS} milliseconds (50 by default), as a view
waiting for its database does, then answer L{thinkapp}'s page with its
five C{Link: rel=preload} headers, C{Cache-Control: no-cache}.
C{/t<MS>/} thinks MS milliseconds instead (C{/t0/}: not at all, for the
load generator).  The assets are C{FRONTS_SITE/static/}'s files
(L{thinkapp.writeAssets}), served by Flask with an C{ETag}, a
C{Last-Modified} and C{Cache-Control: public, max-age=86400}.

Run: python bench/fronts_app.py --early-hints-port PORT

serves, instead, L{EarlyHintsHandler}: a raw HTTP/1.1 backend that answers
every path with its own C{103 Early Hints}, then its page (what gunicorn
cannot send), for checking what each front does with a backend's 103.
"""

from __future__ import annotations

import os
import socketserver
import sys
import time
from pathlib import Path

from flask import Flask, Response

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thinkapp import ASSETS, pageBody, preloadLink

SITE = Path(os.environ.get("FRONTS_SITE", "."))
THINK_MS = int(os.environ.get("FRONTS_THINK_MS", "50"))
ASSET_MAX_AGE = 86400

app = Flask(__name__, static_folder=str(SITE / "static"), static_url_path="/static")
app.config["SEND_FILE_MAX_AGE_DEFAULT"] = ASSET_MAX_AGE


def _page(thinkMs: int) -> Response:
    if thinkMs:
        time.sleep(thinkMs / 1000)
    response = Response(pageBody(thinkMs), content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    for path, asType in ASSETS:
        response.headers.add("Link", preloadLink(path, asType))
    return response


@app.get("/")
def index() -> Response:
    """The page, after the think time."""
    return _page(THINK_MS)


@app.get("/p/<name>/")
def named(name: str) -> Response:
    """The same page under another path."""
    return _page(THINK_MS)


@app.get("/t<int:thinkMs>/")
def thinking(thinkMs: int) -> Response:
    """The page after C{thinkMs} milliseconds."""
    return _page(min(thinkMs, 10_000))


# -- A backend that sends its own 103 -----------------------------------------


class EarlyHintsHandler(socketserver.StreamRequestHandler):
    """
    An HTTP/1.1 backend of one page that answers every request with a
    C{103 Early Hints} (the stylesheet's preload link), then, after the
    think time, its C{200}: what gunicorn cannot send, for checking what
    each front does with a backend's 103.  Keep-alive; no request body.
    """

    def handle(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline(65536)
                if not line:
                    return
                head += line
            style = preloadLink(*ASSETS[0]).encode()
            self.wfile.write(
                b"HTTP/1.1 103 Early Hints\r\nLink: " + style + b"\r\n\r\n"
            )
            self.wfile.flush()
            time.sleep(THINK_MS / 1000)
            body = pageBody(THINK_MS)
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Cache-Control: no-cache\r\nLink: " + style + b"\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            )
            self.wfile.flush()


def serveEarlyHints(port: int) -> None:
    """Serve L{EarlyHintsHandler} on C{127.0.0.1:port} until killed."""
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", port), EarlyHintsHandler) as s:
        s.serve_forever()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="The 103-sending backend.")
    parser.add_argument("--early-hints-port", type=int, required=True)
    serveEarlyHints(parser.parse_args().early_hints_port)
