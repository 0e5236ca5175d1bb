"""Which text encoding a file is in: byte-order mark, then the zero-byte pattern of BOM-less UTF-16/32, then
charset-normalizer (already a dependency of unstructured) for the 8-bit and multi-byte legacy encodings."""

from __future__ import annotations

import codecs
from pathlib import Path

# UTF-32 first: its little-endian mark begins with UTF-16's.
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
SAMPLE_BYTES = 65536


def _zero_pattern(head: bytes) -> str | None:
    """UTF-16/32 without a BOM: mostly-ASCII text leaves zero bytes at fixed positions of each code unit."""
    sample = head[: len(head) - len(head) % 4]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    share = [sample[i::4].count(0) / (len(sample) / 4) for i in range(4)]
    if share[1] > 0.9 and share[2] > 0.9 and share[3] > 0.9 and share[0] < 0.5:
        return "utf-32-le"
    if share[0] > 0.9 and share[1] > 0.9 and share[2] > 0.9 and share[3] < 0.5:
        return "utf-32-be"
    odd, even = (share[1] + share[3]) / 2, (share[0] + share[2]) / 2
    if odd > 0.7 and even < 0.3:
        return "utf-16-le"
    if even > 0.7 and odd < 0.3:
        return "utf-16-be"
    return None


def detect_encoding(head: bytes) -> str | None:
    """The codec that decodes these first bytes of a text file, or None when they are not text."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    wide = _zero_pattern(head)
    if wide:
        return wide
    if b"\x00" in head:
        return None
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4 and len(head) >= SAMPLE_BYTES:  # a character cut at the sample's end
            return "utf-8"
    if _plausible_western(head):
        return "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    return best.encoding if best is not None else None


# Non-ASCII characters that Western text in Windows-1252 is made of, besides accented Latin letters.
_WESTERN_SYMBOLS = set("€‘’“”–—…•°£§©®±·¢¥«»¿¡×÷ºª¹²³µ¶¼½¾\xa0")


def _plausible_western(head: bytes) -> bool:
    """Windows-1252, the commonest legacy encoding, checked before charset-normalizer, which guesses badly on
    short Western texts (it reads "Café ... Zürich ... €" as cp775): every non-ASCII character must be an
    accented Latin letter or a common symbol, and they must be a minority of the text (unlike in CJK text)."""
    try:
        text = head.decode("cp1252")
    except UnicodeDecodeError:
        return False
    wide = [c for c in text if ord(c) > 127]
    return (len(wide) < 0.3 * len(text)
            and all(c in _WESTERN_SYMBOLS or (c.isalpha() and 0xC0 <= ord(c) <= 0x24F) for c in wide))


def read_text(path: Path) -> str:
    """A text file's content in whatever encoding it is; ValueError when it is not text."""
    data = path.read_bytes()
    codec = detect_encoding(data[:SAMPLE_BYTES])
    if codec is None:
        raise ValueError("the content is not text in any encoding we recognise (binary data?)")
    return data.decode(codec, errors="replace")
