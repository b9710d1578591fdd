"""
The project's view, and the decorator that names a page's static files in a
C{Link: rel=preload} header for C{twist txpush}.
"""

from collections.abc import Callable
from functools import wraps
from pathlib import PurePosixPath
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static

View = Callable[..., HttpResponse]

AS_TYPES = {".css": "style", ".js": "script"}
"""The C{as} of a preload link, by the extension of the static file."""


def preloadLink(path: str) -> str:
    """
    @param path: A static file's path, as a template gives it to
        C{{% static %}}.
    @return: A C{Link} value preloading it, at the URL C{{% static %}} gives.
    """
    return f"<{static(path)}>; rel=preload; as={AS_TYPES[PurePosixPath(path).suffix]}"


def preload(*paths: str) -> Callable[[View], View]:
    """
    Name static files in the C{Link} header of a view's responses.

    @param paths: The files' paths, as the view's template gives them to
        C{{% static %}}.
    @return: A view decorator.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def linked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            # A Django response holds one value per header name: the links
            # share one, separated by commas.
            response.headers["Link"] = ", ".join(preloadLink(p) for p in paths)
            return response

        return linked

    return decorate


@preload("style.css", "app.js")
def index(request: HttpRequest) -> HttpResponse:
    """
    The home page, which remembers in its own cookie that it was visited.
    """
    returning = request.COOKIES.get("visited") == "yes"
    response = render(request, "index.html", {"returning": returning})
    response.set_cookie("visited", "yes", max_age=30 * 24 * 3600, httponly=True)
    return response
