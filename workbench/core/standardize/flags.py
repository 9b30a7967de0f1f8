"""Record-level status and flags: invalid, stale and test records are flagged, never deleted.

- ``record_status``: the first ``status`` field, mapped by the status standardizer; ``unknown``
  when missing. ``deregistered``, ``revoked``, ``suspended`` and ``inactive`` become flags.
- ``is_test``: a test pattern (the ``test_patterns`` table: ``测试``, ``test``, all-same digits …)
  matched a name, e-mail, ID, tax ID or phone; the flag is ``test:<reason>``.
- ``is_stale``: only for sources that have an activity source: ``no_activity`` (no transaction at
  all) or ``stale`` (none in the last ``stale_months`` before the reference date).
- ``mojibake``: a field held text decoded with the wrong codec (repaired or not).
- ``<postcode>_province_match``: the postcode's province against the record's province.

``flags`` joins the reasons with ``;`` in that order (NULL when none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.engine.sql import ident, literal
from workbench.project.config import Kind, ProjectConfig

if TYPE_CHECKING:
    from workbench.core.standardize.activity import ActivitySummary
    from workbench.core.standardize.fields import StdField

STATUS_FLAGS = ("deregistered", "revoked", "suspended", "inactive")


def record_expressions(
    config: ProjectConfig, plans: list[StdField], activity: ActivitySummary
) -> tuple[str, list[Any]]:
    """SQL select items (over the inner ``j``) of the record-level columns, and their parameters."""
    q = ident
    items: list[str] = []
    status = next((p for p in plans if p.kind == Kind.STATUS), None)
    items.append(f"coalesce(j.{q(status.name)}, 'unknown')" if status else "'unknown'")
    items[-1] += " AS record_status"
    tests = [f"j.{q(p.hidden('test'))}" for p in plans]
    reason = f"coalesce({', '.join(tests)})" if len(tests) > 1 else (tests[0] if tests else "NULL")
    items.append(f"CAST({reason} AS VARCHAR) AS __test_reason")
    items.append(f"({reason}) IS NOT NULL AS is_test")

    with_activity = sorted(activity.customer_sources)
    ref = activity.reference_date
    has = f"j._source IN ({', '.join(literal(s) for s in with_activity)})" if with_activity else "false"
    months = int(config.standardize.stale_months)
    items.append(f"CASE WHEN {has} THEN j.__last_activity_date END AS last_activity_date")
    items.append(f"CASE WHEN {has} THEN coalesce(j.__activity_amount_12m, 0) END AS activity_amount_12m")
    items.append(f"CASE WHEN {has} THEN coalesce(j.__activity_amount_total, 0) END AS activity_amount_total")
    if ref is not None and with_activity:
        ref_sql = f"DATE {literal(ref.isoformat())}"
        stale = (
            f"CASE WHEN NOT ({has}) THEN NULL WHEN j.__last_activity_date IS NULL THEN 'no_activity' "
            f"WHEN j.__last_activity_date < {ref_sql} - INTERVAL {months} MONTH THEN 'stale' END"
        )
        items.append(f"{stale} AS __stale_reason")
        items.append(f"CASE WHEN NOT ({has}) THEN NULL ELSE ({stale}) IS NOT NULL END AS is_stale")
    else:
        items.append("CAST(NULL AS VARCHAR) AS __stale_reason")
        items.append("CAST(NULL AS BOOLEAN) AS is_stale")

    issues = [f"coalesce(j.{q(p.col('issue'))}, '') LIKE 'mojibake%'" for p in plans]
    items.append(
        (f"CASE WHEN {' OR '.join(issues)} THEN 'mojibake' END" if issues else "CAST(NULL AS VARCHAR)")
        + " AS __mojibake"
    )

    province = next((p for p in plans if p.kind == Kind.PROVINCE), None)
    address = next((p for p in plans if p.kind == Kind.ADDRESS), None)
    record_province = [f"j.{q(province.name)}"] if province else []
    if address is not None:
        record_province.append(f"j.{q(address.col('province'))}")
    for p in plans:
        if p.kind != Kind.POSTCODE:
            continue
        mine = f"j.{q(p.hidden('province'))}"
        theirs = (
            (record_province[0] if len(record_province) == 1 else f"coalesce({', '.join(record_province)})")
            if record_province
            else "NULL"
        )
        items.append(
            f"CASE WHEN {mine} IS NULL OR ({theirs}) IS NULL THEN NULL ELSE {mine} = ({theirs}) END "
            f"AS {q(p.col('province_match'))}"
        )
    return ", ".join(items), []


def flags_expression(plans: list[StdField]) -> str:
    """SQL of ``flags`` over the record-level columns (see the module docstring)."""
    statuses = ", ".join(literal(s) for s in STATUS_FLAGS)
    return (
        "NULLIF(concat_ws(';', "
        f"CASE WHEN record_status IN ({statuses}) THEN record_status END, "
        "CASE WHEN is_test THEN 'test:' || __test_reason END, "
        "__stale_reason, __mojibake), '')"
    )
