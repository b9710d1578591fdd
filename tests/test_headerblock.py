"""
Header blocks without HPACK state decode, with a real HPACK decoder, to the
fields given, and leave its dynamic table as it was.
"""

from __future__ import annotations

from hpack import Decoder, Encoder
from hyperframe.frame import Frame, HeadersFrame
from hypothesis import given
from hypothesis import strategies as st

from txpush._twisted.sending import headersFrame
from txpush.headerblock import informationalBlock, statelessHeaderBlock

NAMES = st.sampled_from([b":status", b"link", b"x-custom", b"a" * 200])
VALUES = st.binary(max_size=300).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"")
)


def decoded(decoder: Decoder, block: bytes) -> list[tuple[bytes, bytes]]:
    """The fields of C{block}, as bytes."""
    return [(bytes(n), bytes(v)) for n, v in decoder.decode(block, raw=True)]


def test_informational():
    """
    A 103 with two links decodes to its status and links, with nothing
    added to the decoder's table.
    """
    links = [
        b"</style.css>; rel=preload; as=style",
        b"</app.js>; rel=preload; as=script",
    ]
    decoder = Decoder()
    assert decoded(decoder, informationalBlock(b"103", links)) == [
        (b":status", b"103"),
        (b"link", links[0]),
        (b"link", links[1]),
    ]
    assert len(decoder.header_table.dynamic_entries) == 0


@given(st.lists(st.tuples(NAMES, VALUES), max_size=8))
def test_anyFields(fields):
    """
    Any fields, long names and values (whose lengths take more than one
    byte) included, decode as given, between blocks of a stateful encoder
    whose decoder stays in step.
    """
    encoder, decoder = Encoder(), Decoder()
    before = [(b"x-before", b"indexed"), (b"link", b"</a.js>; rel=preload")]
    assert decoded(decoder, encoder.encode(before)) == before
    block = statelessHeaderBlock(tuple(fields))
    assert decoded(decoder, block) == fields
    assert decoded(decoder, encoder.encode(before)) == before


@given(st.integers(1, 2**31 - 1), st.binary(max_size=2000))
def test_headersFrame(streamID, block):
    """
    The HEADERS frame written by hand parses, with hyperframe, to the same
    frame hyperframe would make: the block whole, END_HEADERS, no padding.
    """
    data = headersFrame(streamID, block)
    frame, length = Frame.parse_frame_header(memoryview(data[:9]))
    frame.parse_body(memoryview(data[9:]))
    assert isinstance(frame, HeadersFrame) and length == len(block)
    assert (frame.stream_id, frame.data, set(frame.flags)) == (
        streamID,
        block,
        {"END_HEADERS"},
    )
    expected = HeadersFrame(streamID, data=block)
    expected.flags.add("END_HEADERS")
    assert data == expected.serialize()
