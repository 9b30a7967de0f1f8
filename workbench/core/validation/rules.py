"""The rule tables of the generated GX suites: reading, checking and applying them.

This module owns the format of the YAML rule tables in the workbench's top-level ``expectations/``
folder (:data:`RULES_DIR`): ``source.yaml`` (the suite of a source's staging table),
``standardized_customers.yaml`` (the standardized set) and ``load_ready.yaml`` (one suite per
structure of a target profile). A table has a ``suite`` header (name, dataset, stage, keys, note)
and three lists of rule rows: ``first`` (once, before the fields), ``per_field`` (once for each
field, in order) and ``last`` (once, after the fields). A row names a GX 1.x expectation ``type``,
its ``kwargs``, a ``severity`` (``error`` | ``warning``), ``description_zh`` / ``description_en``
and optionally ``when``, the facts under which it applies, and ``each``, the name of a list fact
(of mappings) the row is repeated for: once per item, the item's keys added to the facts.

``${fact}`` in a text is replaced by the fact (a text that is only ``${fact}`` takes the fact's
value as it is: a number, a list). A ``when`` entry compares a fact with a value (equal), a list
(one of), ``{not: [...]}`` (none of) or ``{set: true | false}`` (has a value or not). Which facts a
table may use is declared here (:data:`SOURCE_FACTS` …), so a typo in a table is reported with the
file, the row and the allowed names when the table is read, not when a suite is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.engine.files import read_data_file
from workbench.errors import WorkbenchError

RULES_DIR = Path(__file__).resolve().parents[3] / "expectations"
SEVERITIES = ("error", "warning")
SECTIONS = ("first", "per_field", "last")
ROW_KEYS = ("type", "kwargs", "severity", "description_zh", "description_en", "when", "each")
REQUIRED_ROW_KEYS = ("type", "kwargs", "severity", "description_zh", "description_en")
SUITE_KEYS = ("name", "dataset", "stage", "keys", "note")
META_KEY = "workbench"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Facts:
    """The facts a rule table may use: those of the suite, those of each field, and the keys of the
    items of each list fact a row may repeat over (``each``)."""

    suite: tuple[str, ...]
    field: tuple[str, ...]
    items: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def allowed(self, section: str, each: str | None = None) -> tuple[str, ...]:
        base = self.suite + self.field if section == "per_field" else self.suite
        return base + dict(self.items).get(each or "", ())


_POSTCODE_ITEMS = (("postcode_countries", ("country", "postcode_regex", "postcode_example", "country_values")),)
_POSTCODE_FACTS = ("country_field", "postcode_countries", "region_postcode", "region_postcode_example")
SOURCE_FACTS = Facts(
    suite=("source", "table", "id_field", "id_label", "role", "region", *_POSTCODE_FACTS),
    field=("field", "kind", "label"),
    items=_POSTCODE_ITEMS,
)
STANDARDIZED_FACTS = Facts(
    suite=("table", "customer_sources", "region", *_POSTCODE_FACTS),
    field=("field", "kind", "label"),
    items=_POSTCODE_ITEMS,
)
LOAD_READY_FACTS = Facts(
    suite=("profile", "structure", "key_field", "explode", "main"),
    field=("name", "caption", "required", "length", "allowed", "type", "decimals", "format"),
)
TABLE_FACTS: dict[str, Facts] = {
    "source": SOURCE_FACTS,
    "standardized_customers": STANDARDIZED_FACTS,
    "load_ready": LOAD_READY_FACTS,
}


class RuleTableError(WorkbenchError):
    """A rule table is missing, unreadable, or has rows that do not fit the rule format."""


# --------------------------------------------------------------------------------------------
# applying facts


def render(template: Any, facts: Mapping[str, Any]) -> Any:
    """`template` with every ``${fact}`` replaced (recursively through lists and mappings).

    A text that is only ``${fact}`` becomes the fact's value itself (a list is copied); a
    placeholder inside a longer text is replaced by the fact's text.
    """
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            value = facts[whole.group(1)]
            return list(value) if isinstance(value, list | tuple) else value
        return _PLACEHOLDER.sub(lambda m: str(facts[m.group(1)]), template)
    if isinstance(template, list):
        return [render(v, facts) for v in template]
    if isinstance(template, dict):
        return {k: render(v, facts) for k, v in template.items()}
    return template


def condition_holds(expected: Any, value: Any) -> bool:
    """Whether a fact's `value` meets one ``when`` entry (value, list, ``{not: …}``, ``{set: …}``)."""
    if isinstance(expected, dict):
        if "not" in expected:
            excluded = expected["not"]
            return value not in (excluded if isinstance(excluded, list) else [excluded])
        return bool(value) is bool(expected["set"])
    if isinstance(expected, list):
        return value in expected
    return bool(value == expected)


@dataclass(frozen=True)
class Rule:
    """One row of a rule table: an expectation and the facts under which it applies."""

    type: str
    kwargs: dict[str, Any]
    severity: str
    description_zh: str
    description_en: str
    when: dict[str, Any]
    each: str | None = None

    def expand(self, facts: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The facts of each copy of the row: one per item of its ``each`` list, or `facts` alone."""
        if self.each is None:
            return [dict(facts)]
        return [{**facts, **item} for item in facts.get(self.each) or []]

    def applies(self, facts: Mapping[str, Any]) -> bool:
        """Whether every ``when`` entry holds for `facts`."""
        return all(condition_holds(expected, facts[name]) for name, expected in self.when.items())

    def expectation(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The GX 1.x expectation entry (``type``, ``kwargs``, ``meta``) for `facts`."""
        return {
            "type": self.type,
            "kwargs": render(self.kwargs, facts),
            "meta": {
                "severity": self.severity,
                "description_zh": render(self.description_zh, facts),
                "description_en": render(self.description_en, facts),
            },
        }


@dataclass(frozen=True)
class RuleTable:
    """A rule table read from its YAML file."""

    name: str
    path: Path
    suite: dict[str, Any]
    first: tuple[Rule, ...]
    per_field: tuple[Rule, ...]
    last: tuple[Rule, ...]

    def build(self, suite_facts: Mapping[str, Any], fields: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """The suite dict for one dataset: header, then first, per-field and last expectations.

        Args:
            suite_facts: the facts of the suite (see the table's header comment).
            fields: the facts of each field, in the order the expectations should follow.
        """
        def rows(rules: tuple[Rule, ...], facts: Mapping[str, Any]) -> list[dict[str, Any]]:
            return [r.expectation(f) for r in rules if r.applies(facts) for f in r.expand(facts)]

        expectations = rows(self.first, suite_facts)
        for field_facts in fields:
            expectations += rows(self.per_field, {**suite_facts, **field_facts})
        expectations += rows(self.last, suite_facts)
        header = render(self.suite, suite_facts)
        return {
            "name": header["name"],
            "meta": {
                META_KEY: {
                    "dataset": header["dataset"],
                    "stage": header["stage"],
                    "keys": header["keys"],
                    "note": header["note"],
                }
            },
            "expectations": expectations,
        }


# --------------------------------------------------------------------------------------------
# reading and checking


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values())) if value else set()
    return set()


def _check_when(when: Any, allowed: tuple[str, ...], where: str) -> list[str]:
    if not isinstance(when, dict):
        return [f"{where}.when: must be a mapping of fact → value, e.g. {{kind: phone}}"]
    problems = []
    for name, expected in when.items():
        if name not in allowed:
            problems.append(f"{where}.when: unknown fact {name!r}; this table knows {list(allowed)}")
        if isinstance(expected, dict) and not (
            len(expected) == 1
            and ("not" in expected or ("set" in expected and isinstance(expected["set"], bool)))
        ):
            problems.append(
                f"{where}.when.{name}: {expected!r} is not a condition; write a value, a list, "
                "{not: [...]} or {set: true | false}"
            )
    return problems


def _check_row(row: Any, facts: Facts, section: str, where: str) -> list[str]:
    allowed = facts.allowed(section)
    if not isinstance(row, dict):
        return [f"{where}: a rule row is a mapping with keys {list(REQUIRED_ROW_KEYS)} (and optional when)"]
    problems = [f"{where}: missing key {k!r}" for k in REQUIRED_ROW_KEYS if k not in row]
    unknown = sorted(set(row) - set(ROW_KEYS))
    if unknown:
        problems.append(f"{where}: unknown key(s) {unknown}; allowed are {list(ROW_KEYS)}")
    kind = row.get("type")
    if "type" in row and not (isinstance(kind, str) and kind.startswith("expect_")):
        problems.append(f"{where}.type: {kind!r} is not a GX expectation type (expect_…)")
    if "kwargs" in row and not isinstance(row["kwargs"], dict):
        problems.append(f"{where}.kwargs: must be a mapping of the expectation's arguments")
    if "severity" in row and row["severity"] not in SEVERITIES:
        problems.append(f"{where}.severity: {row['severity']!r} is not one of {list(SEVERITIES)}")
    for key in ("description_zh", "description_en"):
        if key in row and not isinstance(row[key], str):
            problems.append(f"{where}.{key}: must be a text")
    if "when" in row:
        problems += _check_when(row["when"], allowed, where)
    each = row.get("each")
    if each is not None:
        if each not in dict(facts.items):
            problems.append(f"{where}.each: {each!r} is not a list fact; this table has {[k for k, _ in facts.items]}")
        else:
            allowed = facts.allowed(section, each)
    texts = [row.get("kwargs"), row.get("description_zh"), row.get("description_en")]
    for name in sorted(_placeholders(texts) - set(allowed)):
        problems.append(f"{where}: unknown placeholder ${{{name}}}; this section knows {list(allowed)}")
    return problems


def _rule(row: dict[str, Any]) -> Rule:
    return Rule(
        type=row["type"],
        kwargs=dict(row["kwargs"]),
        severity=row["severity"],
        description_zh=row["description_zh"],
        description_en=row["description_en"],
        when=dict(row.get("when") or {}),
        each=row.get("each"),
    )


def check_rule_table(raw: Any, facts: Facts, origin: str) -> list[str]:
    """Every problem of a parsed rule table, each naming the section, row and key."""
    if not isinstance(raw, dict):
        return [f"{origin}: a rule table is a mapping with `suite`, {', '.join(SECTIONS)}"]
    problems = []
    unknown = sorted(set(raw) - {"suite", *SECTIONS})
    if unknown:
        problems.append(f"{origin}: unknown section(s) {unknown}; allowed are suite, {', '.join(SECTIONS)}")
    suite = raw.get("suite")
    if not isinstance(suite, dict) or sorted(suite) != sorted(SUITE_KEYS):
        problems.append(f"{origin}: suite: needs exactly the keys {list(SUITE_KEYS)}")
    else:
        for name in sorted(_placeholders(suite) - set(facts.suite)):
            problems.append(f"{origin}: suite: unknown placeholder ${{{name}}}; it knows {list(facts.suite)}")
    for section in SECTIONS:
        rows = raw.get(section)
        if not isinstance(rows, list):
            problems.append(f"{origin}: {section}: must be a list of rule rows (write [] for none)")
            continue
        for i, row in enumerate(rows):
            problems += _check_row(row, facts, section, f"{origin}: {section}[{i}]")
    return problems


def load_rule_table(name: str, folder: Path | None = None) -> RuleTable:
    """Read and check the rule table ``<folder>/<name>.yaml`` (default folder :data:`RULES_DIR`).

    Raises:
        RuleTableError: the file is missing or unreadable, or rows do not fit the format; the
            message lists every problem with its section and row.
    """
    if name not in TABLE_FACTS:
        raise RuleTableError(f"unknown rule table {name!r}; known tables: {sorted(TABLE_FACTS)}")
    path = (folder or RULES_DIR) / f"{name}.yaml"
    raw = read_data_file(path, RuleTableError, what="rule table", hint="the workbench's expectations/ folder")
    problems = check_rule_table(raw, TABLE_FACTS[name], str(path))
    if problems:
        raise RuleTableError(
            f"{path}: {len(problems)} problem(s) in the rule table:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return RuleTable(
        name=name,
        path=path,
        suite=dict(raw["suite"]),
        first=tuple(_rule(r) for r in raw["first"]),
        per_field=tuple(_rule(r) for r in raw["per_field"]),
        last=tuple(_rule(r) for r in raw["last"]),
    )
