"""Fill rules: missing values derived from other fields, each fill logged with its rule.

Rules (switched in ``standardize.fill``):

- ``fill_province:address`` — a province field takes the province parsed from the record's address;
- ``fill_province:tax_id`` — the province of a valid USCC's registration region (positions 3–4);
- ``fill_province:phone`` — the province a landline's area code belongs to (phonenumbers geocoder);
  the target is the first ``province`` field, else the first address's ``_province`` extra;
- ``fill_customer_type:tax_id`` / ``:legal_form`` / ``:company_word`` / ``:person_name`` — B2B when
  the record has a valid tax ID or a name with a legal form or company word, B2C when its name is a
  person's (a given customer type always wins);
- ``fill_industry:name_keyword`` — the industry of the first keyword of the ``industry_keywords``
  table found in a name;
- ``fill_credit_rating:<measure>`` — bands on the 12-month (or total) activity amount, when the
  config defines them.

A fill never overwrites a value; the change log row has ``before`` NULL and the fill rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.standardize.base import Reference, StandardizeError
from workbench.engine.catalog import temp
from workbench.engine.sql import ident, literal
from workbench.project.config import Kind, ProjectConfig

if TYPE_CHECKING:
    import duckdb

    from workbench.core.standardize.fields import StdField

PROVINCE_CODES = temp("std_province_codes")
NAME_KINDS = (Kind.CUSTOMER_NAME, Kind.COMPANY_NAME, Kind.PERSON_NAME)


@dataclass
class FillTarget:
    """A column a fill rule writes: ``what`` is province, customer_type, industry or credit_rating."""

    what: str
    column: str
    field: StdField | None = None

    @property
    def rule_column(self) -> str:
        return f"__fill_rule__{self.column}"


def build_province_codes(con: duckdb.DuckDBPyConnection, reference: Reference) -> str:
    """A small table ``code`` (2 digits) → ``name`` (province) from the region_words table."""
    words = reference.table("region_words")
    rows = words[(words["level"] == "province") & (words["adcode"].str.len() == 6)]
    pairs = sorted({(a[:2], c) for a, c in zip(rows["adcode"], rows["canonical"], strict=True)})
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PROVINCE_CODES} (code VARCHAR, name VARCHAR)")
    if pairs:
        con.executemany(f"INSERT INTO {PROVINCE_CODES} VALUES (?, ?)", [list(p) for p in pairs])
    return PROVINCE_CODES


def plan_fill_targets(config: ProjectConfig, plans: list[StdField]) -> list[FillTarget]:
    """The columns the fill rules write, per the `standardize.fill` settings.

    Raises:
        StandardizeError: a fill column is a canonical field that is not text.
    """
    fill = config.standardize.fill
    by_name = {p.name: p for p in plans}
    targets: list[FillTarget] = []
    if fill.province:
        province = next((p for p in plans if p.kind == Kind.PROVINCE), None)
        address = next((p for p in plans if p.kind == Kind.ADDRESS), None)
        if province is not None:
            targets.append(FillTarget("province", province.name, province))
        elif address is not None:
            targets.append(FillTarget("province", address.col("province"), address))
    targets.append(FillTarget("customer_type", "customer_type", by_name.get("customer_type")))
    if fill.industry:
        targets.append(FillTarget("industry", fill.industry_column, by_name.get(fill.industry_column)))
    if fill.credit_rating is not None:
        column = fill.credit_rating.column
        targets.append(FillTarget("credit_rating", column, by_name.get(column)))
    for t in targets:
        if t.field is not None and t.field.sql_type != "VARCHAR" and t.what != "province":
            raise StandardizeError(
                f"{config.config_path}: standardize.fill: the {t.what} fill writes the field {t.column!r}, whose "
                f"kind {t.field.kind.value!r} is not text; map that column with kind code or choose another column"
            )
    return targets


def fill_expressions(target: FillTarget, config: ProjectConfig, plans: list[StdField]) -> tuple[str, str]:
    """SQL of the filled value and of its rule (NULL when nothing was filled), over the inner ``j``."""
    current = f"j.{ident(target.column)}" if target.field is not None else "CAST(NULL AS VARCHAR)"
    candidates = _candidates(target, config, plans)
    if not candidates:
        return current, "CAST(NULL AS VARCHAR)"
    value = f"coalesce({current}, {', '.join(e for e, _ in candidates)})"
    whens = " ".join(f"WHEN {e} IS NOT NULL THEN {literal(r)}" for e, r in candidates)
    rule = f"CASE WHEN {current} IS NOT NULL THEN NULL {whens} END"
    return value, rule


def _candidates(target: FillTarget, config: ProjectConfig, plans: list[StdField]) -> list[tuple[str, str]]:
    """The sources of a fill, in order (the first non-NULL wins): (SQL over the inner ``j``, rule)."""
    if target.what == "province":
        return _province_candidates(target, config, plans)
    if target.what == "customer_type":
        return _customer_type_candidates(config, plans)
    if target.what == "industry":
        return _industry_candidates(plans)
    if target.what == "credit_rating":
        return _credit_rating_candidates(config)
    return []


def _first_of(columns: list[str]) -> str:
    return columns[0] if len(columns) == 1 else f"coalesce({', '.join(columns)})"


def _province_candidates(
    target: FillTarget, config: ProjectConfig, plans: list[StdField]
) -> list[tuple[str, str]]:
    out = []
    address = next((p for p in plans if p.kind == Kind.ADDRESS), None)
    if address is not None and target.column != address.col("province"):
        # a province field is first filled from the record's own address, when it has one
        out.append((f"j.{ident(address.col('province'))}", "fill_province:address"))
    for source in config.standardize.fill.province_from:
        if source == "tax_id" and any(p.kind == Kind.TAX_ID for p in plans):
            out.append(("j.__province_from_tax", "fill_province:tax_id"))
        if source == "phone":
            phones = [f"j.{ident(p.hidden('province'))}" for p in plans if p.kind == Kind.PHONE]
            if phones:
                out.append((_first_of(phones), "fill_province:phone"))
    return out


def _customer_type_candidates(config: ProjectConfig, plans: list[StdField]) -> list[tuple[str, str]]:
    if not config.standardize.fill.customer_type:
        return []
    q = ident
    names = [p for p in plans if p.kind in NAME_KINDS]
    out = []
    taxes = [p for p in plans if p.kind == Kind.TAX_ID]
    if taxes:
        cond = " OR ".join(f"j.{q(p.col('valid'))}" for p in taxes)
        out.append((f"CASE WHEN {cond} THEN 'B2B' END", "fill_customer_type:tax_id"))
    companies = [p for p in names if p.kind != Kind.PERSON_NAME]
    if companies:
        cond = " OR ".join(f"j.{q(p.col('legal_form'))} IS NOT NULL" for p in companies)
        out.append((f"CASE WHEN {cond} THEN 'B2B' END", "fill_customer_type:legal_form"))
        company = " OR ".join(f"j.{q(p.hidden('entity'))} = 'company'" for p in companies)
        out.append((f"CASE WHEN {company} THEN 'B2B' END", "fill_customer_type:company_word"))
    customer = [p for p in names if p.kind == Kind.CUSTOMER_NAME]
    if customer:
        person = " OR ".join(f"j.{q(p.hidden('entity'))} = 'person'" for p in customer)
        out.append((f"CASE WHEN {person} THEN 'B2C' END", "fill_customer_type:person_name"))
    return out


def _industry_candidates(plans: list[StdField]) -> list[tuple[str, str]]:
    cols = [
        f"j.{ident(p.hidden('industry'))}"
        for p in plans
        if p.kind in NAME_KINDS and p.kind != Kind.PERSON_NAME
    ]
    return [(_first_of(cols), "fill_industry:name_keyword")] if cols else []


def _credit_rating_candidates(config: ProjectConfig) -> list[tuple[str, str]]:
    rule = config.standardize.fill.credit_rating
    if rule is None:
        return []
    with_activity = sorted({s.customer_source for s in config.activity_sources if s.customer_source})
    if not with_activity:
        return []
    measure = f"coalesce(j.__{rule.measure}, 0)"
    bands = sorted(rule.bands, key=lambda b: -b.min)
    whens = " ".join(f"WHEN {measure} >= {float(b.min)!r} THEN {literal(b.rating)}" for b in bands)
    default = literal(rule.default)  # NULL when there is none
    sources = ", ".join(literal(s) for s in with_activity)
    expr = f"CASE WHEN j._source IN ({sources}) THEN CASE {whens} ELSE {default} END END"
    return [(expr, f"fill_credit_rating:{rule.measure}")]
