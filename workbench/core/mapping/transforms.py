"""Transforms: the steps a field mapping line applies to a value, and the value mapping tables.

This module owns the transform language of the ``transform`` column (steps joined with ``|``, see
:data:`TRANSFORMS`), its parser (:func:`parse_transform`), the parsed mapping line
(:class:`MappingLine`), the value maps (:class:`ValueMaps`: legacy code → target value) and
applying one line to a frame of records (:func:`apply_line`). Values are text the way mappings see
them (:func:`to_text`): ``None`` for missing, ISO dates, ``1`` not ``1.0``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.core.targets.profiles import did_you_mean

WILDCARD = "*"

TRANSFORMS: dict[str, str] = {
    "copy": "the value as it is (the default when transform is empty)",
    "upper": "upper case",
    "lower": "lower case",
    "truncate:<n>": "cut to n characters (a business decision: the rest is lost)",
    "slice:<a>:<b>": "characters a..b-1 (e.g. slice:40:80 for the second 40-character name line)",
    "value_map:<map>": "legacy value → target value from value_mappings.csv; an unmapped value rejects the row",
    "constant:<v>": "always v (no source field)",
    "default:<v>": "v when the value is empty",
    "date:<fmt>": "a date written with strftime format fmt, e.g. date:%Y%m%d",
    "number:<d>": "a number with d decimals",
    "bool:<true>/<false>": "a boolean written as the two given texts, e.g. bool:True/False or bool:X/",
    "concat:<sep>": "several source fields (a+b+c) joined with sep, empty ones skipped; \\s = space",
    "first_nonempty": "the first non-empty of several source fields (a+b)",
    "phone:<e164|national|international>": "phone number format (phonenumbers, project region)",
    "when:<column>=<value>": "keep the value only when the record's column equals value (!= negates)",
    "prefix:<p>": "put p in front of a non-empty value",
    "strip_prefix:<p>": "remove p from the start",
}
MULTI_SOURCE = ("concat", "first_nonempty")
_TRUE_WORDS = ("true", "1", "y", "yes", "是")
_FALSE_WORDS = ("false", "0", "n", "no", "否")


@dataclass(frozen=True)
class Step:
    """One transform step: a name and its argument text."""

    name: str
    arg: str | None = None


@dataclass(frozen=True)
class MappingLine:
    """One row of a field mapping file, parsed."""

    profile: str
    target: str
    structure: str
    field: str
    sources: tuple[str, ...]
    steps: tuple[Step, ...]
    transform: str
    note: str
    file: str
    line: int

    @property
    def value_maps(self) -> list[str]:
        return [s.arg or "" for s in self.steps if s.name == "value_map"]

    @property
    def where(self) -> str:
        return f"{self.file}, line {self.line}"


def parse_transform(text: str) -> tuple[Step, ...]:
    """Parse a transform chain such as ``value_map:region|truncate:3``.

    Args:
        text: the ``transform`` cell of a field mapping line; empty means ``copy``.

    Returns:
        The steps in order.

    Raises:
        ValueError: naming the unknown step or bad argument.
    """
    text = (text or "").strip()
    if not text:
        return (Step("copy"),)
    steps = []
    known = {k.split(":")[0] for k in TRANSFORMS}
    needs = {k.split(":")[0]: ":" in k for k in TRANSFORMS}
    for part in text.split("|"):
        part = part.strip()
        name, _, arg = part.partition(":")
        name = name.strip()
        if name not in known:
            close = did_you_mean(name, sorted(known))
            raise ValueError(f"unknown transform {name!r}{close}; known: {', '.join(sorted(known))}")
        has_arg = ":" in part
        if needs[name] and not has_arg and name != "concat":
            raise ValueError(f"transform {name!r} needs an argument, e.g. {_example(name)}")
        _check_argument(name, arg)
        steps.append(Step(name, arg if has_arg else None))
    return tuple(steps)


def _check_argument(name: str, arg: str) -> None:
    if name in ("truncate", "number") and not arg.strip().isdigit():
        raise ValueError(f"{name}:{arg} needs a whole number, e.g. {_example(name)}")
    if name == "slice" and not re.fullmatch(r"\d*:\d*", arg.strip()):
        raise ValueError(f"slice:{arg} needs start:end, e.g. slice:40:80")
    if name == "bool" and "/" not in arg:
        raise ValueError(f"bool:{arg} needs true/false texts, e.g. bool:True/False")
    if name == "phone" and arg.strip() not in ("e164", "national", "international"):
        raise ValueError(f"phone:{arg}: use phone:e164, phone:national or phone:international")
    if name == "when" and "=" not in arg:
        raise ValueError(f"when:{arg} needs column=value, e.g. when:customer_type=B2B")


def _example(name: str) -> str:
    return next(k for k in TRANSFORMS if k.split(":")[0] == name)


@dataclass
class ValueMaps:
    """The value mapping tables: map name → legacy value → target values (several = conflict)."""

    frame: pd.DataFrame
    maps: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ValueMaps:
        """Build the lookup from the rows of the value mapping files (map_name, legacy_value, target_value)."""
        maps: dict[str, dict[str, list[str]]] = {}
        for name, legacy, target in frame[["map_name", "legacy_value", "target_value"]].itertuples(
            index=False
        ):
            targets = maps.setdefault(name, {}).setdefault(legacy, [])
            if target not in targets:
                targets.append(target)
        return cls(frame=frame, maps=maps)

    def conflicts(self) -> pd.DataFrame:
        """Legacy values mapped to more than one target value: map_name, legacy_value, target_values, targets."""
        rows = [
            (m, legacy, " | ".join(targets), len(targets))
            for m, values in sorted(self.maps.items())
            for legacy, targets in sorted(values.items())
            if len(targets) > 1
        ]
        return pd.DataFrame(rows, columns=["map_name", "legacy_value", "target_values", "targets"])


# --------------------------------------------------------------------------------------------
# values as text


def to_text(values: pd.Series) -> pd.Series:
    """Values as text the way mappings see them: None for missing, ISO dates, 1 not 1.0, true/false."""
    if pd.api.types.is_bool_dtype(values):
        return values.map(lambda v: None if pd.isna(v) else ("true" if v else "false")).astype(object)
    if pd.api.types.is_numeric_dtype(values):
        return values.map(_num_text).astype(object)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").where(values.notna(), None).astype(object)
    return values.map(_any_text).astype(object)


def _num_text(v: Any) -> str | None:
    if v is None or pd.isna(v):
        return None
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def _any_text(v: Any) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return _num_text(v)
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()[:10]
    text = str(v)
    return text if text.strip() else None


# --------------------------------------------------------------------------------------------
# applying a line


@dataclass
class Applied:
    """Result of one mapping line on a frame: the values and, per row, an issue (or None)."""

    values: pd.Series
    issues: pd.Series


def apply_line(
    line: MappingLine, frame: pd.DataFrame, value_maps: ValueMaps, *, region: str = "CN"
) -> Applied:
    """Apply one mapping line to a frame of records.

    Args:
        line: the parsed mapping line.
        frame: rows holding the line's source columns and any ``when:`` columns.
        value_maps: the value mapping tables the line's ``value_map:`` steps look up.
        region: default phone region for ``phone:`` steps.

    Returns:
        Text values (None = empty) and a per-row issue text (None = no issue).
    """
    issues = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values, steps = _initial_values(line, frame)
    context = _StepContext(frame=frame, value_maps=value_maps, line=line, region=region)
    for step in steps:
        values, problem = _apply_step(step, values, context)
        if problem is not None:
            issues = issues.where(issues.notna() | problem.isna(), problem)
    values = values.map(lambda v: v if v is None or str(v) != "" else None).astype(object)
    return Applied(values=values, issues=issues)


def _initial_values(line: MappingLine, frame: pd.DataFrame) -> tuple[pd.Series, tuple[Step, ...]]:
    """The values the steps start from (a constant, several sources combined, or the one source)
    and the steps still to apply."""
    first = line.steps[0]
    n = len(frame)
    if first.name == "constant":
        return pd.Series([first.arg or ""] * n, index=frame.index, dtype=object), line.steps[1:]
    if first.name not in MULTI_SOURCE:
        return to_text(frame[line.sources[0]]), line.steps
    cols = [to_text(frame[s]) for s in line.sources]
    if first.name == "concat":
        sep = (first.arg or "").replace("\\s", " ")
        joined = (
            pd.concat(cols, axis=1).apply(lambda r: sep.join(x for x in r if x is not None) or None, axis=1)
            if n
            else pd.Series([], dtype=object)
        )
        return joined.astype(object), line.steps[1:]
    values = cols[0].copy()
    for c in cols[1:]:
        values = values.where(values.notna(), c)
    return values, line.steps[1:]


@dataclass(frozen=True)
class _StepContext:
    """What a step may read besides the values: the records, the value maps, the line, the region."""

    frame: pd.DataFrame
    value_maps: ValueMaps
    line: MappingLine
    region: str


StepResult = tuple[pd.Series, pd.Series | None]
StepFunction = Callable[[pd.Series, str, _StepContext], StepResult]


def _apply_step(step: Step, values: pd.Series, context: _StepContext) -> StepResult:
    function = _STEPS.get(step.name)
    if function is None:  # parse_transform guards the names; concat/first_nonempty only come first
        raise AssertionError(f"unhandled transform {step.name}")
    return function(values, step.arg or "", context)


def _per_value(make: Callable[[str], Callable[[str], str | None]]) -> StepFunction:
    """A step that changes each non-missing value on its own (`make` builds the change from the argument)."""

    def step(values: pd.Series, arg: str, _context: _StepContext) -> StepResult:
        change = make(arg)
        return values.map(lambda v: None if v is None else change(v)), None

    return step


def _slicer(arg: str) -> Callable[[str], str | None]:
    a, b = (int(x) if x else None for x in arg.split(":"))
    return lambda v: v[a:b] or None


def _truncator(arg: str) -> Callable[[str], str | None]:
    k = int(arg)
    return lambda v: v[:k]


def _copy(values: pd.Series, _arg: str, _context: _StepContext) -> StepResult:
    return values, None


def _default(values: pd.Series, arg: str, _context: _StepContext) -> StepResult:
    return values.where(values.notna(), arg), None


def _constant(values: pd.Series, arg: str, _context: _StepContext) -> StepResult:
    return pd.Series([arg] * len(values), index=values.index, dtype=object), None


def _bool(values: pd.Series, arg: str, _context: _StepContext) -> StepResult:
    yes, _, no = arg.partition("/")
    truth = {**dict.fromkeys(_TRUE_WORDS, yes), **dict.fromkeys(_FALSE_WORDS, no)}
    out = values.map(lambda v: None if v is None else truth.get(v.strip().lower(), "\x00"))
    bad = out == "\x00"
    problem = ("not a yes/no value: " + values.astype(str)).where(bad, None)
    return out.where(~bad, None), problem


def _value_map(values: pd.Series, arg: str, context: _StepContext) -> StepResult:
    table = context.value_maps.maps.get(arg, {})
    other = table.get(WILDCARD)
    sources = "+".join(context.line.sources)

    def look(v: Any) -> tuple[str | None, str | None]:
        if v is None or (not isinstance(v, str) and pd.isna(v)):  # missing stays missing, never 'nan'
            return None, None
        key = v.strip()
        targets = table.get(key) or other
        if not targets:
            return None, f"unmapped value {key!r} in value map {arg!r} (source {sources})"
        if len(targets) > 1:
            return None, f"conflicting mappings for {key!r} in value map {arg!r}: {targets}"
        return targets[0], None

    looked = values.map(look)
    return looked.map(lambda t: t[0]), looked.map(lambda t: t[1])


def _date(values: pd.Series, arg: str, _context: _StepContext) -> StepResult:
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    out = parsed.dt.strftime(arg).where(parsed.notna(), None).astype(object)
    bad = values.notna() & parsed.isna()
    return out, ("not a date: " + values.astype(str)).where(bad, None)


def _number(values: pd.Series, arg: str, _context: _StepContext) -> StepResult:
    num = pd.to_numeric(values, errors="coerce")
    out = num.map(lambda v: None if pd.isna(v) else f"{v:.{int(arg)}f}").astype(object)
    bad = values.notna() & num.isna()
    return out, ("not a number: " + values.astype(str)).where(bad, None)


def _phone(values: pd.Series, arg: str, context: _StepContext) -> StepResult:
    return values.map(_phone_formatter(arg, context.region)), None


def _when(values: pd.Series, arg: str, context: _StepContext) -> StepResult:
    column, op, wanted = re.split(r"(!=|=)", arg, maxsplit=1)
    actual = to_text(context.frame[column.strip()]).fillna("")
    keep = actual == wanted.strip()
    if op == "!=":
        keep = ~keep
    return values.where(keep, None), None


_STEPS: dict[str, StepFunction] = {
    "copy": _copy,
    "upper": _per_value(lambda _arg: lambda v: v.upper()),
    "lower": _per_value(lambda _arg: lambda v: v.lower()),
    "truncate": _per_value(_truncator),
    "slice": _per_value(_slicer),
    "default": _default,
    "constant": _constant,
    "prefix": _per_value(lambda arg: lambda v: arg + v),
    "strip_prefix": _per_value(lambda arg: lambda v: v.removeprefix(arg)),
    "bool": _bool,
    "value_map": _value_map,
    "date": _date,
    "number": _number,
    "phone": _phone,
    "when": _when,
}


def _phone_formatter(fmt: str, region: str) -> Callable[[str | None], str | None]:
    import phonenumbers

    kind = {
        "e164": phonenumbers.PhoneNumberFormat.E164,
        "national": phonenumbers.PhoneNumberFormat.NATIONAL,
        "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    }[fmt]

    def fmt_one(v: str | None) -> str | None:
        if v is None:
            return None
        first = re.split(r"[;；/]", v)[0].strip()
        try:
            num = phonenumbers.parse(first, region)
        except phonenumbers.NumberParseException:
            return first
        text = phonenumbers.format_number(num, kind)
        return re.sub(r"[\s()-]", "", text) if fmt == "national" else text

    return fmt_one


def line_columns(line: MappingLine) -> list[str]:
    """Every column of the input that a line reads (its sources and ``when:`` columns)."""
    cols = list(line.sources)
    for s in line.steps:
        if s.name == "when":
            cols.append(re.split(r"!=|=", s.arg or "", maxsplit=1)[0].strip())
    return list(dict.fromkeys(cols))
