"""E-mail addresses: syntax check with email-validator (no DNS look-up), case, domain typos.

Full-width characters and stray spaces are cleaned first (``ＡＢＣ＠qq.com``), ``mailto:`` is dropped,
a cell holding several addresses keeps the first valid one (issue ``multiple_values``). Known domain
typos (``qq.con``, ``163.cm``, ``gmial.com`` — the reviewable ``email_domain_typos`` table) are fixed
under the rule ``email_domain_typo`` (or only flagged, with ``fix_email_typos: false``). A row
whose typo starts with a dot is a top-level-domain typo (``.cm`` → ``.com``) for any domain; a row
with ``action`` ``flag`` only warns (``possible_domain_typo``), for endings that can be real
(``.co``).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    Reference,
    join_rules,
    nfkc,
    per_value,
    rejected,
    resolve_reference,
    result_from_records,
)
from workbench.project.settings.standardize import StandardizeSettings

EXTRAS = ("local", "domain")

_SPLIT_RE = re.compile(r"[;；,，、|\s]+")
# the common case, checked without email-validator; anything else goes through it
_SIMPLE_RE = re.compile(
    r"[a-z0-9](?:[a-z0-9_+\-]|\.(?![.@]))*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
)


def standardize_emails(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize e-mail cells.

    Args:
        values: distinct raw e-mail cells.
        settings: the `standardize:` settings (typo fixing, lower-casing).
        reference: the reference tables (``email_domain_typos``).

    Returns:
        The result frame with the extras ``local`` and ``domain``.
    """
    settings, reference = resolve_reference(settings, reference)
    typos = _typo_table(reference)
    records = per_value(values, lambda raw: _standardize_one(raw, typos, settings))
    return result_from_records(records, values, EXTRAS)


def _standardize_one(
    raw: Any, typos: dict[str, tuple[str, str]], settings: StandardizeSettings
) -> dict[str, Any]:
    rules: list[str] = []
    issues: list[str] = []
    text = nfkc(str(raw)).strip()
    if text != str(raw):
        rules.append("fullwidth_to_halfwidth" if nfkc(str(raw)) != str(raw) else "whitespace")
    if text.lower().startswith("mailto:"):
        text = text[7:]
        rules.append("email_mailto")
    candidates = [c.strip("<>()\"'.") for c in _SPLIT_RE.split(text) if c.strip("<>()\"'.")]
    if len(candidates) > 1 and sum("@" in c for c in candidates) > 1:
        rules.append("email_split")
        issues.append("multiple_values")
    elif len(candidates) > 1:
        # spaces inside one address ("abc @ qq.com")
        candidates = ["".join(candidates)]
        rules.append("whitespace")
    result: dict[str, Any] | None = None
    for cand in candidates:
        result = _check(cand, typos, settings)
        if result.get("valid"):
            break
    assert result is not None or not candidates
    if not candidates or result is None:
        return rejected("not_an_email")
    if not result.get("valid"):
        return rejected(result["issue"])
    result["rule"] = join_rules(*rules, result.get("rule"))
    result["issue"] = join_rules(*issues, result.get("issue"))
    return result


def _typo_table(reference: Reference) -> dict[str, tuple[str, str]]:
    """typo → (fix, action); a typo starting with ``.`` is a top-level-domain typo (``.cm``)."""
    table = reference.table("email_domain_typos")
    actions = table["action"] if "action" in table.columns else pd.Series("fix", index=table.index)
    out: dict[str, tuple[str, str]] = {}
    for typo, fix, action in zip(table["typo"], table["fix"], actions, strict=True):
        out.setdefault(typo.lower(), (fix.lower(), (action or "fix").lower()))
    return out


def _find_typo(domain: str, typos: dict[str, tuple[str, str]]) -> tuple[str | None, str]:
    if domain in typos:
        return typos[domain]
    # an ending typo (".co.cn", ".con"): the longest listed ending wins
    labels = domain.split(".")
    for n in range(min(len(labels) - 1, 3), 0, -1):
        ending = "." + ".".join(labels[-n:])
        if ending in typos:
            fix, action = typos[ending]
            return domain[: -len(ending)] + fix, action
    head, dot, tld = domain.rpartition(".")
    # a second-level typo under a country code: 163.cm.cn → .com.cn (only rows that fix)
    rest, dot2, second = head.rpartition(".")
    if dot and dot2 and len(tld) == 2 and f".{second}" in typos:
        fix, action = typos[f".{second}"]
        if action == "fix":
            return f"{rest}{fix}.{tld}", action
    return None, "fix"


def _check(address: str, typos: dict[str, tuple[str, str]], settings: StandardizeSettings) -> dict[str, Any]:
    from email_validator import EmailNotValidError, validate_email

    rules: list[str] = []
    issues: list[str] = []
    if "@" not in address:
        return {"valid": False, "issue": "missing_at"}
    local, _, domain = address.rpartition("@")
    lower_domain = domain.lower().rstrip(".")
    fixed, action = _find_typo(lower_domain, typos)
    if fixed and action == "flag":
        issues.append("possible_domain_typo")
        fixed = None
    elif fixed:
        if settings.fix_email_typos:
            rules.append("email_domain_typo")
            issues.append("domain_typo_fixed")
            lower_domain = fixed
        else:
            return {"valid": False, "issue": "domain_typo"}
    local_out = local.lower() if settings.lowercase_email else local
    candidate = f"{local_out}@{lower_domain}"
    before = f"{local}@{lower_domain}" if fixed and settings.fix_email_typos else address
    if candidate != before:
        rules.append("email_case")
    if not _SIMPLE_RE.fullmatch(candidate.lower()):
        try:
            checked = validate_email(candidate, check_deliverability=False)
        except EmailNotValidError:
            return {"valid": False, "issue": "invalid_syntax"}
        candidate = checked.normalized
        local_out, _, lower_domain = candidate.rpartition("@")
    return {
        "value": candidate,
        "valid": True,
        "issue": ";".join(issues) or None,
        "rule": join_rules(*rules),
        "local": local_out,
        "domain": lower_domain,
    }
