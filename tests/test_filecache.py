"""
L{SmallFileCache} keeps small files' bytes for as long as they are
unchanged on disk, within its caps: in memory, on real files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from txpush.filecache import SETTLING_SECONDS, SmallFileCache, fileVersion


def later() -> float:
    """A clock for which every file written so far has settled."""
    return time.time() + SETTLING_SECONDS + 1


def bodyOf(cache: SmallFileCache, path: Path) -> bytes | None:
    """The cache's answer for C{path} as it is now."""
    return cache.bodyOf(str(path), os.stat(path))


def test_keptUntilChanged(tmp_path):
    """
    A file is read once, then served from memory (the same object) until
    it is rewritten, even at the same size and with its old time restored.
    """
    file = tmp_path / "a.css"
    file.write_bytes(b"a{color:red}")
    cache = SmallFileCache(clock=later)
    first = bodyOf(cache, file)
    assert first == b"a{color:red}"
    assert bodyOf(cache, file) is first
    status = os.stat(file)
    file.write_bytes(b"a{color:tan}")
    os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert bodyOf(cache, file) == b"a{color:tan}"
    assert cache.totalBytes == len(b"a{color:tan}")


def test_replacedByRename(tmp_path):
    """
    A file replaced by renaming another over it (as editors and deploys
    do) is a new version.
    """
    file, new = tmp_path / "app.js", tmp_path / "app.js.new"
    file.write_bytes(b"old();")
    cache = SmallFileCache(clock=later)
    assert bodyOf(cache, file) == b"old();"
    new.write_bytes(b"new();")
    os.replace(new, file)
    assert bodyOf(cache, file) == b"new();"


def test_largeFilesAndDirectoriesAreNotKept(tmp_path):
    """
    A file larger than C{maxFileBytes}, and a directory, are left to be
    served from disk.
    """
    cache = SmallFileCache(maxFileBytes=10, clock=later)
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(b"x" * 10)
    large.write_bytes(b"x" * 11)
    assert bodyOf(cache, small) == b"x" * 10
    assert bodyOf(cache, large) is None
    assert bodyOf(cache, tmp_path) is None
    assert cache.totalBytes == 10


def test_changedWhileRead(tmp_path):
    """
    A C{stat} taken before the file changed does not get the new bytes
    kept under the old version.
    """
    file = tmp_path / "page.html"
    file.write_bytes(b"<p>one</p>")
    before = os.stat(file)
    file.write_bytes(b"<p>two, longer</p>")
    cache = SmallFileCache(clock=later)
    assert cache.bodyOf(str(file), before) is None
    assert cache.totalBytes == 0
    assert bodyOf(cache, file) == b"<p>two, longer</p>"


def test_missingFile(tmp_path):
    """
    A file removed after its C{stat} was taken is not served from memory.
    """
    file = tmp_path / "gone.txt"
    file.write_bytes(b"here")
    status = os.stat(file)
    file.unlink()
    assert SmallFileCache(clock=later).bodyOf(str(file), status) is None


def test_leastRecentlyUsedDropped(tmp_path):
    """
    Beyond C{maxTotalBytes}, the least recently used files are dropped, and
    read again when asked for.
    """
    cache = SmallFileCache(maxFileBytes=100, maxTotalBytes=250, clock=later)
    files = []
    for name in "abc":
        file = tmp_path / name
        file.write_bytes(name.encode() * 100)
        files.append(file)
    a = bodyOf(cache, files[0])
    bodyOf(cache, files[1])
    assert bodyOf(cache, files[0]) is a  # a is now the most recently used
    bodyOf(cache, files[2])  # drops b
    assert cache.totalBytes == 200
    assert bodyOf(cache, files[0]) is a
    assert bodyOf(cache, files[1]) == b"b" * 100  # read again, dropping c
    assert cache.totalBytes == 200


def test_freshFilesAreReadEachTime(tmp_path):
    """
    A file changed within L{SETTLING_SECONDS} is read from disk each time:
    a second write in the same tick of the file system's clock could leave
    its C{stat} as it was.
    """
    file = tmp_path / "fresh.css"
    file.write_bytes(b"a{}")
    now = os.stat(file).st_ctime
    cache = SmallFileCache(clock=lambda: now + SETTLING_SECONDS / 2)
    first = bodyOf(cache, file)
    assert first == b"a{}"
    assert bodyOf(cache, file) is not first
    assert cache.totalBytes == 0


def test_fileVersion(tmp_path):
    """
    The version changes with the content and with the mode.
    """
    file = tmp_path / "f"
    file.write_bytes(b"1")
    first = fileVersion(os.stat(file))
    os.chmod(file, 0o600)
    assert fileVersion(os.stat(file)) != first


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.one_of(st.none(), st.binary(max_size=40)),
        ),
        max_size=30,
    )
)
def test_alwaysTheBytesOnDisk(tmp_path_factory, steps):
    """
    Whatever the writes and reads of settled files, the cache answers with
    the bytes on disk (or L{None} for a file too large), and keeps within
    its cap.
    """
    directory = tmp_path_factory.mktemp("files")
    cache = SmallFileCache(maxFileBytes=30, maxTotalBytes=50, clock=later)
    for step, (name, content) in enumerate(steps):
        file = directory / name
        if content is not None:
            file.write_bytes(content)
            # Each write a time of its own, as a settled file has.
            os.utime(file, ns=(10**18 + step, 10**18 + step))
        if not file.exists():
            continue
        body = bodyOf(cache, file)
        onDisk = file.read_bytes()
        assert body == (onDisk if len(onDisk) <= 30 else None)
        assert cache.totalBytes <= 50
