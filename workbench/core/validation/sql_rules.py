"""GX expectations as DuckDB SQL: which rows of a table an expectation finds unexpected.

This module owns the translation of a GX 1.x expectation configuration (``type`` and ``kwargs``)
into SQL predicates that reproduce Great Expectations' own semantics on the pandas engine, so a
suite can be counted over a whole DuckDB table without a pandas frame of it:

- the *condition* (``row_condition``, GX's structured conditions): which rows GX looks at at all
  (``element_count``);
- the *domain*: of those, the rows the expectation judges (not NULL, except for
  ``expect_column_values_to_not_be_null``; for a compound key: not all NULL);
- the *unexpected* predicate: of the domain, the rows GX lists as unexpected.

Each translation mirrors the pandas implementation in GX 1.24 (``str.contains`` for regexes,
``isin`` for sets, ``str.len`` for lengths, ``duplicated(keep=False)`` for uniqueness,
``datetime.strptime`` for strftime formats). Regular expressions are rewritten from Python's
``re`` dialect to RE2's (``\\d`` is any Unicode decimal digit in Python, an ASCII digit in RE2, …);
a regex RE2 cannot run (look-arounds, back references) and a strftime format are decided in
Python, once per distinct value, with exactly the call GX makes. An expectation type or argument
this module does not know is left to GX itself (:attr:`CompiledRule.engine` ``gx``). Whatever the
engine, :mod:`workbench.core.validation.engine` checks every SQL rule against GX on a sample of
rows on every run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.engine.sql import ident

# kwargs every expectation may carry that do not change which rows are unexpected
_NEUTRAL_KWARGS = {"column", "column_list", "mostly", "result_format", "catch_exceptions", "meta",
                   "row_condition", "condition_parser", "include_config", "notes", "description"}
TEXT_TYPES = ("VARCHAR",)
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL")
# Python's \s for str (str.isspace) as an RE2 class body
_PY_SPACE = r"\t\n\x{0b}\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
_PY_CLASSES = {"d": r"\p{Nd}", "w": r"\p{L}\p{N}_", "s": _PY_SPACE}
_UNSUPPORTED_RE = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]|\(\?\(|\\[bBZ]|[*+?}]\+|\(\?>")


class Unsupported(Exception):  # noqa: N818  (internal signal, never leaves this package)
    """An expectation (or one of its arguments) has no SQL translation here: GX decides it."""


@dataclass
class CompiledRule:
    """One expectation of a suite, ready to be counted in SQL (or handed to GX).

    Attributes:
        index: position of the expectation in the suite.
        type: the GX expectation type.
        kwargs: its arguments.
        engine: ``duckdb`` (SQL), ``python`` (SQL with a per-distinct-value verdict decided in
            Python) or ``gx`` (Great Expectations on the columns it reads).
        columns: the columns the expectation reads (its own and its condition's).
        value_columns: the columns shown as a failed row's value.
        condition: SQL of the row condition (``TRUE`` without one).
        domain: SQL: rows judged (within the condition).
        unexpected: SQL: rows judged unexpected (within the domain); None for ``exists`` rules.
        params: named parameters bound to the SQL (``$name``).
        over_all_rows: the unexpected share is of all condition rows (not-null), not of the domain.
        mostly: GX's ``mostly``.
        exists: for ``expect_column_to_exist``: whether the column is there.
        python_check: for engine ``python``: the column and the per-value test (True = expected).
        reason: why GX decides it (engine ``gx``), or why the expectation cannot run (``error``).
        error: the expectation cannot run on this dataset (a missing column): GX's message.
    """

    index: int
    type: str
    kwargs: dict[str, Any]
    engine: str = "duckdb"
    columns: tuple[str, ...] = ()
    value_columns: tuple[str, ...] = ()
    condition: str = "TRUE"
    domain: str = "TRUE"
    unexpected: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    over_all_rows: bool = False
    mostly: float | None = None
    exists: bool | None = None
    python_check: tuple[str, Callable[[Any], bool]] | None = None
    reason: str | None = None
    error: str | None = None
    unique: bool = False

    def bad_values_table(self) -> str:
        """The scratch table of values Python judged unexpected (engine ``python``)."""
        return f"__wb_bad_values_{self.index}"


# --------------------------------------------------------------------------------------------
# regular expressions: Python's re dialect → RE2


def _escape_to_re2(nxt: str, in_class: bool, pattern: str) -> str:
    """One ``\\x`` escape of a Python pattern in RE2 (Unicode classes as Python's text classes)."""
    low = nxt.lower()
    if low not in _PY_CLASSES:
        return "\\" + nxt
    body = _PY_CLASSES[low]
    if nxt.isupper():
        if in_class:
            raise Unsupported(f"regex {pattern!r}: a negated class escape inside []")
        return f"[^{body}]"
    return body if in_class else f"[{body}]"


def python_regex_to_re2(pattern: str) -> str:
    """Rewrite a Python ``re`` pattern so RE2 (DuckDB) matches the same strings.

    ``\\d``/``\\w``/``\\s`` (and their negations) become the Unicode classes Python uses for text;
    ``$`` becomes ``\\n?\\z`` (Python's ``$`` also matches before a final newline).

    Raises:
        Unsupported: the pattern uses a construct RE2 lacks or that differs (look-arounds, back
            references, ``\\b``, possessive quantifiers).
    """
    if _UNSUPPORTED_RE.search(pattern):
        raise Unsupported(f"regex {pattern!r} uses a construct RE2 does not run")
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(_escape_to_re2(pattern[i + 1], in_class, pattern))
            i += 2
            continue
        if in_class:
            in_class = not (c == "]" and not out[-1].endswith("["))
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            for lead, text in (("^", "^"), ("]", "\\]")):  # a leading ^ negates, a leading ] is a literal
                if pattern[i + 1 : i + 2] == lead:
                    out.append(text)
                    i += 1
        else:
            out.append(r"(?:\n?\z)" if c == "$" else c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# row conditions (GX 1.x structured conditions)


class _Params:
    """Named parameters of one rule (``$r<index>_<n>``)."""

    def __init__(self, index: int) -> None:
        self.prefix = f"r{index}_"
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _check_column(column: Any, schema: Mapping[str, str]) -> str:
    if not isinstance(column, str):
        raise Unsupported(f"column {column!r} is not a name")
    if column not in schema:
        raise KeyError(column)
    return column


def _comparable(value: Any, column_type: str) -> bool:
    if isinstance(value, bool):
        return column_type == "BOOLEAN"
    if isinstance(value, str):
        return column_type in TEXT_TYPES
    if isinstance(value, int | float):
        return column_type in NUMERIC_TYPES
    return False


def condition_sql(cond: Any, schema: Mapping[str, str], params: _Params, used: list[str]) -> str:
    """SQL of a GX structured row condition (``comparison``, ``nullity``, ``and``, ``or``).

    Mirrors ``DataFrame.query`` on the pandas engine: a NULL is unequal to everything and not in
    any list (``!=`` and ``NOT_IN`` hold for it), and fails every ordering comparison.
    """
    if not isinstance(cond, dict):
        raise Unsupported(f"row_condition {cond!r} is not a structured condition")
    kind = cond.get("type")
    if kind in ("and", "or"):
        parts = [condition_sql(c, schema, params, used) for c in cond.get("conditions") or []]
        if not parts:
            raise Unsupported("an empty and/or condition")
        return "(" + f" {kind.upper()} ".join(parts) + ")"
    column = _check_column((cond.get("column") or {}).get("name"), schema)
    used.append(column)
    col = ident(column)
    if kind == "nullity":
        return f"({col} IS {'' if cond.get('is_null') else 'NOT '}NULL)"
    if kind != "comparison":
        raise Unsupported(f"row_condition type {kind!r}")
    op, value = cond.get("operator"), cond.get("parameter")
    if op in ("IN", "NOT_IN"):
        values = list(value or [])
        if not all(_comparable(v, schema[column]) for v in values):
            raise Unsupported(f"condition values {values!r} do not fit column {column!r}")
        p = params.add(values)
        return f"coalesce(list_contains({p}, {col}), false)" if op == "IN" else (
            f"NOT coalesce(list_contains({p}, {col}), false)"
        )
    if not _comparable(value, schema[column]):
        raise Unsupported(f"condition value {value!r} does not fit column {column!r}")
    p = params.add(value)
    if op == "==":
        return f"coalesce({col} = {p}, false)"
    if op == "!=":
        return f"coalesce({col} <> {p}, true)"
    if op in ("<", "<=", ">", ">="):
        return f"coalesce({col} {op} {p}, false)"
    raise Unsupported(f"condition operator {op!r}")


# --------------------------------------------------------------------------------------------
# expectations


def _strftime_check(fmt: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        try:
            dt.datetime.strptime(value, fmt)  # noqa: DTZ007  (what GX's pandas engine calls)
        except ValueError:
            return False
        return True

    return check


def _regex_check(pattern: str, negate: bool) -> Callable[[Any], bool]:
    compiled = re.compile(pattern)

    def check(value: Any) -> bool:
        found = compiled.search(str(value)) is not None
        return not found if negate else found

    return check


def _between(expr: str, kw: Mapping[str, Any], params: _Params) -> str:
    """``expr`` outside [min_value, max_value] (strict bounds as GX's ``strict_min/max``)."""
    parts = []
    lo, hi = kw.get("min_value"), kw.get("max_value")
    if lo is None and hi is None:
        raise Unsupported("a between rule with neither bound")
    for bound, strict, below in ((lo, kw.get("strict_min"), True), (hi, kw.get("strict_max"), False)):
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise Unsupported(f"bound {bound!r} is not a number")
        p = params.add(bound)
        if below:
            parts.append(f"{expr} {'<=' if strict else '<'} {p}")
        else:
            parts.append(f"{expr} {'>=' if strict else '>'} {p}")
    return "(" + " OR ".join(parts) + ")"


def _in_set(col: str, column_type: str, values: Any, params: _Params, negate: bool) -> str:
    if not isinstance(values, list | tuple | set):
        raise Unsupported(f"value_set {values!r} is not a list")
    # pandas isin: a value of another type never matches (the text '1' is not the number 1)
    if column_type not in (*TEXT_TYPES, *NUMERIC_TYPES, "BOOLEAN"):
        raise Unsupported(f"value_set for a {column_type} column")
    kept = [v for v in values if _comparable(v, column_type)]
    p = params.add(kept)
    found = f"coalesce(list_contains({p}, {col}), false)"
    return found if negate else f"NOT {found}"


_MAP_RULES = {
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_values_to_be_between",
    "expect_column_values_to_match_strftime_format",
    "expect_column_values_to_be_unique",
}  # the single-column rules (_map_rule): the regex rules and those of _RULE_BUILDERS
_EXTRA_KWARGS = {
    "expect_column_values_to_be_in_set": {"value_set"},
    "expect_column_values_to_not_be_in_set": {"value_set"},
    "expect_column_values_to_match_regex": {"regex"},
    "expect_column_values_to_not_match_regex": {"regex"},
    "expect_column_value_lengths_to_be_between": {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_value_lengths_to_equal": {"value"},
    "expect_column_values_to_be_between": {"min_value", "max_value", "strict_min", "strict_max"},
    "expect_column_values_to_match_strftime_format": {"strftime_format"},
    "expect_compound_columns_to_be_unique": {"ignore_row_if"},
    "expect_column_to_exist": set(),
}


def _rule_not_null(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    rule.domain, rule.unexpected, rule.over_all_rows = "TRUE", f"{col} IS NULL", True


def _rule_null(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    rule.domain, rule.unexpected, rule.over_all_rows = "TRUE", f"{col} IS NOT NULL", True


def _rule_in_set(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    rule.unexpected = _in_set(col, ctype, kw.get("value_set"), params, negate=rule.type.endswith("not_be_in_set"))


def _rule_lengths(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    if ctype not in TEXT_TYPES:
        raise Unsupported(f"lengths of a {ctype} column")
    bounds = {"min_value": kw.get("value"), "max_value": kw.get("value")} if rule.type.endswith("_to_equal") else kw
    rule.unexpected = _between(f"length({col})", bounds, params)


def _rule_between(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    if ctype not in NUMERIC_TYPES:
        raise Unsupported(f"between on a {ctype} column")
    rule.unexpected = _between(col, kw, params)


def _rule_strftime(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    fmt = kw.get("strftime_format")
    if ctype not in TEXT_TYPES or not isinstance(fmt, str):
        raise Unsupported("strftime format of a non-text column")
    rule.engine, rule.python_check = "python", (str(kw["column"]), _strftime_check(fmt))
    rule.unexpected = f"{col} IN (SELECT value FROM {ident(rule.bad_values_table())})"


def _rule_unique(rule: CompiledRule, col: str, ctype: str, kw: Mapping[str, Any], params: _Params) -> None:
    rule.unique = True


_RULE_BUILDERS: dict[str, Callable[[CompiledRule, str, str, Mapping[str, Any], _Params], None]] = {
    "expect_column_values_to_not_be_null": _rule_not_null,
    "expect_column_values_to_be_null": _rule_null,
    "expect_column_values_to_be_in_set": _rule_in_set,
    "expect_column_values_to_not_be_in_set": _rule_in_set,
    "expect_column_value_lengths_to_be_between": _rule_lengths,
    "expect_column_value_lengths_to_equal": _rule_lengths,
    "expect_column_values_to_be_between": _rule_between,
    "expect_column_values_to_match_strftime_format": _rule_strftime,
    "expect_column_values_to_be_unique": _rule_unique,
}


def _map_rule(rule: CompiledRule, kw: Mapping[str, Any], schema: Mapping[str, str], params: _Params,
              regex_ok: Callable[[str], bool]) -> None:
    """Fill the domain and unexpected predicates of a single-column rule."""
    column = _check_column(kw.get("column"), schema)
    col, ctype = ident(column), schema[column]
    rule.value_columns = (column,)
    rule.columns = tuple(dict.fromkeys((*rule.columns, column)))
    rule.domain = f"{col} IS NOT NULL"
    if rule.type in ("expect_column_values_to_match_regex", "expect_column_values_to_not_match_regex"):
        _regex_rule(rule, column, ctype, kw.get("regex"), params, regex_ok)
    else:
        _RULE_BUILDERS[rule.type](rule, col, ctype, kw, params)


def _regex_rule(rule: CompiledRule, column: str, ctype: str, regex: Any, params: _Params,
                regex_ok: Callable[[str], bool]) -> None:
    if not isinstance(regex, str):
        raise Unsupported(f"regex {regex!r} is not a text")
    if ctype not in TEXT_TYPES:
        raise Unsupported(f"a regex on a {ctype} column (GX matches its Python text form)")
    negate = rule.type.endswith("not_match_regex")
    col = ident(column)
    try:
        translated = python_regex_to_re2(regex)
        if not regex_ok(translated):
            raise Unsupported(f"RE2 rejects {translated!r}")
    except Unsupported:
        rule.engine, rule.python_check = "python", (column, _regex_check(regex, negate))
        rule.unexpected = f"{col} IN (SELECT value FROM {ident(rule.bad_values_table())})"
        return
    p = params.add(translated)
    rule.unexpected = f"regexp_matches({col}, {p})" if negate else f"NOT regexp_matches({col}, {p})"


def _compound_rule(rule: CompiledRule, kw: Mapping[str, Any], schema: Mapping[str, str]) -> None:
    columns = kw.get("column_list")
    if not isinstance(columns, list) or not columns:
        raise Unsupported("column_list is not a list")
    names = [_check_column(c, schema) for c in columns]
    ignore = kw.get("ignore_row_if", "all_values_are_missing")
    cols = [ident(c) for c in names]
    if ignore == "all_values_are_missing":
        rule.domain = "(" + " OR ".join(f"{c} IS NOT NULL" for c in cols) + ")"
    elif ignore == "any_value_is_missing":
        rule.domain = "(" + " AND ".join(f"{c} IS NOT NULL" for c in cols) + ")"
    elif ignore == "never":
        rule.domain = "TRUE"
    else:
        raise Unsupported(f"ignore_row_if {ignore!r}")
    rule.columns = tuple(dict.fromkeys((*rule.columns, *names)))
    rule.value_columns = tuple(names)
    rule.unique = True


def compile_rule(
    index: int, entry: Mapping[str, Any], schema: Mapping[str, str], regex_ok: Callable[[str], bool]
) -> CompiledRule:
    """Translate one suite entry into SQL predicates (see the module docstring).

    Args:
        index: the entry's position in the suite.
        entry: the suite entry (``type``, ``kwargs``).
        schema: column → DuckDB type of the dataset.
        regex_ok: whether DuckDB's RE2 compiles a pattern.

    Returns:
        The compiled rule; ``engine == "gx"`` when this module does not translate it, ``error``
        set when it names a column the dataset lacks (GX fails such an expectation too).
    """
    kind = str(entry.get("type"))
    kw = dict(entry.get("kwargs") or {})
    rule = CompiledRule(index=index, type=kind, kwargs=kw, mostly=kw.get("mostly"))
    params = _Params(index)
    try:
        allowed = _NEUTRAL_KWARGS | _EXTRA_KWARGS.get(kind, set())
        if kind not in _MAP_RULES | {"expect_compound_columns_to_be_unique", "expect_column_to_exist"}:
            raise Unsupported(f"no SQL translation of {kind}")
        unknown = set(kw) - allowed
        if unknown:
            raise Unsupported(f"arguments {sorted(unknown)}")
        if kind == "expect_column_to_exist":
            rule.exists = kw.get("column") in schema
            rule.columns = ()
            return rule
        if kw.get("row_condition") is not None:
            used: list[str] = []
            rule.condition = condition_sql(kw["row_condition"], schema, params, used)
            rule.columns = tuple(dict.fromkeys(used))
        if kind == "expect_compound_columns_to_be_unique":
            _compound_rule(rule, kw, schema)
        else:
            _map_rule(rule, kw, schema, params, regex_ok)
        if rule.mostly is not None and not (isinstance(rule.mostly, int | float) and 0 <= rule.mostly <= 1):
            raise Unsupported(f"mostly {rule.mostly!r}")
    except Unsupported as exc:
        return CompiledRule(index=index, type=kind, kwargs=kw, engine="gx", reason=str(exc),
                            columns=_gx_columns(kw, schema), mostly=kw.get("mostly"))
    except KeyError as exc:
        rule.error = f"column {exc.args[0]!r} is not in the dataset"
        rule.engine = "duckdb"
    rule.params = params.values
    return rule


def _gx_columns(kw: Mapping[str, Any], schema: Mapping[str, str]) -> tuple[str, ...]:
    """The dataset columns a rule GX decides may read (its own, its list, its condition's)."""
    names: list[str] = []
    for key in ("column", "column_A", "column_B"):
        if isinstance(kw.get(key), str):
            names.append(kw[key])
    for key in ("column_list",):
        if isinstance(kw.get(key), list):
            names += [c for c in kw[key] if isinstance(c, str)]
    cond = kw.get("row_condition")
    if cond is not None:
        text = str(cond)
        names += [c for c in schema if c in text]
    return tuple(dict.fromkeys(c for c in names if c in schema)) or tuple(schema)
