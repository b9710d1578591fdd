"""
The per-connection push diary.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.diary import PushDiary


def test_remembersPushedPaths():
    """
    A pushed path is in the diary; another is not.
    """
    diary = PushDiary()
    diary.add(b"/app.js")
    assert b"/app.js" in diary
    assert b"/style.css" not in diary
    assert len(diary) == 1


def test_forgetsTheLeastRecentlyPushed():
    """
    Past its size, the diary forgets the path pushed longest ago; pushing a
    path again makes it recent.
    """
    diary = PushDiary(size=2)
    diary.add(b"/a")
    diary.add(b"/b")
    diary.add(b"/a")
    diary.add(b"/c")
    assert (b"/a" in diary, b"/b" in diary, b"/c" in diary) == (True, False, True)


@given(st.integers(1, 20), st.lists(st.binary(max_size=4), max_size=200))
def test_boundedAndHoldsTheMostRecent(size, paths):
    """
    Whatever is added, the diary holds at most C{size} paths, and always the
    C{size} most recently added distinct ones.
    """
    diary = PushDiary(size)
    for path in paths:
        diary.add(path)
    recent = list(dict.fromkeys(reversed(paths)))[:size]
    assert len(diary) == len(recent)
    assert all(path in diary for path in recent)


def test_sizeAtLeastOne():
    """
    A diary that could hold nothing is refused.
    """
    with pytest.raises(ValueError, match="at least 1"):
        PushDiary(0)
