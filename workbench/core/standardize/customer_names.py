"""Customer names that may be a company or a person: decide per value, then standardize as that.

A name is a *company* when it carries a legal form, a branch marker, a company word (the
``company_words`` table: 公司, 厂, 中心, Trading, Group …) or an industry keyword; it is a *person*
when it is 2–4 Chinese characters starting with a common surname (the ``surnames`` table), or two
or three Latin words without a company word. Anything else is standardized as a company name, but
without evidence its ``__entity`` stays unknown, so the customer-type fill does not guess. The
record-level USCC check (a record with a valid USCC is B2B) is applied later, in the fill rules.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    CJK_RE,
    Reference,
    clean_text,
    per_value,
    rejected,
    resolve_reference,
    result_from_records,
)
from workbench.core.standardize.company_names import (
    EXTRAS as COMPANY_EXTRAS,
)
from workbench.core.standardize.company_names import (
    INTERNAL as COMPANY_INTERNAL,
)
from workbench.core.standardize.company_names import (
    CompanyParser,
    build_company_parser,
    company_result,
    fold_company_text,
    parse_company_name,
)
from workbench.core.standardize.person_names import person_result
from workbench.project.settings.standardize import StandardizeSettings

EXTRAS = COMPANY_EXTRAS
INTERNAL = COMPANY_INTERNAL

_CJK_NAME_RE = re.compile(r"[\u3400-\u9fff·]{2,5}")
_LATIN_PERSON_RE = re.compile(
    r"[A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f'\-]*(?: [A-Za-z\u00c0-\u024f][A-Za-z\u00c0-\u024f'\-.]*){1,2}"
)


def standardize_customer_names(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize names that are either a company or a person.

    Args:
        values: distinct raw names.
        settings: the `standardize:` settings.
        reference: the reference tables.

    Returns:
        The company result frame (extras ``display``, ``core``, ``legal_form``, ``branch``,
        ``region``, ``pinyin``, ``script``); for a person ``display`` is the name, ``core`` the
        name lower-cased and ``pinyin`` the name's pinyin. ``__entity`` says ``company`` or
        ``person``.
    """
    settings, reference = resolve_reference(settings, reference)
    parser = build_company_parser(reference, settings)
    surnames = tuple(sorted(reference.table("surnames")["surname"].tolist(), key=len, reverse=True))
    records = per_value(values, lambda raw: _standardize_one(raw, parser, surnames, settings))
    return result_from_records(records, values, (*EXTRAS, *INTERNAL))


def classify_name(
    text: str, parser: CompanyParser, surnames: tuple[str, ...], parts: dict[str, Any] | None = None
) -> str:
    """``company`` or ``person`` for a cleaned name (see the module docstring)."""
    parts = parts if parts is not None else parse_company_name(text, parser)
    if parts["has_company_word"]:
        return "company"
    compact = text.replace(" ", "")
    if CJK_RE.search(compact):
        if _CJK_NAME_RE.fullmatch(compact) and len(compact) <= 4 and compact.startswith(surnames):
            return "person"
        return "company"
    if _LATIN_PERSON_RE.fullmatch(text):
        return "person"
    return "company"


def _standardize_one(
    raw: Any, parser: CompanyParser, surnames: tuple[str, ...], settings: StandardizeSettings
) -> dict[str, Any]:
    cleaned = clean_text(str(raw), settings=settings)
    if cleaned.text is None:
        return rejected("mojibake")
    text, rules = fold_company_text(cleaned)
    parts = parse_company_name(text, parser)
    if classify_name(text, parser, surnames, parts) == "company":
        # __entity stays "company" only with evidence (legal form, branch, company or industry word)
        return company_result(text, rules, cleaned.mojibake, parts, parser)
    person = person_result(cleaned, parser.tests)
    person["__entity"] = "person"
    if person.get("valid"):
        value = person["value"]
        person.update(
            display=value,
            core=value.lower().replace(" ", "") if CJK_RE.search(value) else value.lower(),
            script="cjk" if CJK_RE.search(value) else "latin",
        )
    return person
