"""Pattern masks: the shape of a value, one symbol per class of characters.

This module owns the mask: ASCII digits → ``9``, Latin letters → ``A``/``a``, CJK ideographs → ``汉``,
whitespace → ``_``, full-width digits/letters → ``９``/``Ａ``/``ａ`` (so full-width input shows),
other letters (kana, hangul …) → ``L``; punctuation is kept and runs are kept, so
``138-0013-8000`` → ``999-9999-9999`` while ``13800138000`` → ``99999999999``.

The rules are data (:data:`MASK_RULES`, a tuple of :class:`MaskRule`). :func:`mask_expression`
turns them into SQL; :func:`mask_values` masks an Arrow array with numpy through a lookup table
that DuckDB computes from that same SQL, so the two always agree.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.engine.connection import connect
from workbench.engine.sql import literal
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class MaskRule:
    """How one class of characters shows in a pattern mask.

    A character matches the rule when it lies in ``first..last`` (code point order), or is one of
    `chars`, or fully matches the RE2 class `pattern`. The first matching rule wins.

    Attributes:
        replacement: the mask symbol, or ``None`` to keep the character as it is.
    """

    replacement: str | None
    first: str | None = None
    last: str | None = None
    chars: str = ""
    pattern: str | None = None


MASK_RULES: tuple[MaskRule, ...] = (
    MaskRule("9", first="0", last="9"),
    MaskRule("A", first="A", last="Z"),
    MaskRule("a", first="a", last="z"),
    MaskRule("_", chars=" \t\n\r\f\v"),
    MaskRule(None, first="\x00", last="\x7f"),  # ASCII punctuation is kept
    MaskRule("汉", first="\u4e00", last="\u9fff"),  # the main CJK block, before the slower class test
    MaskRule("９", first="０", last="９"),
    MaskRule("Ａ", first="Ａ", last="Ｚ"),
    MaskRule("ａ", first="ａ", last="ｚ"),
    MaskRule("汉", pattern=r"\p{Han}"),
    MaskRule("_", pattern=r"\p{Z}"),  # U+3000 and other non-ASCII spaces
    MaskRule("A", pattern=r"\p{Lu}"),  # other upper-case letters (É, Ж …)
    MaskRule("a", pattern=r"\p{Ll}"),
    MaskRule("L", pattern=r"\p{L}"),  # letters without case (kana, hangul …)
)
"""The pattern mask, one rule per character class (see the module docstring); other characters
(punctuation, full-width brackets …) are kept."""


def mask_expression(expr: str, rules: Sequence[MaskRule] = MASK_RULES) -> str:
    """SQL expression giving the pattern mask of the VARCHAR SQL expression `expr`.

    The value is split into characters and each is mapped by a ``CASE`` over `rules` in one
    vectorised lambda: several times faster in DuckDB than one ``regexp_replace`` per class.
    """
    if not rules:
        raise WorkbenchError("a pattern mask needs at least one rule")
    whens = []
    for rule in rules:
        conditions = []
        if rule.first is not None or rule.last is not None:
            if rule.first is None or rule.last is None:
                raise WorkbenchError(f"mask rule {rule!r}: give both `first` and `last` of the range")
            conditions.append(f"c BETWEEN {_char_literal(rule.first)} AND {_char_literal(rule.last)}")
        if rule.chars:
            conditions.append(f"c IN ({', '.join(_char_literal(ch) for ch in rule.chars)})")
        if rule.pattern is not None:
            conditions.append(f"regexp_full_match(c, {literal(rule.pattern)})")
        if not conditions:
            raise WorkbenchError(f"mask rule {rule!r} matches nothing; give a range, chars or a pattern")
        if rule.replacement is not None and len(rule.replacement) != 1:
            raise WorkbenchError(f"mask rule {rule!r}: the replacement must be one character")
        then = "c" if rule.replacement is None else literal(rule.replacement)
        whens.append(f"WHEN {' OR '.join(conditions)} THEN {then}")
    case = f"CASE {' '.join(whens)} ELSE c END"
    return f"array_to_string(list_transform(string_split({expr}, ''), lambda c: {case}), '')"


def _char_literal(ch: str) -> str:
    """One character as SQL: a string literal, or ``chr(<code point>)`` when it is not printable.

    :func:`workbench.engine.sql.literal` refuses NUL (the first rule's range starts at U+0000) and
    would put control characters (tab, newline …) raw into the SQL text; ``chr(n)`` keeps the
    generated CASE one readable line and covers every code point.
    """
    if len(ch) != 1:
        raise WorkbenchError(f"expected one character, got {ch!r}")
    return literal(ch) if ch.isprintable() else f"chr({ord(ch)})"


def mask_values(values: pa.Array | pa.ChunkedArray, rules: Sequence[MaskRule] = MASK_RULES) -> pa.Array:
    """The pattern masks of many strings at once, the same as :func:`mask_expression` gives.

    Masking maps each character to one character, so it is a table lookup on code points: the
    strings are decoded in one go (to UTF-16, or UTF-32 when a character lies beyond the BMP),
    mapped with numpy and encoded back; only characters whose UTF-8 length changes need work on
    the string offsets. The lookup table is computed once by DuckDB from :func:`mask_expression`,
    so both always agree. Several times faster than masking in SQL, the profile's costliest step.

    Args:
        values: strings without NULLs (an Arrow string array or chunked array).
        rules: the mask rules.

    Returns:
        A ``large_string`` array of masks, in the order of `values`.
    """
    if isinstance(values, pa.ChunkedArray):
        chunks = [mask_values(chunk, rules) for chunk in values.chunks]
        return pa.concat_arrays(chunks) if chunks else pa.array([], type=pa.large_string())
    if values.null_count:
        raise WorkbenchError("mask_values got NULL values; mask only present values")
    arr = values.cast(pa.large_string())
    n = len(arr)
    if n == 0:
        return pa.array([], type=pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    raw = memoryview(arr.buffers()[2] or b"")[start:end]
    # UTF-8 lead bytes 0xF0.. start the characters beyond the BMP, which need UTF-32
    wide = end > start and int(np.frombuffer(raw, dtype=np.uint8).max()) >= 0xF0
    table = _mask_table(tuple(rules), bmp_only=not wide)
    encoding = "utf-32-le" if table.dtype == np.uint32 else "utf-16-le"
    units = np.frombuffer(str(raw, "utf-8").encode(encoding), dtype=table.dtype)
    masked = table[units]
    out = masked.tobytes().decode(encoding).encode("utf-8")
    delta = _utf8_length(masked) - _utf8_length(units)  # change of each character's UTF-8 length
    changed = np.flatnonzero(delta)
    if changed.size:
        char_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(pc.utf8_length(arr).to_numpy(zero_copy_only=False), out=char_offsets[1:])
        owner = np.searchsorted(char_offsets, changed, side="right") - 1
        shift = np.bincount(owner, weights=delta[changed], minlength=n).astype(np.int64)
        new_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.diff(offsets) + shift, out=new_offsets[1:])
    else:
        new_offsets = offsets - offsets[0]
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(new_offsets.tobytes()), pa.py_buffer(out))


@functools.lru_cache(maxsize=8)
def _mask_table(rules: tuple[MaskRule, ...], *, bmp_only: bool) -> np.ndarray:
    """Code point → masked code point, computed by DuckDB with :func:`mask_expression`.

    The BMP table is ``uint16`` (for UTF-16 text) unless a rule maps into another plane; the full
    table is ``uint32`` (for UTF-32 text).
    """
    limit = 0x10000 if bmp_only else 0x110000
    con = connect(threads=1)
    try:
        result = con.execute(
            f"SELECT i, {mask_expression('chr(i::INTEGER)', rules)} AS m FROM range(0, {limit}) r(i) "
            "WHERE i < 55296 OR i > 57343 ORDER BY i"  # surrogates are not characters
        ).fetchnumpy()
    finally:
        con.close()
    table = np.arange(limit, dtype=np.uint32)
    table[result["i"]] = np.fromiter((ord(m) for m in result["m"]), dtype=np.uint32, count=len(result["m"]))
    if bmp_only and int(table.max()) > 0xFFFF:
        return _mask_table(rules, bmp_only=False)
    return table.astype(np.uint16) if bmp_only else table


def _utf8_length(code_points: np.ndarray) -> np.ndarray:
    """UTF-8 bytes of each code point (``int8``)."""
    length = (code_points >= 0x80).astype(np.int8)
    length += code_points >= 0x800
    if code_points.dtype.itemsize > 2:
        length += code_points >= 0x10000
    return length + 1
