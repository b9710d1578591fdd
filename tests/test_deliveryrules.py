"""
The pure rules of what the digest may claim (L{txpush.delivery}), the
memory of failing assets (L{txpush.failedassets}) and
L{CacheDigest.discard<txpush.digest.CacheDigest.discard>}.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.delivery import UndeliveredBook, forbidsStoring, isDelivered
from txpush.digest import CacheDigest
from txpush.failedassets import FailedAssets


@pytest.mark.parametrize(
    ("values", "forbidden"),
    [
        ((), False),
        ((b"max-age=60",), False),
        ((b"no-store",), True),
        ((b"private, NO-STORE",), True),
        ((b"public", b"no-store"), True),
        ((b'no-cache="set-cookie"',), False),
        ((b"no-store=1",), True),
        ((b"no-storage",), False),
    ],
)
def test_forbidsStoring(values, forbidden):
    """
    Only the no-store directive, in any field and any case, forbids keeping
    a response.
    """
    assert forbidsStoring(values) is forbidden


@pytest.mark.parametrize(
    ("status", "completed", "noStore", "delivered"),
    [
        (200, True, False, True),
        (200, False, False, False),
        (200, True, True, False),
        (206, True, False, False),
        (304, True, False, False),
        (301, True, False, False),
        (404, True, False, False),
        (500, True, False, False),
        (None, False, False, False),
    ],
)
def test_isDelivered(status, completed, noStore, delivered):
    """
    A whole 200 the client may keep is delivered; nothing else is.
    """
    assert isDelivered(status, completed, noStore) is delivered


def test_bookIsTakenOnceByItsClient():
    """
    An entry is for one address and cookie, and is taken once.
    """
    book = UndeliveredBook()
    book.undelivered("192.0.2.1", "AAA", b"/a.js", 1.0)
    book.undelivered("192.0.2.1", "AAA", b"/b.png", 2.0)
    assert book.take("192.0.2.2", "AAA", 3.0) == frozenset()
    assert book.take("192.0.2.1", "AAB", 3.0) == frozenset()
    assert book.holdsFor("192.0.2.1") and not book.holdsFor("192.0.2.2")
    assert book.take("192.0.2.1", "AAA", 3.0) == {b"/a.js", b"/b.png"}
    assert book.take("192.0.2.1", "AAA", 3.0) == frozenset()
    assert len(book) == 0 and not book.holdsFor("192.0.2.1")


def test_bookEntriesExpireAndAreBounded():
    """
    An entry older than the lifetime is not applied; past the size, the
    oldest entry goes.
    """
    book = UndeliveredBook(maxEntries=2, lifetime=10)
    book.undelivered("a", "V", b"/x", 0.0)
    assert book.take("a", "V", 11.0) == frozenset()
    for client in ("a", "b", "c"):
        book.undelivered(client, "V", b"/x", 20.0)
    assert len(book) == 2 and not book.holdsFor("a")
    assert book.take("a", "V", 21.0) == frozenset()
    assert book.take("c", "V", 21.0) == {b"/x"}
    with pytest.raises(ValueError, match="maxEntries"):
        UndeliveredBook(maxEntries=0)


@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.sampled_from(["V", "W"]), st.binary()),
        max_size=30,
    )
)
def test_bookNeverHoldsMoreThanItsSize(entries):
    """
    Whatever is recorded, the book keeps at most its size, and what is
    taken was recorded for that client and cookie.
    """
    book = UndeliveredBook(maxEntries=3)
    for client, cookie, path in entries:
        book.undelivered(client, cookie, path, 0.0)
        assert len(book) <= 3
        assert book.holdsFor(client)
    for client in "abc":
        for cookie in "VW":
            taken = book.take(client, cookie, 0.0)
            assert taken <= {p for c, v, p in entries if (c, v) == (client, cookie)}


def test_failedAssetIsLeftOutUntilItsRetryTime():
    """
    A failure is news once; the pair fails until its retry time, then is
    tried again; other pages are not affected.
    """
    failures = FailedAssets(retryAfter=30)
    assert failures.failed(b"/", b"/a.js", 100.0) is True
    assert failures.failed(b"/", b"/a.js", 101.0) is False
    assert failures.isFailing(b"/", b"/a.js", 130.0)
    assert not failures.isFailing(b"/other", b"/a.js", 110.0)
    assert not failures.isFailing(b"/", b"/a.js", 131.0)
    assert failures.failed(b"/", b"/a.js", 140.0) is False
    failures.succeeded(b"/", b"/a.js")
    assert not failures.isFailing(b"/", b"/a.js", 141.0)
    assert failures.failed(b"/", b"/a.js", 150.0) is True


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"retryAfter": -1}, "retryAfter"), ({"maxEntries": 0}, "maxEntries")],
)
def test_failedAssetsRefuseBadSettings(arguments, message):
    """
    A negative retry time or an empty memory is refused, by name.
    """
    with pytest.raises(ValueError, match=message):
        FailedAssets(**arguments)


def test_failedAssetsAreBounded():
    """
    Past its size, the oldest pair is forgotten.
    """
    failures = FailedAssets(retryAfter=60, maxEntries=2)
    for name in (b"/a", b"/b", b"/c"):
        failures.failed(b"/", name, 0.0)
    assert not failures.isFailing(b"/", b"/a", 1.0)
    assert failures.isFailing(b"/", b"/c", 1.0)


@given(st.sets(st.binary(max_size=20), max_size=40), st.binary(max_size=20))
def test_discardForgetsThePathAndKeepsTheRest(paths, gone):
    """
    After discard, the path is not in the digest; every other path whose
    key differs is still there.
    """
    digest = CacheDigest(8)
    for path in paths:
        digest.add(path)
    before = len(digest)
    changed = digest.discard(gone)
    assert gone not in digest
    assert len(digest) == before - int(changed)
    survivor = CacheDigest(8)
    survivor.add(gone)
    for path in paths:
        probe = CacheDigest(8)
        probe.add(path)
        if probe.keys() != survivor.keys():
            assert path in digest
