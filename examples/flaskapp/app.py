"""
A Flask application for C{twist txpush}: its pages name the static files
their templates use in C{Link: rel=preload} headers, which txpush pushes to
clients that take pushes and sends to browsers as preload headers and
C{103 Early Hints}.

From this directory::

    twist txpush --wsgi app.app --static /static=static
"""

from __future__ import annotations

from pathlib import PurePosixPath

from flask import Flask, Response, g, make_response, render_template, request, url_for

app = Flask(__name__)

AS_TYPES = {".css": "style", ".js": "script"}
"""The C{as} of a preload link, by the extension of the static file."""


@app.template_global()
def preload(filename: str) -> str:
    """
    The URL of a static file, as C{url_for("static", filename=...)} gives
    it, which the response also names in a C{Link: rel=preload} header.

    @param filename: The file's path in the static folder.
    @return: Its URL.
    """
    url = url_for("static", filename=filename)
    g.setdefault("preloads", []).append(url)
    return url


@app.after_request
def preloadLinks(response: Response) -> Response:
    """
    Name what the page's template preloaded, one C{Link} header each.

    @param response: The page's response.
    @return: The same response.
    """
    for url in g.get("preloads", []):
        kind = AS_TYPES[PurePosixPath(url).suffix]
        response.headers.add("Link", f"<{url}>; rel=preload; as={kind}")
    return response


@app.route("/")
def index() -> Response:
    """
    The home page, which remembers in its own cookie that it was visited.
    """
    returning = request.cookies.get("visited") == "yes"
    response = make_response(render_template("index.html", returning=returning))
    response.set_cookie("visited", "yes", max_age=30 * 24 * 3600, httponly=True)
    return response
