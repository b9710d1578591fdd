"""
The roots of C{twist txpush} in memory: users' directories (C{--user}) and
single files (C{--path FILE}), as C{Site} finds and renders them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from twisted.python.fakepwd import UserDatabase
from twisted.web.resource import getChildForRequest
from twisted.web.test.requesthelper import DummyRequest

from txpush.roots import (
    RootError,
    UserDirectories,
    classRoot,
    fileRoot,
    namedCallable,
    scriptRoot,
)
from txpush.staticfiles import CacheControl


def render(root: Any, path: bytes) -> tuple[int, bytes, DummyRequest]:
    """Find and render the resource for path; return status, body, request."""
    request = DummyRequest(path.split(b"/")[1:])
    resource = getChildForRequest(root, request)
    result = resource.render(request)
    if isinstance(result, bytes):
        request.write(result)
        request.finish()
    return request.responseCode or 200, b"".join(request.written), request


@pytest.fixture
def users(tmp_path: Path) -> UserDirectories:
    home = tmp_path / "alice"
    (home / "public_html").mkdir(parents=True)
    (home / "public_html" / "note.txt").write_text("alice's note")
    (tmp_path / "bob").mkdir()
    database = UserDatabase()
    database.addUser("alice", "x", 1000, 1000, "Alice", str(home), "/bin/sh")
    database.addUser("bob", "x", 1001, 1001, "Bob", str(tmp_path / "bob"), "/bin/sh")
    return UserDirectories(CacheControl(), database)


def test_userDirectory(users):
    """
    /USER/FILE is the file of the user's ~/public_html, served with the
    files' Cache-Control.
    """
    status, body, request = render(users, b"/alice/note.txt")
    assert (status, body) == (200, b"alice's note")
    assert request.responseHeaders.getRawHeaders(b"cache-control") == [b"no-cache"]


@pytest.mark.parametrize("path", [b"/bob/note.txt", b"/carol/", b"/\xff/"])
def test_noUserDirectory(users, path):
    """
    A user without ~/public_html, an unknown user and a name that is not
    text are not found.
    """
    status, _, _ = render(users, path)
    assert status == 404


def test_listing(users):
    """/ lists the users, with links to their directories."""
    status, body, _ = render(users, b"/")
    assert status == 200
    assert b'href="alice/"' in body


def test_fileRootServesTheFileAtTheRootOnly(tmp_path):
    """--path FILE: the file at /, nothing elsewhere."""
    (tmp_path / "one.html").write_text("<p>one</p>")
    root = fileRoot(tmp_path / "one.html", cacheControl=CacheControl())
    assert render(root, b"/")[:2] == (200, b"<p>one</p>")
    assert render(root, b"/other")[0] == 404


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("no.such.module.app", "cannot load it (ObjectNotFound"),
        ("txpush.roots:noSuchName", "cannot load it (AttributeError"),
        ("txpush.roots.DEFAULT_WSGI_THREADS", "names a int, which cannot be called"),
    ],
)
def test_namedCallableMistakes(name, fragment):
    with pytest.raises(RootError, match=fragment.replace("(", r"\(")):
        namedCallable(name)


def test_namedCallableColonSpelling():
    """gunicorn's module:name spelling names the same object."""
    assert namedCallable("txpush.roots:fileRoot") is fileRoot


def test_classRootMistakes():
    with pytest.raises(RootError, match="not a resource"):
        classRoot("tests.webroots.NotAResource")
    with pytest.raises(RootError, match="with no argument failed"):
        classRoot("txpush.staticfiles.ValidatedFile")


def test_scriptRootSyntaxError(tmp_path):
    """A resource script that is not Python is refused with its line."""
    script = tmp_path / "root.rpy"
    script.write_text("resource = 1\ndef (:\n")
    with pytest.raises(RootError, match="line 2: invalid syntax"):
        scriptRoot(script)
