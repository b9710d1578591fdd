"""
Header blocks that need no connection's HPACK state: each field a literal
"without indexing" (RFC 7541 section 6.2.2), its name taken from the static
table where it is there.

Such a block decodes the same on every connection and leaves the decoder's
dynamic table as it was, so it can be encoded once and sent on any
connection, in any order with the blocks of the connection's own encoder.
txpush sends a page's C{103 Early Hints} this way: the same block for every
request of the page.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

# RFC 7541 Appendix A: the static table's index of each name used here.
_STATIC_NAMES = {b":status": 8, b"link": 45}


def _integer(value: int, prefixBits: int, firstByte: int) -> bytes:
    # RFC 7541 section 5.1.
    limit = (1 << prefixBits) - 1
    if value < limit:
        return bytes([firstByte | value])
    encoded = bytearray([firstByte | limit])
    value -= limit
    while value >= 128:
        encoded.append((value & 0x7F) | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def _string(value: bytes) -> bytes:
    # RFC 7541 section 5.2, without Huffman coding.
    return _integer(len(value), 7, 0) + value


@functools.lru_cache(maxsize=1024)
def statelessHeaderBlock(fields: tuple[tuple[bytes, bytes], ...]) -> bytes:
    """
    Encode header fields as a block that uses no dynamic table.

    @param fields: The fields, in order: lower-case names (pseudo-header
        fields first), values as they are to be sent.
    @return: The HPACK block.  The same fields give the same bytes (they are
        encoded once).
    """
    block = bytearray()
    for name, value in fields:
        index = _STATIC_NAMES.get(name)
        if index is None:
            block += b"\x00" + _string(name)
        else:
            block += _integer(index, 4, 0)
        block += _string(value)
    return bytes(block)


def informationalBlock(status: bytes, links: Sequence[bytes]) -> bytes:
    """
    The header block of an informational response carrying C{Link} fields.

    @param status: Its status code, such as C{b"103"}.
    @param links: The C{Link} field values.
    @return: See L{statelessHeaderBlock}.
    """
    return statelessHeaderBlock(
        ((b":status", status), *((b"link", link) for link in links))
    )
