"""
The roots C{twist txpush} serves, as C{twist web} makes them: a directory
or a file, a WSGI application, a resource script, a resource class, or
users' C{~/public_html} directories.

Each function checks what it is given and raises L{RootError} with a
one-line message saying what is wrong and what to do; the caller names the
option.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from twisted.python.reflect import namedAny
from twisted.python.threadpool import ThreadPool
from twisted.web import distrib, script, twcgi
from twisted.web.resource import IResource, Resource
from twisted.web.wsgi import WSGIResource

from txpush.staticfiles import CacheControl, ValidatedFile

DEFAULT_PROCESSORS: dict[str, Callable[..., IResource]] = {
    ".epy": script.PythonScript,
    ".rpy": script.ResourceScript,
    ".cgi": twcgi.CGIScript,
}
"""The processors C{twist web --path} gives a directory: resource scripts,
Python scripts and CGI scripts run rather than served as text."""

DEFAULT_WSGI_THREADS = 20
"""The most threads a WSGI application runs in at once (Twisted's
C{ThreadPool} default, as C{twist web --wsgi} has)."""


class RootError(ValueError):
    """
    A root cannot be made; the message says why and what to do, in one
    line.
    """


def _firstLine(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def fileRoot(
    path: Path,
    *,
    cacheControl: CacheControl,
    indexNames: Sequence[str] = (),
    defaultType: str | None = None,
    ignoredExtensions: Sequence[str] = (),
    processors: Mapping[str, Callable[..., IResource]] | None = None,
) -> Resource:
    """
    Serve a directory as C{twist web --path} does, with validators: its
    C{.rpy}, C{.epy} and C{.cgi} files run, the rest are served as files.
    A file is served at C{/}, and nothing else.

    @param path: The directory or file.
    @param cacheControl: The files' C{Cache-Control}.
    @param indexNames: The names of a directory's index files, in order of
        preference; C{File}'s when empty.
    @param defaultType: The type of a file whose extension says none.
    @param ignoredExtensions: Extensions a request may leave out, in order
        (C{*} for any).
    @param processors: Extensions (with their dot) and what makes the
        resource of a file that ends with one, called with the file's path
        and the registry; added to L{DEFAULT_PROCESSORS}.
    @return: The root resource.
    """
    files = ValidatedFile(str(path), cacheControl=cacheControl)
    merged: dict[str, Any] = {**DEFAULT_PROCESSORS, **(processors or {})}
    files.processors = merged
    if indexNames:
        files.indexNames = list(indexNames)
    if defaultType is not None:
        files.defaultType = defaultType
    for extension in ignoredExtensions:
        files.ignoreExt(extension)
    if path.is_dir():
        return files
    single = Resource()
    single.putChild(b"", files)
    return single


def namedCallable(name: str) -> Callable[..., Any]:
    """
    @param name: A fully qualified name, C{package.module.name}, or
        C{package.module:name} as gunicorn spells it, importable from the
        current directory.
    @return: What it names.
    @raise RootError: It cannot be imported, or it is not callable.
    """
    if os.getcwd() not in sys.path and "" not in sys.path:
        # As gunicorn and python -m do: an application beside the command.
        sys.path.insert(0, os.getcwd())
    moduleName, colon, attribute = name.partition(":")
    try:
        if colon:
            found: Any = import_module(moduleName)
            for part in attribute.split("."):
                found = getattr(found, part)
        else:
            found = namedAny(name)
    except Exception as e:
        # Anything a module raises while it loads (a syntax error, a
        # framework that is not configured) is the operator's to see.
        reason = _firstLine(e)
        raise RootError(
            f"cannot load it ({reason}): give package.module.name of an "
            f"object importable from {os.getcwd()} or the Python path"
        ) from None
    if not callable(found):
        raise RootError(
            f"names a {type(found).__name__}, which cannot be called: name "
            "the application or class itself"
        )
    return found  # type: ignore[no-any-return]


def wsgiRoot(reactor: Any, pool: ThreadPool, name: str) -> WSGIResource:
    """
    @param reactor: The reactor the application's responses go out on.
    @param pool: The thread pool the application runs in.
    @param name: The application's name, as for L{namedCallable}.
    @return: A C{WSGIResource} serving it.
    @raise RootError: It cannot be loaded.
    """
    return WSGIResource(reactor, pool, namedCallable(name))


def classRoot(name: str) -> IResource:
    """
    @param name: The name of a resource class (as for L{namedCallable})
        whose constructor takes no argument.
    @return: An instance of it.
    @raise RootError: It cannot be loaded or made, or makes no resource.
    """
    made = namedCallable(name)
    try:
        root = made()
    except Exception as e:
        raise RootError(
            f"calling it with no argument failed ({_firstLine(e)}): give a "
            "class whose constructor takes no argument"
        ) from None
    if not IResource.providedBy(root):
        raise RootError(
            f"made a {type(root).__name__}, not a resource: give a "
            "twisted.web.resource.Resource subclass"
        )
    return root


def scriptRoot(path: Path) -> IResource:
    """
    Serve a resource script (an C{.rpy} file) as C{twist web
    --resource-script} does: the script runs for each request, so an edit
    takes effect without a restart.

    @param path: The script.
    @return: Its wrapper resource.
    @raise RootError: The file cannot be read or is not valid Python; the
        message gives the line.
    """
    try:
        source = path.read_bytes()
    except OSError as e:
        raise RootError(
            f"cannot read it ({e.strerror or _firstLine(e)}): give a readable .rpy file"
        ) from None
    try:
        compile(source, str(path), "exec")
    except SyntaxError as e:
        raise RootError(
            f"line {e.lineno}: {e.msg}: fix the script (it must set resource)"
        ) from None
    return script.ResourceScriptWrapper(str(path))


class UserDirectories(distrib.UserDirectory):
    """
    Every user's C{~/public_html} at C{/USER/}, and their personal servers
    (C{~/.twistd-web-pb}) at C{/USER.twistd/}, as C{twist web --user}
    serves them, with the files' validators; the same on every Twisted
    release txpush supports (22.4's C{UserDirectory} compares the path's
    bytes with text, and answers every request with an error).

    @ivar cacheControl: The files' C{Cache-Control}.
    """

    def __init__(self, cacheControl: CacheControl, userDatabase: Any = None) -> None:
        """
        @param cacheControl: The files' C{Cache-Control}.
        @param userDatabase: The user database, C{pwd}'s by default.
        """
        super().__init__(userDatabase)
        self.cacheControl = cacheControl

    def getChild(self, name: bytes, request: Any) -> IResource:
        """
        @param name: C{USER}, or C{USER.twistd}, or empty for the listing.
        @param request: The request.
        @return: The user's directory, personal server, or not found.
        """
        if name == b"":
            return self
        username, twistd = name, name.endswith(b".twistd")
        if twistd:
            username = name[: -len(b".twistd")]
        try:
            home = self._pwd.getpwnam(username.decode(sys.getfilesystemencoding()))[5]
        except (KeyError, UnicodeDecodeError):
            return ValidatedFile.childNotFound
        if twistd:
            subscription = distrib.ResourceSubscription(
                "unix", os.path.join(home, self.userSocketName)
            )
            self.putChild(name, subscription)
            return subscription
        path = os.path.join(home, self.userDirName)
        if not os.path.isdir(path):
            return ValidatedFile.childNotFound
        return ValidatedFile(path, cacheControl=self.cacheControl)


def userRoot(cacheControl: CacheControl) -> IResource:
    """
    @param cacheControl: The files' C{Cache-Control}.
    @return: Every user's C{~/public_html}, at C{/USER/}, as C{twist web
        --user} serves them.
    """
    return UserDirectories(cacheControl)
