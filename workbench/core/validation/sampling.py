"""The business sample (phase 7, business validation): plan, draw, review data, verdicts, accuracy.

This module owns acceptance sampling of master records. :func:`plan_sample` sizes the sample for a
stated target accuracy and confidence (e.g. 99.9 % at 95 %): with zero allowed defects on a large
population ``n = ceil(ln(1 - confidence) / ln(accuracy))``; with ``c`` allowed defects the smallest
``n`` whose chance of accepting a population that misses the target is at most ``1 - confidence``,
under the binomial law or (finite population) the hypergeometric law. :func:`draw_sample` draws a
seeded, stratified random sample (by source, batch and match type). :func:`review_sheet` gathers
what reviewers see of each sampled customer (source rows, golden fields with provenance,
transactions; personal data masked), which :mod:`workbench.presentation.workbooks.business_sample`
writes as their workbook; :func:`read_verdicts` reads their verdicts back and
:func:`evaluate_sample` reports the estimated accuracy with a Clopper-Pearson interval and whether
the target is met.

Tables written to the run database: ``sample_plan`` (one row), ``business_sample`` (the drawn
masters) and ``sample_verdicts`` (the verdicts read back).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.core.masking import PERSON_TYPES, mask_frame, mask_series, mask_values_by, person_name_columns
from workbench.engine import catalog
from workbench.engine.catalog import (
    BATCH_PLAN,
    BUSINESS_SAMPLE,
    CROSSWALK,
    GOLDEN_CUSTOMERS,
    GOLDEN_PROVENANCE,
    SAMPLE_PLAN,
    SAMPLE_VERDICTS,
    STD_CUSTOMERS,
    staged,
)
from workbench.engine.connection import registered, table_columns, table_exists
from workbench.engine.sql import ident, literal
from workbench.errors import WorkbenchError
from workbench.project.settings.report import MaskingSettings, SamplingSettings

if TYPE_CHECKING:
    import duckdb

    from workbench.project.config import ProjectConfig
    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

REVIEW_WORKBOOK = "business_sample.xlsx"  # in the run's review/ folder
IDS = catalog.temp("ids")
FRAME = catalog.temp("frame")
SAMPLE_SHEET = "sample"
HISTORY_SHEET = "history"
INFO_SHEET = "instructions"
REVIEW_COLUMNS = ["verdict", "defect_fields", "comment", "reviewer"]
VERDICT_WORDS = {
    "ok": "ok",
    "correct": "ok",
    "pass": "ok",
    "passed": "ok",
    "正确": "ok",
    "通过": "ok",
    "对": "ok",
    "defect": "defect",
    "wrong": "defect",
    "fail": "defect",
    "failed": "defect",
    "错误": "defect",
    "不通过": "defect",
    "错": "defect",
}
MAX_TRANSACTIONS = 30


class SamplingError(WorkbenchError):
    """The sample cannot be planned or drawn, or a verdict sheet is invalid."""


@dataclass(frozen=True)
class SamplePlan:
    """An acceptance-sampling plan: draw `sample_size`, accept when defects ≤ `allowed_defects`."""

    population: int
    target_accuracy: float
    confidence: float
    allowed_defects: int
    sample_size: int
    method: str  # zero_defect | binomial | hypergeometric | census | override
    computed_size: int
    tolerated_defects: int | None  # finite population: most defects the target allows
    accept_probability_at_limit: float  # chance to accept a population just missing the target

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def zero_defect_sample_size(accuracy: float, confidence: float) -> int:
    """Sample size that proves `accuracy` at `confidence` when no defect is found (large population).

    ``n = ceil(ln(1 - confidence) / ln(accuracy))``; e.g. 99.9 % at 95 % → 2995.
    """
    _check_rates(accuracy, confidence)
    return math.ceil(math.log(1 - confidence) / math.log(accuracy) - 1e-12)


def _check_rates(accuracy: float, confidence: float) -> None:
    if not 0 < accuracy < 1:
        raise SamplingError(f"target accuracy must be between 0 and 1 (exclusive), got {accuracy!r}")
    if not 0 < confidence < 1:
        raise SamplingError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")


def _smallest_n(accept_prob: Callable[[int], float], lo: int, hi: int, limit: float) -> int:
    """Smallest n in [lo, hi] with accept_prob(n) <= limit (accept_prob falls as n grows)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if accept_prob(mid) <= limit:
            hi = mid
        else:
            lo = mid + 1
    return lo


def plan_sample(
    population: int,
    target_accuracy: float,
    confidence: float,
    allowed_defects: int = 0,
    *,
    finite_population: bool = True,
    override_size: int | None = None,
) -> SamplePlan:
    """Size an acceptance sample for a target accuracy and confidence.

    Args:
        population: number of master records N.
        target_accuracy: share of correct records to prove, e.g. 0.999.
        confidence: confidence of the accept decision, e.g. 0.95.
        allowed_defects: acceptance number c.
        finite_population: use the hypergeometric law on N (smaller samples for small N).
        override_size: draw this many instead (the plan still reports the computed size).

    Returns:
        The plan. When the population is too small for the plan, the whole population is checked
        (method ``census``).
    """
    _check_rates(target_accuracy, confidence)
    if population < 0:
        raise SamplingError(f"population must be >= 0, got {population}")
    if allowed_defects < 0:
        raise SamplingError(f"allowed defects must be >= 0, got {allowed_defects}")
    from scipy import stats

    p_bad = 1 - target_accuracy
    limit = 1 - confidence
    tolerated: int | None = None
    if finite_population and population > 0:
        tolerated = math.floor(population * p_bad + 1e-9)
        d_break = tolerated + 1  # fewest defects that miss the target
        if allowed_defects >= d_break:
            raise SamplingError(
                f"allowed defects c={allowed_defects} is not below the {d_break} defects that already miss "
                f"the target in {population} records; lower c or raise the population"
            )

        def accept(n: int) -> float:
            return float(stats.hypergeom.cdf(allowed_defects, population, d_break, n))

        n = _smallest_n(accept, allowed_defects + 1, population, limit)
        method = "hypergeometric"
        at_limit = accept(n)
    else:

        def accept(n: int) -> float:
            return float(stats.binom.cdf(allowed_defects, n, p_bad))

        hi = max(allowed_defects + 1, zero_defect_sample_size(target_accuracy, confidence))
        while accept(hi) > limit:
            hi *= 2
        n = _smallest_n(accept, allowed_defects + 1, hi, limit)
        method = "zero_defect" if allowed_defects == 0 else "binomial"
        at_limit = accept(n)
    computed = n
    if n >= population:
        n, method = population, "census"
    if override_size is not None:
        n, method = min(override_size, population), "override"
    return SamplePlan(
        population=population,
        target_accuracy=target_accuracy,
        confidence=confidence,
        allowed_defects=allowed_defects,
        sample_size=int(n),
        method=method,
        computed_size=int(computed),
        tolerated_defects=tolerated,
        accept_probability_at_limit=round(at_limit, 6),
    )


def allocate(counts: pd.Series, n: int) -> pd.Series:
    """Proportional allocation of `n` over strata (largest remainder), at least one per stratum
    when `n` allows, never more than a stratum holds."""
    counts = counts[counts > 0].sort_index()
    total = int(counts.sum())
    if n >= total:
        return counts.copy()
    if n <= 0 or counts.empty:
        return counts * 0
    quota = counts / total * n
    alloc = np.floor(quota).astype(int)
    order = (quota - alloc).sort_values(ascending=False, kind="mergesort").index
    for key in order[: n - int(alloc.sum())]:
        alloc[key] += 1
    if n >= len(counts):
        # every stratum gets at least one record, taken from the stratum that has most to spare
        for key in alloc[alloc == 0].index:
            spare = (alloc - quota)[alloc > 1]
            alloc[spare.idxmax() if len(spare) else alloc.idxmax()] -= 1
            alloc[key] = 1
    return alloc.astype(int)


def draw_sample(frame: pd.DataFrame, n: int, strata: list[str], seed: int) -> pd.DataFrame:
    """Draw a stratified random sample of master records (seeded, reproducible).

    Args:
        frame: one row per master with ``master_id`` and the stratum columns.
        n: sample size.
        strata: stratum columns (missing values form their own stratum ``(none)``).
        seed: random seed.

    Returns:
        The sampled rows ordered by stratum and draw order, with ``sample_no`` (1-based) and
        ``stratum`` (the stratum values joined by `` / ``).
    """
    missing = [c for c in ["master_id", *strata] if c not in frame.columns]
    if missing:
        raise SamplingError(f"the sample frame lacks column(s) {missing}; it has {list(frame.columns)}")
    df = frame.sort_values("master_id", kind="mergesort").reset_index(drop=True).copy()
    if strata:
        df["stratum"] = df[strata].astype("string").fillna("(none)").agg(" / ".join, axis=1)
    else:
        df["stratum"] = "all"
    alloc = allocate(df["stratum"].value_counts(), n)
    rng = np.random.default_rng(seed)
    parts = []
    for stratum, k in alloc.items():
        members = df[df["stratum"] == stratum]
        if k <= 0:
            continue
        pick = rng.permutation(len(members))[:k]
        parts.append(members.iloc[np.sort(pick)])
    sample = pd.concat(parts) if parts else df.iloc[0:0]
    sample = sample.sort_values(["stratum", "master_id"], kind="mergesort").reset_index(drop=True)
    sample.insert(0, "sample_no", range(1, len(sample) + 1))
    return sample


def build_sample_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per master with its strata: ``source`` (first source), ``batch``, ``match_type``."""
    if not table_exists(con, GOLDEN_CUSTOMERS.name):
        raise SamplingError(f"table {GOLDEN_CUSTOMERS} is missing; run the golden stage first")
    cols = set(table_columns(con, GOLDEN_CUSTOMERS.name))
    source = "split_part(g.sources, ';', 1)" if "sources" in cols else "NULL"
    match_type = "g.match_type" if "match_type" in cols else "NULL"
    batch_join, batch = "", "NULL"
    if table_exists(con, BATCH_PLAN.name):
        batch_join, batch = f"LEFT JOIN {BATCH_PLAN} b USING (master_id)", "b.batch"
    sql = (
        f"SELECT g.master_id, {source} AS source, {batch} AS batch, {match_type} AS match_type "
        f"FROM {GOLDEN_CUSTOMERS} g {batch_join} ORDER BY g.master_id"
    )
    return con.sql(sql).df()


def sample_masters(
    con: duckdb.DuckDBPyConnection, settings: SamplingSettings, seed: int
) -> tuple[SamplePlan, pd.DataFrame]:
    """Plan and draw the business sample from the run's golden records; save both tables.

    Returns:
        The plan and the sample (``business_sample`` table).
    """
    frame = build_sample_frame(con)
    plan = plan_sample(
        len(frame),
        settings.target_accuracy,
        settings.confidence,
        settings.allowed_defects,
        finite_population=settings.finite_population,
        override_size=settings.sample_size,
    )
    strata = [s for s in settings.strata if s in frame.columns]
    unknown = sorted(set(settings.strata) - set(frame.columns))
    if unknown:
        raise SamplingError(
            f"report.sampling.strata: unknown stratum column(s) {unknown}; use source, batch, match_type"
        )
    sample = draw_sample(frame, plan.sample_size, strata, seed if settings.seed is None else settings.seed)
    _store(con, SAMPLE_PLAN.name, pd.DataFrame([plan.to_dict()]))
    _store(con, BUSINESS_SAMPLE.name, sample, order_by="sample_no")
    log.info("business sample: %s of %s masters (%s)", plan.sample_size, plan.population, plan.method)
    return plan, sample


# --------------------------------------------------------------------------------------------
# the reviewer workbook


def customer_history(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    master_ids: list[str],
    *,
    fields: list[str] | None = None,
) -> pd.DataFrame:
    """Each master's history in long form: its source rows, golden fields with provenance, transactions.

    Columns: ``master_id, section, source, record_key, field, value, detail``; ordered by master,
    section, record key and field.
    """
    ids = pd.DataFrame({"master_id": [str(m) for m in master_ids]})
    with registered(con, IDS, ids):
        return _history(con, config, fields)


HISTORY_COLUMNS = ["master_id", "section", "source", "record_key", "field", "value", "detail"]
SECTION_ORDER = {"source_row": 0, "golden": 1, "transaction": 2}


def _source_rows(con: duckdb.DuckDBPyConnection, wanted: list[str]) -> list[pd.DataFrame]:
    """The raw values of each master's source rows (``<field>_raw`` of ``std_customers``)."""
    if not (table_exists(con, CROSSWALK.name) and table_exists(con, STD_CUSTOMERS.name)):
        return []
    std_cols = set(table_columns(con, STD_CUSTOMERS.name))
    raw_cols = [f"{f}_raw" for f in wanted if f"{f}_raw" in std_cols]
    if not raw_cols:
        return []
    unpivot = ", ".join(ident(c) for c in raw_cols)
    return [
        con.sql(
            f"""
            SELECT c.master_id, 'source_row' AS section, s._source AS source, s.record_key,
                   regexp_replace(u.name, '_raw$', '') AS field, u.value, s.source_id AS detail
            FROM {IDS} i JOIN {CROSSWALK} c USING (master_id)
            JOIN {STD_CUSTOMERS} s ON s.record_key = c.record_key
            JOIN (UNPIVOT (SELECT record_key, {unpivot} FROM {STD_CUSTOMERS} WHERE record_key IN
                           (SELECT record_key FROM {CROSSWALK} WHERE master_id IN
                            (SELECT master_id FROM {IDS})))
                  ON {unpivot} INTO NAME name VALUE value) u ON u.record_key = s.record_key
            """
        ).df()
    ]


def _golden_fields(con: duckdb.DuckDBPyConnection) -> list[pd.DataFrame]:
    """Each master's golden fields with the record and rule they came from."""
    if not table_exists(con, GOLDEN_PROVENANCE.name):
        return []
    prov_cols = set(table_columns(con, GOLDEN_PROVENANCE.name))
    src = "p.source" if "source" in prov_cols else "split_part(p.record_key, ':', 1)"
    return [
        con.sql(
            f"""
            SELECT p.master_id, 'golden' AS section, {src} AS source, p.record_key, p.field,
                   CAST(p.value AS VARCHAR) AS value, p.rule AS detail
            FROM {IDS} i JOIN {GOLDEN_PROVENANCE} p USING (master_id)
            """
        ).df()
    ]


def _history(con: duckdb.DuckDBPyConnection, config: ProjectConfig, fields: list[str] | None) -> pd.DataFrame:
    wanted = list(fields or config.field_kinds())
    parts = [*_source_rows(con, wanted), *_golden_fields(con), *_transactions(con, config)]
    if not parts:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    cols = HISTORY_COLUMNS
    out = pd.concat([p[cols] for p in parts if not p.empty] or [pd.DataFrame(columns=cols)])
    out["_o"] = out["section"].map(SECTION_ORDER)
    out = out.sort_values(["master_id", "_o", "record_key", "field"], kind="mergesort")
    return out.drop(columns="_o").reset_index(drop=True)


def _transactions(con: duckdb.DuckDBPyConnection, config: ProjectConfig) -> list[pd.DataFrame]:
    """Transactions of activity sources linked through the customer source's IDs."""
    if not table_exists(con, CROSSWALK.name):
        return []
    out = []
    for act in config.activity_sources:
        table = staged(act.name)
        if not act.customer_source or not table_exists(con, table):
            continue
        id_col = ident(act.id_field)
        present = set(table_columns(con, table))
        fields = [c.field for c in act.columns.values() if c.field != act.id_field and c.field in present]
        if not fields:
            continue
        text = " || '; ' || ".join(f"{literal(f + '=')} || coalesce({ident(f)}, '')" for f in fields)
        df = con.execute(
            f"""
            SELECT master_id, 'transaction' AS section, ? AS source,
                   ? || ':' || CAST(t._row_number AS VARCHAR) AS record_key,
                   'transaction' AS field, {text} AS value, t.{id_col} AS detail
            FROM (SELECT c.master_id, c.source_id FROM {IDS} i JOIN {CROSSWALK} c USING (master_id)
                  WHERE c.source = ?) m
            JOIN {table} t ON trim(t.{id_col}) = m.source_id
            QUALIFY row_number() OVER (PARTITION BY master_id ORDER BY t._row_number DESC) <= ?
            """,
            [act.name, act.name, act.customer_source, MAX_TRANSACTIONS],
        ).df()
        out.append(df)
    return out


@dataclass
class ReviewSheet:
    """What reviewers see of the sample, masked: one row per sampled master, and its history.

    ``rows``: ``sample_no, master_id, stratum``, the golden fields shown and the empty review
    columns (``REVIEW_COLUMNS``). ``history``: ``sample_no`` and :func:`customer_history`'s columns
    (``section`` is ``source_row``, ``golden`` or ``transaction``).
    """

    rows: pd.DataFrame
    history: pd.DataFrame


def review_sheet(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    sample: pd.DataFrame,
    *,
    masking: MaskingSettings | None = None,
    fields: list[str] | None = None,
) -> ReviewSheet:
    """The sample and each sampled customer's history as reviewers see them (personal data masked).

    Args:
        con: the run database (``golden_customers``, ``business_sample`` and the history tables).
        config: the project config.
        sample: the drawn sample (``sample_no``, ``master_id``, ``stratum``).
        masking: ``report.masking`` (phones, e-mails, IDs are masked in both frames).
        fields: the golden fields shown; default every canonical field.
    """
    kinds = {f: str(getattr(k, "value", k)) for f, k in config.field_kinds().items()}
    golden_cols = set(table_columns(con, GOLDEN_CUSTOMERS.name))
    show = [f for f in (fields or list(kinds)) if f in golden_cols]
    if "customer_type" in golden_cols and "customer_type" not in show:
        show.append("customer_type")  # tells a person (B2C), whose name is masked, from a company
    golden = (
        con.execute(
            "SELECT master_id, "
            + ", ".join(ident(c) for c in show or ["master_id"])
            + f" FROM {GOLDEN_CUSTOMERS} WHERE master_id IN (SELECT master_id FROM {BUSINESS_SAMPLE})"
            " ORDER BY master_id"
        ).df()
        if table_exists(con, BUSINESS_SAMPLE.name)
        else pd.DataFrame({"master_id": []})
    )
    golden = golden.loc[:, ~golden.columns.duplicated()]
    rows = sample[["sample_no", "master_id", "stratum"]].merge(golden, on="master_id", how="left")
    rows = mask_frame(rows, kinds, masking)
    for col in REVIEW_COLUMNS:
        rows[col] = ""
    history = customer_history(con, config, sample["master_id"].tolist(), fields=fields)
    persons = set(rows.loc[rows.get("customer_type", pd.Series(dtype=object)).isin(PERSON_TYPES), "master_id"]) \
        if "customer_type" in rows.columns else set()
    history = _mask_long(history, kinds, masking, persons)
    history.insert(
        0, "sample_no", history["master_id"].map(dict(zip(sample.master_id, sample.sample_no, strict=True)))
    )
    return ReviewSheet(rows, history)


def _mask_long(
    history: pd.DataFrame, kinds: dict[str, str], masking: MaskingSettings | None, persons: set[str] | None = None
) -> pd.DataFrame:
    """Mask the `value` of long-form rows whose `field` is a field to mask, and the customer names of
    the masters in `persons` (B2C customers) like a person's name."""
    s = masking or MaskingSettings()
    out = mask_values_by(history, "field", kinds, s)
    if not (s.enabled and s.person_customers and "person_name" in s.kinds and persons) or out.empty:
        return out
    names = person_name_columns(sorted(out["field"].dropna().unique()), kinds)
    rows = out["field"].isin(names) & out["master_id"].astype(str).isin(persons)
    if rows.any():
        out = out.copy()
        out.loc[rows, "value"] = mask_series(out.loc[rows, "value"].astype("object"), "person_name", s)
    return out


# --------------------------------------------------------------------------------------------
# verdicts


def read_verdicts(path: Path | str) -> pd.DataFrame:
    """Read the reviewers' verdicts back from the workbook.

    Returns:
        ``sample_no, master_id, verdict (ok | defect | NULL when not reviewed), defect_fields,
        comment, reviewer``.

    Raises:
        SamplingError: a verdict that is not ok/defect (or a listed synonym), naming the file,
        the Excel row, the value and what to write instead.
    """
    path = Path(path)
    if not path.is_file():
        raise SamplingError(f"{path}: review workbook not found")
    try:
        df = pd.read_excel(path, sheet_name=SAMPLE_SHEET, header=0, dtype=object, engine="calamine")
    except ValueError as exc:
        raise SamplingError(
            f"{path}: no sheet {SAMPLE_SHEET!r} ({exc}); use the workbook the run wrote"
        ) from exc
    missing = [c for c in ["sample_no", "master_id", *REVIEW_COLUMNS] if c not in df.columns]
    if missing:
        raise SamplingError(
            f"{path}: sheet {SAMPLE_SHEET!r} lacks column(s) {missing}; do not rename headers"
        )
    df = df.iloc[1:]  # row 2 holds the captions
    problems = []
    verdicts: list[str | None] = []
    for offset, raw in enumerate(df["verdict"].tolist()):
        excel_row = offset + 3
        if raw is None or (isinstance(raw, float) and math.isnan(raw)) or not str(raw).strip():
            verdicts.append(None)
            continue
        word = VERDICT_WORDS.get(str(raw).strip().lower())
        if word is None:
            problems.append(
                f"{path}, sheet {SAMPLE_SHEET}, row {excel_row}, column verdict: {raw!r} is not a verdict; "
                "write ok or defect"
            )
        verdicts.append(word)
    if problems:
        raise SamplingError("invalid verdicts:\n" + "\n".join(f"  - {p}" for p in problems))
    out = pd.DataFrame(
        {
            "sample_no": pd.to_numeric(df["sample_no"]).astype("int64").to_numpy(),
            "master_id": df["master_id"].astype(str).to_numpy(),
            "verdict": verdicts,
            "defect_fields": df["defect_fields"].where(df["defect_fields"].notna(), None).to_numpy(),
            "comment": df["comment"].where(df["comment"].notna(), None).to_numpy(),
            "reviewer": df["reviewer"].where(df["reviewer"].notna(), None).to_numpy(),
        }
    )
    return out.sort_values("sample_no", kind="mergesort").reset_index(drop=True)


@dataclass
class SampleResult:
    """The business validation result of a reviewed sample."""

    sample_size: int
    reviewed: int
    pending: int
    defects: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    lower_bound: float | None  # one-sided lower confidence bound at the plan's confidence
    accepted: bool | None  # defects <= c (None while verdicts are pending)
    target_met: bool | None
    defect_fields: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clopper_pearson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided confidence interval of a proportion."""
    from scipy.stats import binomtest

    if n == 0:
        return 0.0, 1.0
    ci = binomtest(successes, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def evaluate_sample(verdicts: pd.DataFrame, plan: SamplePlan) -> SampleResult:
    """Estimated accuracy with a Clopper-Pearson interval, and whether the target is met.

    The target is met when every sampled record was reviewed and the defects do not exceed the
    plan's acceptance number (for a census: when the accuracy reaches the target).
    """
    n = len(verdicts)
    reviewed = int(verdicts["verdict"].notna().sum())
    defects = int((verdicts["verdict"] == "defect").sum())
    fields: dict[str, int] = {}
    for cell in verdicts.loc[verdicts["verdict"] == "defect", "defect_fields"].dropna():
        for f in str(cell).replace("；", ";").split(";"):
            if f.strip():
                fields[f.strip()] = fields.get(f.strip(), 0) + 1
    if reviewed == 0:
        return SampleResult(n, 0, n, 0, None, None, None, None, None, None, fields)
    ok = reviewed - defects
    low, high = clopper_pearson(ok, reviewed, plan.confidence)
    lower, _ = clopper_pearson(ok, reviewed, 2 * plan.confidence - 1)
    lower = 1.0 if ok == reviewed and reviewed == plan.population else lower
    pending = n - reviewed
    accepted = None if pending else defects <= plan.allowed_defects
    if pending:
        target = None
    elif plan.method == "census":
        target = ok / reviewed >= plan.target_accuracy
    else:
        target = bool(accepted)
    return SampleResult(
        sample_size=n,
        reviewed=reviewed,
        pending=pending,
        defects=defects,
        accuracy=ok / reviewed,
        ci_low=low,
        ci_high=high,
        lower_bound=lower,
        accepted=accepted,
        target_met=target,
        defect_fields=dict(sorted(fields.items())),
    )


def _store(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, order_by: str | None = None
) -> None:
    """Replace `table` with the rows of `frame` (registered explicitly, then dropped)."""
    order = f" ORDER BY {ident(order_by)}" if order_by else ""
    with registered(con, FRAME, frame):
        con.execute(f"CREATE OR REPLACE TABLE {ident(table)} AS SELECT * FROM {FRAME}{order}")


def save_verdicts(con: duckdb.DuckDBPyConnection, verdicts: pd.DataFrame) -> None:
    """Store the verdicts read back as table ``sample_verdicts``."""
    _store(con, SAMPLE_VERDICTS.name, verdicts, order_by="sample_no")


def load_plan(con: duckdb.DuckDBPyConnection) -> SamplePlan:
    """The plan stored by :func:`sample_masters`."""
    if not table_exists(con, SAMPLE_PLAN.name):
        raise SamplingError(f"table {SAMPLE_PLAN} is missing; draw the sample first (sample_masters)")
    row = con.sql(f"SELECT * FROM {SAMPLE_PLAN}").df().iloc[0].to_dict()
    tolerated = row["tolerated_defects"]
    row["tolerated_defects"] = None if tolerated is None or pd.isna(tolerated) else int(tolerated)
    for k in ("population", "allowed_defects", "sample_size", "computed_size"):
        row[k] = int(row[k])
    return SamplePlan(**row)


@dataclass
class BusinessSample:
    """The business sample of a run: plan, drawn masters, review sheet, verdicts and result."""

    plan: SamplePlan
    sample: pd.DataFrame
    workbook: Path
    verdicts: pd.DataFrame | None
    result: SampleResult | None

    def metrics(self) -> dict[str, Any]:
        """Figures the ``validate`` stage records."""
        out: dict[str, Any] = {
            "sample_population": self.plan.population,
            "sample_size": self.plan.sample_size,
            "sample_method": self.plan.method,
            "sample_workbook": str(self.workbook),
            "sample_reviewed": 0 if self.result is None else self.result.reviewed,
        }
        if self.result is not None:
            out.update(
                {
                    "sample_defects": self.result.defects,
                    "sample_accuracy": self.result.accuracy,
                    "sample_ci_low": self.result.ci_low,
                    "sample_ci_high": self.result.ci_high,
                    "sample_target_met": self.result.target_met,
                }
            )
        return out


def _match_verdicts(path: Path, sample: pd.DataFrame) -> pd.DataFrame:
    """The verdicts of `path` for this run's sample, by master ID (None where pending)."""
    answered = read_verdicts(path).drop(columns="sample_no")
    dup = answered[answered.duplicated("master_id", keep=False) & answered["verdict"].notna()]
    if len(dup):
        raise SamplingError(f"{path}: master(s) {sorted(set(dup['master_id']))[:10]} have several verdicts")
    answered = answered.drop_duplicates("master_id", keep="first")
    verdicts = sample[["sample_no", "master_id"]].merge(answered, on="master_id", how="left")
    ignored = sorted(set(answered.loc[answered["verdict"].notna(), "master_id"]) - set(sample["master_id"]))
    if ignored:
        log.warning("%s: %s verdict(s) for masters not in this run's sample are ignored", path, len(ignored))
    return verdicts.astype(object).where(verdicts.notna(), None)


SheetWriter = Callable[["RunContext", "duckdb.DuckDBPyConnection", "SamplePlan", pd.DataFrame, Path], Path]


def business_sample(
    ctx: RunContext, con: duckdb.DuckDBPyConnection, *, write_sheet: SheetWriter | None = None
) -> BusinessSample:
    """Draw the run's business sample, have the review sheet written, and read verdicts when reviewers answered.

    The sheet belongs in ``<run>/review/business_sample.xlsx`` (``BusinessSample.workbook``);
    `write_sheet` writes it there, before the verdicts are read (the stage passes
    :func:`workbench.presentation.workbooks.business_sample.write_business_sample_workbook`).
    Reviewers return it filled in as ``report.sampling.verdicts_path`` (beside the config); its
    verdicts are matched to this run's sample by master ID (a sampled master without a verdict is
    pending), stored in ``sample_verdicts`` and evaluated.

    Args:
        ctx: the run.
        con: the run database.
        write_sheet: writes the review workbook: ``(ctx, con, plan, sample, path) -> path``.
    """
    config = ctx.config
    plan, sample = sample_masters(con, config.report.sampling, config.project.seed)
    workbook = ctx.paths.review / REVIEW_WORKBOOK
    if write_sheet is not None:
        workbook = write_sheet(ctx, con, plan, sample, workbook)
    path = ctx.project.verdicts
    if not path.is_file():
        log.info("no verdicts yet at %s: the review sheet is %s", path, workbook)
        return BusinessSample(plan, sample, workbook, None, None)
    verdicts = _match_verdicts(path, sample)
    save_verdicts(con, verdicts)
    return BusinessSample(plan, sample, workbook, verdicts, evaluate_sample(verdicts, plan))
