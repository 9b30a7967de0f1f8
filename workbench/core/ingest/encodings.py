"""Text encodings of source files: detection and line-aware decoding.

This module owns how the bytes of a text source become text. :func:`detect_encoding` decides the
encoding of a file from a bounded sample and then checks the choice over the whole file in one
streaming pass. :func:`iter_decoded_lines` decodes a file line by line so that one line with bytes
that are invalid in the encoding is reported on its own (as :class:`UndecodableLine`) while every
other line is decoded normally.

Line-aware decoding is sound for UTF-8, GB18030/GBK, Big5, the EUC and Shift-JIS families and every
single-byte code page: in all of them the bytes ``0x0A`` (LF) and ``0x0D`` (CR) only ever mean LF and
CR, never a part of a multi-byte character. UTF-16 and UTF-32 are decoded as a stream instead.
"""

from __future__ import annotations

import codecs
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from workbench.errors import SourceError

log = logging.getLogger(__name__)

SAMPLE_BYTES = 1 << 20
"""Bytes read from the start of a file to decide its encoding."""

CHUNK_BYTES = 1 << 22
"""Bytes decoded at once while streaming (whole chunks decode at C speed when they are clean)."""

MAX_BAD_LINE_SHARE = 0.01
"""Share of lines that may fail to decode before an encoding counts as wrong (at least one line)."""

MIN_GB2312_SHARE = 0.5
"""GB18030 is only believed when at least this share of the decoded non-ASCII characters are common
Chinese characters (see :func:`_gb2312_share`): Windows-1252, UTF-8 or Big5 bytes also decode as
GB18030, but mostly into rare characters."""

UTF8_BOM = codecs.BOM_UTF8
_WIDE_ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding chosen for a file, how sure the choice is and why it was made."""

    encoding: str
    confidence: float
    reason: str


@dataclass(frozen=True)
class UndecodableLine:
    """A line whose bytes are not valid in the encoding.

    Attributes:
        offset: byte offset of the first bad byte in the file (0-based).
        raw: the line's bytes, without the line end.
        text: the line decoded with every bad byte shown as ``\\xNN``.
    """

    offset: int
    raw: bytes
    text: str


@dataclass(frozen=True)
class DecodeScan:
    """What decoding a file (or a sample) in one encoding found."""

    encoding: str
    lines: int
    bad_lines: int
    first_bad_line: int | None
    first_bad_offset: int | None
    nonascii_lines: int = 0
    text: str = ""

    @property
    def bad_share(self) -> float:
        """Share of the lines with invalid bytes (0 for no lines)."""
        return self.bad_lines / self.lines if self.lines else 0.0

    @property
    def acceptable(self) -> bool:
        """Few enough bad lines that they are bad rows, not a wrong encoding."""
        return self.bad_lines <= max(1, int(self.lines * MAX_BAD_LINE_SHARE)) and (
            self.bad_lines == 0 or self.nonascii_lines >= self.bad_lines or self.lines > 100
        )


def normalize_encoding(name: str) -> str:
    """The canonical Python codec name of `name` (``GBK`` → ``gbk``, ``utf8`` → ``utf-8``).

    Raises:
        SourceError: the codec is unknown.
    """
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise SourceError(f"unknown encoding {name!r}; use auto, utf-8, utf-8-sig, gbk or gb18030") from exc


def is_line_safe(encoding: str) -> bool:
    """Whether the bytes LF/CR can only mean LF/CR in `encoding` (so lines can be split as bytes)."""
    return normalize_encoding(encoding) not in _WIDE_ENCODINGS


def detect_line_end(sample: bytes) -> bytes:
    """The byte that ends lines: LF, or CR for files that use only CR (old Mac exports)."""
    if b"\n" not in sample and b"\r" in sample:
        return b"\r"
    return b"\n"


def detect_encoding(path: str | Path) -> EncodingGuess:
    """Decide the text encoding of a file.

    UTF-8 with BOM gives ``utf-8-sig``; valid UTF-8 gives ``utf-8``; else GB18030 (a superset of GBK,
    so GBK files are reported as ``gb18030``) when it decodes with few bad lines and the text is
    plausibly Chinese; else charset-normalizer's best guess. The decision is made on the first
    :data:`SAMPLE_BYTES` bytes and then checked over the whole file in a streaming pass.

    Args:
        path: the file.

    Returns:
        The guess with a confidence in [0, 1] and a reason a person can read.

    Raises:
        SourceError: the file does not exist or cannot be read.
    """
    path = Path(path)
    sample, truncated = _read_sample(path)
    marked = _guess_from_marks(path, sample)
    if marked is not None:
        return marked
    line_end = detect_line_end(sample)
    sample_guess = _guess_sample(sample, line_end)
    if sample_guess is None:
        return _guess_with_charset_normalizer(sample)
    if not truncated:
        return sample_guess
    return _check_whole_file(path, sample, sample_guess.encoding, line_end)


def _read_sample(path: Path) -> tuple[bytes, bool]:
    """The first :data:`SAMPLE_BYTES` of a file, cut to whole lines, and whether the file is longer."""
    try:
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    truncated = len(sample) > SAMPLE_BYTES
    sample = sample[:SAMPLE_BYTES]
    if truncated:
        # decide on whole lines only: a cut multi-byte character must not count as an error
        cut = sample.rfind(b"\n")
        if cut > 0:
            sample = sample[: cut + 1]
    return sample, truncated


def _guess_from_marks(path: Path, sample: bytes) -> EncodingGuess | None:
    """The encoding a byte-order mark or many NUL bytes (UTF-16/32) tell, ``utf-8`` for an empty
    file, else None."""
    if sample.startswith(UTF8_BOM):
        scan = scan_decoding(path, "utf-8-sig")
        if scan.bad_lines:
            return EncodingGuess(
                "utf-8-sig",
                0.9,
                f"UTF-8 byte-order mark; {scan.bad_lines} of {scan.lines} lines have invalid bytes "
                f"(first at line {scan.first_bad_line})",
            )
        return EncodingGuess("utf-8-sig", 1.0, "UTF-8 byte-order mark, and every line is valid UTF-8")
    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32")):
        if sample.startswith(bom):
            return EncodingGuess(name, 1.0, "UTF-32 byte-order mark")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return EncodingGuess("utf-16", 1.0, "UTF-16 byte-order mark")
    if sample and sample.count(0) > len(sample) // 4:
        wide = _guess_wide(sample)
        if wide:
            return wide
    if not sample:
        return EncodingGuess("utf-8", 1.0, "empty file")
    return None


def _guess_sample(sample: bytes, line_end: bytes) -> EncodingGuess | None:
    """ASCII, UTF-8 or GB18030 from the sample alone, or None when neither fits."""
    utf8 = scan_bytes(sample, "utf-8", line_end=line_end)
    if utf8.bad_lines == 0 and not _has_high_bytes(sample):
        return EncodingGuess("utf-8", 1.0, "ASCII only; read as UTF-8")
    gb = scan_bytes(sample, "gb18030", line_end=line_end, keep_text=True) if utf8.bad_lines else None
    return _choose(utf8, gb)


def _check_whole_file(path: Path, sample: bytes, candidate: str, line_end: bytes) -> EncodingGuess:
    """The full streaming check of the sample's `candidate`: the rest of the file must agree."""
    gb_full: DecodeScan | None
    if candidate == "utf-8":
        utf8_full = scan_decoding(path, "utf-8", line_end=line_end)
        gb_full = (
            scan_decoding(path, "gb18030", line_end=line_end, keep_text=True) if utf8_full.bad_lines else None
        )
    else:
        gb_full = scan_decoding(path, "gb18030", line_end=line_end, keep_text=True)
        if gb_full.acceptable:
            return _gb_guess(gb_full, _gb2312_share(gb_full.text), "in the whole file")
        utf8_full = scan_decoding(path, "utf-8", line_end=line_end)
    guess = _choose(utf8_full, gb_full, whole_file=True)
    return guess if guess is not None else _guess_with_charset_normalizer(sample)


def _choose(utf8: DecodeScan, gb: DecodeScan | None, *, whole_file: bool = False) -> EncodingGuess | None:
    """Pick UTF-8 or GB18030 from their scans, or None when neither fits."""
    where = "in the whole file" if whole_file else "in the sample"
    if utf8.bad_lines == 0:
        return EncodingGuess("utf-8", 0.99, f"every line is valid UTF-8 ({where})")
    # valid multi-byte UTF-8 hardly ever happens by chance, so many valid non-ASCII lines and a few
    # bad ones mean a UTF-8 file with a few damaged lines
    if utf8.acceptable and utf8.nonascii_lines >= 2 * utf8.bad_lines:
        return EncodingGuess(
            "utf-8",
            round(max(0.5, 0.95 - utf8.bad_share), 3),
            f"UTF-8 except {utf8.bad_lines} of {utf8.lines} lines with invalid bytes "
            f"(first at line {utf8.first_bad_line}, {where})",
        )
    if gb is not None and gb.acceptable and gb.nonascii_lines:  # evidence, not just no errors
        share = _gb2312_share(gb.text)
        if share >= MIN_GB2312_SHARE:
            return _gb_guess(gb, share, where)
    return None


def _gb_guess(scan: DecodeScan, gb2312_share: float, where: str) -> EncodingGuess:
    base = f"not valid UTF-8; decodes as GB18030 {where} (GBK text decodes as GB18030, its superset)"
    if scan.bad_lines:
        reason = (
            f"{base} except {scan.bad_lines} of {scan.lines} lines with invalid bytes "
            f"(first at line {scan.first_bad_line})"
        )
    else:
        reason = f"{base} with no invalid bytes"
    reason += f"; {gb2312_share:.0%} of the non-ASCII characters are common Chinese characters"
    confidence = max(0.5, min(0.98, 0.6 + 0.4 * gb2312_share - scan.bad_share))
    return EncodingGuess("gb18030", round(confidence, 3), reason)


def _guess_wide(sample: bytes) -> EncodingGuess | None:
    """UTF-16 or UTF-32 without a byte-order mark (many NUL bytes)."""
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    candidates = ["utf-32-le", "utf-32-be"] if sample[2::4].count(0) > len(sample) // 5 else []
    candidates += ["utf-16-le"] if odd_nul >= even_nul else ["utf-16-be"]
    for name in candidates:
        width = 4 if "32" in name else 2
        try:
            sample[: len(sample) - len(sample) % width].decode(name)
        except UnicodeDecodeError:
            continue
        return EncodingGuess(name, 0.9, f"many NUL bytes and the sample decodes as {name.upper()}")
    return None


PREFERRED_FALLBACKS = (
    "cp1252", "big5", "cp1250", "cp1251", "cp932", "shift_jis", "cp949", "euc_kr", "euc_jp",
    "iso8859_15", "koi8_r",
)  # fmt: skip
"""Encodings preferred, in this order, among charset-normalizer's equally good guesses: on short
samples it cannot tell apart code pages that decode the bytes equally well, and the exotic ones
(hp-roman8, johab…) are almost never what a business export uses."""


def _guess_with_charset_normalizer(sample: bytes) -> EncodingGuess:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        raise SourceError(
            "the file is neither UTF-8 nor GB18030/GBK text and no other text encoding fits; "
            "is it a binary file (e.g. an Excel workbook)? Set `format:` or `encoding:` in the config"
        )
    best = matches[0]
    near = [m for m in matches if float(m.chaos) <= float(best.chaos) + 0.02]
    chosen = best.encoding
    for preferred in PREFERRED_FALLBACKS:
        if any(preferred in m.could_be_from_charset for m in near):
            chosen = preferred
            break
    encoding = normalize_encoding(chosen)
    reason = "neither UTF-8 nor plausible GB18030/GBK (too many invalid bytes or rare characters); "
    if chosen == best.encoding:
        reason += f"charset-normalizer's best guess is {encoding}"
    else:
        reason += (
            f"charset-normalizer finds {encoding} as good as its first guess "
            f"{normalize_encoding(best.encoding)} and {encoding} is the more common one"
        )
    return EncodingGuess(encoding, round(max(0.1, 1.0 - float(best.chaos)) * 0.8, 3), reason)


def _has_high_bytes(data: bytes) -> bool:
    return not data.isascii()


def _gb2312_share(text: str) -> float:
    """Share of the non-ASCII characters that are common Chinese ones.

    Common means GB2312 punctuation and full-width forms (rows 0xA1-0xA3) or level-1 hanzi (rows
    0xB0-0xD7, the 3,755 most frequent characters). Real simplified Chinese text scores about 0.85 and
    more, even with rare characters in names; other encodings read as GB18030 score far lower
    (Windows-1252 about 0, UTF-8 about 0.1, Big5 about 0.25), because their bytes land on rare
    characters.
    """
    total = common = 0
    for ch, n in Counter(text).items():
        if ord(ch) < 0x80:
            continue
        total += n
        try:
            lead = ch.encode("gb2312")[0]
        except UnicodeEncodeError:
            continue
        if 0xA1 <= lead <= 0xA3 or 0xB0 <= lead <= 0xD7:
            common += n
    return common / total if total else 1.0


# --------------------------------------------------------------------------------------------
# scanning and line-aware decoding


def scan_bytes(data: bytes, encoding: str, *, line_end: bytes = b"\n", keep_text: bool = False) -> DecodeScan:
    """Decode `data` line by line and count the lines with invalid bytes (for a sample).

    Args:
        data: whole lines of a file.
        encoding: the codec.
        line_end: the line-end byte.
        keep_text: keep the decoded text of the good lines (for plausibility checks).
    """
    lines = data.split(line_end)
    if lines and lines[-1] == b"":
        lines.pop()
    bad = nonascii = 0
    first_bad_line = first_bad_offset = None
    texts: list[str] = []
    offset = 0
    for i, raw in enumerate(lines, start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            bad += 1
            if first_bad_line is None:
                first_bad_line, first_bad_offset = i, offset + exc.start
        else:
            if not raw.isascii():
                nonascii += 1
                if keep_text:
                    texts.append(text)
        offset += len(raw) + 1
    return DecodeScan(encoding, len(lines), bad, first_bad_line, first_bad_offset, nonascii, "\n".join(texts))


def scan_decoding(
    path: str | Path, encoding: str, *, line_end: bytes | None = None, keep_text: bool = False
) -> DecodeScan:
    """Decode a whole file in a streaming pass and count lines with invalid bytes.

    Clean chunks are decoded whole (fast); only a chunk with an error is decoded line by line.

    Args:
        path: the file.
        encoding: the codec (``utf-8-sig`` skips a leading byte-order mark).
        line_end: the line-end byte; default: detected from the start of the file.
        keep_text: keep up to :data:`SAMPLE_BYTES` of decoded non-ASCII text (plausibility checks).
    """
    lines = bad = nonascii = 0
    first_bad_line = first_bad_offset = None
    kept: list[str] = []
    kept_len = 0
    for block in iter_decoded_blocks(path, encoding, line_end=line_end):
        good: list[str]
        if UndecodableLine in set(map(type, block)):
            for i, item in enumerate(block, start=lines + 1):
                if isinstance(item, UndecodableLine):
                    bad += 1
                    if first_bad_line is None:
                        first_bad_line, first_bad_offset = i, item.offset
            good = [item for item in block if isinstance(item, str)]
        else:
            good = cast("list[str]", block)  # no UndecodableLine in it
        lines += len(block)
        n_ascii = sum(map(str.isascii, good))
        nonascii += len(good) - n_ascii
        if keep_text and kept_len < SAMPLE_BYTES and n_ascii < len(good):
            for text in good:
                if not text.isascii():
                    kept.append(text)
                    kept_len += len(text)
                    if kept_len >= SAMPLE_BYTES:
                        break
    return DecodeScan(encoding, lines, bad, first_bad_line, first_bad_offset, nonascii, "".join(kept))


def iter_decoded_lines(
    path: str | Path,
    encoding: str,
    *,
    line_end: bytes | None = None,
    chunk_bytes: int | None = None,
) -> Iterator[str | UndecodableLine]:
    """Yield the lines of a text file, decoded; a line with invalid bytes is yielded as an
    :class:`UndecodableLine` instead of stopping the read.

    Good lines keep their line end (``\\n`` or ``\\r\\n``) as Python's ``csv`` module expects.
    A leading UTF-8 byte-order mark is dropped. For UTF-16/32 the file is decoded as one stream
    and an invalid byte raises :class:`SourceError`.

    Args:
        path: the file.
        encoding: the codec.
        line_end: the byte that ends lines; default LF, or CR when the file's start has no LF.
        chunk_bytes: bytes read at once; default :data:`CHUNK_BYTES`.

    Raises:
        SourceError: the file cannot be read, or a UTF-16/32 file has invalid bytes.
    """
    for block in iter_decoded_blocks(path, encoding, line_end=line_end, chunk_bytes=chunk_bytes):
        yield from block


def iter_decoded_blocks(
    path: str | Path,
    encoding: str,
    *,
    line_end: bytes | None = None,
    chunk_bytes: int | None = None,
) -> Iterator[list[str | UndecodableLine]]:
    """Like :func:`iter_decoded_lines`, but yield the lines in lists of about `chunk_bytes`.

    A block that decodes cleanly is split at C speed, so reading in blocks is much faster than
    line by line; the concatenation of the blocks is exactly :func:`iter_decoded_lines`.
    """
    path = Path(path)
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    codec = normalize_encoding(encoding)
    if codec in _WIDE_ENCODINGS:
        yield from _iter_wide_blocks(path, codec)
        return
    if codec == "utf-8-sig":
        codec = "utf-8"
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    with fh:
        head = fh.read(chunk_bytes)
        base = 0
        if head.startswith(UTF8_BOM) and codec == "utf-8":
            head = head[len(UTF8_BOM) :]
            base = len(UTF8_BOM)
        if line_end is None:
            line_end = detect_line_end(head[:SAMPLE_BYTES])
        sep = line_end.decode("ascii")
        carry = b""
        block = head
        while True:
            if not block:
                if carry:
                    yield _decode_block(carry, codec, base, line_end, sep)
                return
            data = carry + block if carry else block
            cut = data.rfind(line_end) + 1
            if cut == 0:
                carry = data
            else:
                carry = data[cut:]
                yield _decode_block(data[:cut], codec, base, line_end, sep)
                base += cut
            block = fh.read(chunk_bytes)


# characters other than LF and CR that str.splitlines() treats as line breaks
_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _splitlines_is_safe(text: str) -> bool:
    """Whether ``text.splitlines()`` splits only at LF and CRLF, as csv does (a lone CR or another
    break character inside a line must not split it)."""
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return False
    return not any(ch in text for ch in _OTHER_BREAKS)


def _decode_block(
    data: bytes, codec: str, base: int, line_end: bytes, sep: str
) -> list[str | UndecodableLine]:
    """Decode whole lines; `data` ends with a line end unless it holds the file's last line."""
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        pass
    else:
        if sep == "\n" and _splitlines_is_safe(text):
            return cast("list[str | UndecodableLine]", text.splitlines(keepends=True))
        parts = text.split(sep)
        last = parts.pop()  # '' after the final line end, or an unterminated last line
        lines: list[str | UndecodableLine] = [part + sep for part in parts]
        if last:
            lines.append(last)
        return lines
    out: list[str | UndecodableLine] = []
    offset = base
    raws = data.split(line_end)
    last_raw = raws.pop()
    for raw in raws:
        out.append(_decode_line(raw, codec, offset, sep))
        offset += len(raw) + len(line_end)
    if last_raw:
        out.append(_decode_line(last_raw, codec, offset, ""))
    return out


def _decode_line(raw: bytes, codec: str, offset: int, sep: str) -> str | UndecodableLine:
    try:
        return raw.decode(codec) + sep
    except UnicodeDecodeError as exc:
        body = raw[:-1] if raw.endswith(b"\r") else raw
        return UndecodableLine(offset + exc.start, body, body.decode(codec, errors="backslashreplace"))


def _iter_wide_blocks(path: Path, codec: str, size: int = 10_000) -> Iterator[list[str | UndecodableLine]]:
    import io

    try:
        raw = path.open("rb")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    with io.TextIOWrapper(raw, encoding=codec, newline="") as fh:
        line_no = 0
        block: list[str | UndecodableLine] = []
        try:
            for line in fh:
                line_no += 1
                if line_no == 1:
                    line = line.lstrip("\ufeff")
                block.append(line)
                if len(block) >= size:
                    yield block
                    block = []
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{path}: invalid bytes for {codec} after line {line_no} ({exc.reason}); "
                f"check the file's encoding or set `encoding: auto`"
            ) from exc
        if block:
            yield block
