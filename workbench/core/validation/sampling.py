"""The business sample (phase 7, business validation): plan, draw, review sheet, verdicts, accuracy.

This module owns acceptance sampling of master records. :func:`plan_sample` sizes the sample for a
stated target accuracy and confidence (e.g. 99.9 % at 95 %): with zero allowed defects on a large
population ``n = ceil(ln(1 - confidence) / ln(accuracy))``; with ``c`` allowed defects the smallest
``n`` whose chance of accepting a population that misses the target is at most ``1 - confidence``,
under the binomial law or (finite population) the hypergeometric law. :func:`draw_sample` draws a
seeded, stratified random sample (by source, batch and match type). :func:`write_review_workbook`
gives reviewers each sampled customer's history (source rows, golden fields with provenance,
transactions); :func:`read_verdicts` reads their verdicts back and :func:`evaluate_sample` reports the
estimated accuracy with a Clopper-Pearson interval and whether the target is met.

Tables written to the run database: ``sample_plan`` (one row), ``business_sample`` (the drawn
masters) and ``sample_verdicts`` (the verdicts read back).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.core.masking import mask_frame
from workbench.engine.catalog import staged
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.files import atomic_path
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError
from workbench.project.settings.report import MaskingSettings, SamplingSettings

log = logging.getLogger(__name__)

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

LABELS = {
    "zh": {
        "title": "业务抽样核对表",
        "plan": "抽样方案",
        "population": "主数据总数",
        "target": "目标准确率",
        "confidence": "置信度",
        "allowed": "允许缺陷数 c",
        "size": "样本量 n",
        "method": "计算方法",
        "seed": "随机种子",
        "how": "填写说明：在 sample 表的 verdict 列填 ok（正确）或 defect（有错误）；有错误时在 "
        "defect_fields 列写出错的字段（用 ; 分隔），comment 写说明，reviewer 写核对人。"
        "history 表列出每个抽中客户的来源记录、黄金记录字段及其来源、交易记录。",
        "caption": {
            "sample_no": "序号",
            "master_id": "主数据编号",
            "stratum": "分层",
            "verdict": "结论 (ok/defect)",
            "defect_fields": "错误字段",
            "comment": "说明",
            "reviewer": "核对人",
        },
        "sections": {"source_row": "来源记录", "golden": "黄金记录", "transaction": "交易"},
    },
    "en": {
        "title": "Business sample review sheet",
        "plan": "Sampling plan",
        "population": "Master records",
        "target": "Target accuracy",
        "confidence": "Confidence",
        "allowed": "Allowed defects c",
        "size": "Sample size n",
        "method": "Method",
        "seed": "Seed",
        "how": "How to fill: in sheet `sample` write ok or defect in column verdict; for a defect list "
        "the wrong fields in defect_fields (separated by ;), explain in comment and sign in reviewer. "
        "Sheet `history` lists each sampled customer's source rows, golden fields with their "
        "provenance, and transactions.",
        "caption": {
            "sample_no": "No.",
            "master_id": "Master ID",
            "stratum": "Stratum",
            "verdict": "Verdict (ok/defect)",
            "defect_fields": "Wrong fields",
            "comment": "Comment",
            "reviewer": "Reviewer",
        },
        "sections": {"source_row": "source row", "golden": "golden field", "transaction": "transaction"},
    },
}


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


def _smallest_n(accept_prob, lo: int, hi: int, limit: float) -> int:
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


def build_sample_frame(con) -> pd.DataFrame:
    """One row per master with its strata: ``source`` (first source), ``batch``, ``match_type``."""
    if not table_exists(con, "golden_customers"):
        raise SamplingError("table golden_customers is missing; run the golden stage first")
    cols = set(table_columns(con, "golden_customers"))
    source = "split_part(g.sources, ';', 1)" if "sources" in cols else "NULL"
    match_type = "g.match_type" if "match_type" in cols else "NULL"
    batch_join, batch = "", "NULL"
    if table_exists(con, "batch_plan"):
        batch_join, batch = "LEFT JOIN batch_plan b USING (master_id)", "b.batch"
    sql = (
        f"SELECT g.master_id, {source} AS source, {batch} AS batch, {match_type} AS match_type "
        f"FROM golden_customers g {batch_join} ORDER BY g.master_id"
    )
    return con.sql(sql).df()


def sample_masters(con, settings: SamplingSettings, seed: int) -> tuple[SamplePlan, pd.DataFrame]:
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
    _store(con, "sample_plan", pd.DataFrame([plan.to_dict()]))
    _store(con, "business_sample", sample, order_by="sample_no")
    log.info("business sample: %s of %s masters (%s)", plan.sample_size, plan.population, plan.method)
    return plan, sample


# --------------------------------------------------------------------------------------------
# the reviewer workbook


def customer_history(con, config, master_ids: list[str], *, fields: list[str] | None = None) -> pd.DataFrame:
    """Each master's history in long form: its source rows, golden fields with provenance, transactions.

    Columns: ``master_id, section, source, record_key, field, value, detail``; ordered by master,
    section, record key and field.
    """
    con.register("__wb_ids", pd.DataFrame({"master_id": [str(m) for m in master_ids]}))
    try:
        return _history(con, config, fields)
    finally:
        con.unregister("__wb_ids")


def _history(con, config, fields: list[str] | None) -> pd.DataFrame:
    canonical = list(config.field_kinds())
    wanted = [f for f in (fields or canonical)]
    parts: list[pd.DataFrame] = []
    if table_exists(con, "crosswalk") and table_exists(con, "std_customers"):
        std_cols = set(table_columns(con, "std_customers"))
        raw_cols = [f"{f}_raw" for f in wanted if f"{f}_raw" in std_cols]
        if raw_cols:
            unpivot = ", ".join(ident(c) for c in raw_cols)
            parts.append(
                con.sql(
                    f"""
                    SELECT c.master_id, 'source_row' AS section, s._source AS source, s.record_key,
                           regexp_replace(u.name, '_raw$', '') AS field, u.value, s.source_id AS detail
                    FROM __wb_ids i JOIN crosswalk c USING (master_id)
                    JOIN std_customers s ON s.record_key = c.record_key
                    JOIN (UNPIVOT (SELECT record_key, {unpivot} FROM std_customers WHERE record_key IN
                                   (SELECT record_key FROM crosswalk WHERE master_id IN
                                    (SELECT master_id FROM __wb_ids)))
                          ON {unpivot} INTO NAME name VALUE value) u ON u.record_key = s.record_key
                    """
                ).df()
            )
    if table_exists(con, "golden_provenance"):
        prov_cols = set(table_columns(con, "golden_provenance"))
        src = "p.source" if "source" in prov_cols else "split_part(p.record_key, ':', 1)"
        parts.append(
            con.sql(
                f"""
                SELECT p.master_id, 'golden' AS section, {src} AS source, p.record_key, p.field,
                       CAST(p.value AS VARCHAR) AS value, p.rule AS detail
                FROM __wb_ids i JOIN golden_provenance p USING (master_id)
                """
            ).df()
        )
    parts.extend(_transactions(con, config))
    cols = ["master_id", "section", "source", "record_key", "field", "value", "detail"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat([p[cols] for p in parts if not p.empty] or [pd.DataFrame(columns=cols)])
    order = {"source_row": 0, "golden": 1, "transaction": 2}
    out["_o"] = out["section"].map(order)
    out = out.sort_values(["master_id", "_o", "record_key", "field"], kind="mergesort")
    return out.drop(columns="_o").reset_index(drop=True)


def _transactions(con, config) -> list[pd.DataFrame]:
    """Transactions of activity sources linked through the customer source's IDs."""
    if not table_exists(con, "crosswalk"):
        return []
    out = []
    for act in config.activity_sources:
        table = staged(act.name)
        if not act.customer_source or not table_exists(con, table):
            continue
        id_col = ident(act.id_field)
        fields = [c.field for c in act.columns.values() if c.field != act.id_field]
        present = set(table_columns(con, table))
        fields = [f for f in fields if f in present]
        if not fields:
            continue
        text = " || '; ' || ".join(f"'{f}=' || coalesce({ident(f)}, '')" for f in fields)
        df = con.execute(
            f"""
            SELECT master_id, 'transaction' AS section, ? AS source,
                   ? || ':' || CAST(t._row_number AS VARCHAR) AS record_key,
                   'transaction' AS field, {text} AS value, t.{id_col} AS detail
            FROM (SELECT c.master_id, c.source_id FROM __wb_ids i JOIN crosswalk c USING (master_id)
                  WHERE c.source = ?) m
            JOIN {table} t ON trim(t.{id_col}) = m.source_id
            QUALIFY row_number() OVER (PARTITION BY master_id ORDER BY t._row_number DESC) <= ?
            """,
            [act.name, act.name, act.customer_source, MAX_TRANSACTIONS],
        ).df()
        out.append(df)
    return out


def write_review_workbook(
    con,
    config,
    plan: SamplePlan,
    sample: pd.DataFrame,
    path: Path,
    *,
    language: str = "zh",
    masking: MaskingSettings | None = None,
    fields: list[str] | None = None,
) -> Path:
    """Write the reviewer workbook: instructions, the sample with verdict columns, each customer's history.

    Personal data is masked with `masking` (phones, e-mails, IDs) in every sheet.
    """
    import xlsxwriter

    text = LABELS[language]
    kinds = {f: str(getattr(k, "value", k)) for f, k in config.field_kinds().items()}
    golden_cols = set(table_columns(con, "golden_customers"))
    show = [f for f in (fields or list(kinds)) if f in golden_cols]
    golden = (
        con.execute(
            "SELECT master_id, "
            + ", ".join(ident(c) for c in show or ["master_id"])
            + " FROM golden_customers WHERE master_id IN (SELECT master_id FROM business_sample)"
            " ORDER BY master_id"
        ).df()
        if table_exists(con, "business_sample")
        else pd.DataFrame({"master_id": []})
    )
    golden = golden.loc[:, ~golden.columns.duplicated()]
    rows = sample[["sample_no", "master_id", "stratum"]].merge(golden, on="master_id", how="left")
    rows = mask_frame(rows, kinds, masking)
    for col in REVIEW_COLUMNS:
        rows[col] = ""
    history = customer_history(con, config, sample["master_id"].tolist(), fields=fields)
    history = _mask_long(history, kinds, masking)
    history.insert(
        0, "sample_no", history["master_id"].map(dict(zip(sample.master_id, sample.sample_no, strict=True)))
    )
    history["section"] = history["section"].map(text["sections"])

    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        wb.set_properties({"title": text["title"], "created": pd.Timestamp("2000-01-01").to_pydatetime()})
        bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        cap = wb.add_format({"italic": True, "font_color": "#555555"})
        edit = wb.add_format({"bg_color": "#FFF2CC", "border": 1})
        ws = wb.add_worksheet(INFO_SHEET)
        ws.write(0, 0, text["title"], bold)
        items = [
            (text["population"], plan.population),
            (text["target"], plan.target_accuracy),
            (text["confidence"], plan.confidence),
            (text["allowed"], plan.allowed_defects),
            (text["size"], plan.sample_size),
            (text["method"], plan.method),
        ]
        ws.write(2, 0, text["plan"], bold)
        for i, (k, v) in enumerate(items, start=3):
            ws.write(i, 0, k)
            ws.write(i, 1, v)
        ws.write(len(items) + 4, 0, text["how"])
        ws.set_column(0, 0, 24)
        ws.set_column(1, 1, 18)

        ws = wb.add_worksheet(SAMPLE_SHEET)
        for j, col in enumerate(rows.columns):
            ws.write(0, j, col, bold)
            ws.write(1, j, text["caption"].get(col, col), cap)
        for i, rec in enumerate(rows.itertuples(index=False), start=2):
            for j, value in enumerate(rec):
                col = rows.columns[j]
                if col in REVIEW_COLUMNS:
                    ws.write_blank(i, j, None, edit)
                elif value is None or (isinstance(value, float) and math.isnan(value)):
                    ws.write_blank(i, j, None)
                else:
                    ws.write(i, j, value if isinstance(value, int | float) else str(value))
        verdict_col = list(rows.columns).index("verdict")
        if len(rows):
            ws.data_validation(
                2, verdict_col, len(rows) + 1, verdict_col, {"validate": "list", "source": ["ok", "defect"]}
            )
        ws.freeze_panes(2, 2)
        ws.autofilter(0, 0, max(1, len(rows) + 1), len(rows.columns) - 1)
        ws.set_column(0, len(rows.columns) - 1, 16)

        ws = wb.add_worksheet(HISTORY_SHEET)
        for j, col in enumerate(history.columns):
            ws.write(0, j, col, bold)
        for i, rec in enumerate(history.itertuples(index=False), start=1):
            for j, value in enumerate(rec):
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    continue
                ws.write(i, j, value if isinstance(value, int | float) else str(value))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(1, len(history)), len(history.columns) - 1)
        ws.set_column(0, len(history.columns) - 1, 18)
        wb.close()
    return Path(path)


def _mask_long(history: pd.DataFrame, kinds: dict[str, str], masking: MaskingSettings | None) -> pd.DataFrame:
    """Mask the `value` of long-form rows whose `field` is a field to mask."""
    from workbench.core.masking import columns_to_mask, mask_series

    s = masking or MaskingSettings()
    if not s.enabled or history.empty:
        return history
    plan = columns_to_mask(sorted(history["field"].dropna().unique()), kinds, s)
    out = history.copy()
    for fld, kind in plan.items():
        sel = out["field"] == fld
        out.loc[sel, "value"] = mask_series(out.loc[sel, "value"].astype("object"), kind, s)
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
    verdicts = []
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


def _store(con, table: str, frame: pd.DataFrame, order_by: str | None = None) -> None:
    """Replace `table` with the rows of `frame` (registered explicitly, then dropped)."""
    con.register("__wb_frame", frame)
    try:
        order = f" ORDER BY {ident(order_by)}" if order_by else ""
        con.execute(f"CREATE OR REPLACE TABLE {ident(table)} AS SELECT * FROM __wb_frame{order}")
    finally:
        con.unregister("__wb_frame")


def save_verdicts(con, verdicts: pd.DataFrame) -> None:
    """Store the verdicts read back as table ``sample_verdicts``."""
    _store(con, "sample_verdicts", verdicts, order_by="sample_no")


def load_plan(con) -> SamplePlan:
    """The plan stored by :func:`sample_masters`."""
    if not table_exists(con, "sample_plan"):
        raise SamplingError("table sample_plan is missing; draw the sample first (sample_masters)")
    row = con.sql("SELECT * FROM sample_plan").df().iloc[0].to_dict()
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


def business_sample(ctx, con) -> BusinessSample:
    """Draw the run's business sample, write the review sheet, and read verdicts when reviewers answered.

    The sheet goes to ``<run>/review/business_sample.xlsx``. Reviewers return it filled in as
    ``report.sampling.verdicts_path`` (beside the config); its verdicts are matched to this run's
    sample by master ID (a sampled master without a verdict is pending), stored in
    ``sample_verdicts`` and evaluated.
    """
    config = ctx.config
    settings = config.report.sampling
    plan, sample = sample_masters(con, settings, config.project.seed)
    language = config.report.language or config.project.language
    workbook = write_review_workbook(
        con,
        config,
        plan,
        sample,
        ctx.paths.review / "business_sample.xlsx",
        language=language,
        masking=config.report.masking,
        fields=settings.history_fields,
    )
    path = config.resolve(settings.verdicts_path)
    if not path.is_file():
        log.info("no verdicts yet at %s: the review sheet is %s", path, workbook)
        return BusinessSample(plan, sample, workbook, None, None)
    answered = read_verdicts(path).drop(columns="sample_no")
    dup = answered[answered.duplicated("master_id", keep=False) & answered["verdict"].notna()]
    if len(dup):
        raise SamplingError(f"{path}: master(s) {sorted(set(dup['master_id']))[:10]} have several verdicts")
    answered = answered.drop_duplicates("master_id", keep="first")
    verdicts = sample[["sample_no", "master_id"]].merge(answered, on="master_id", how="left")
    ignored = sorted(set(answered.loc[answered["verdict"].notna(), "master_id"]) - set(sample["master_id"]))
    if ignored:
        log.warning("%s: %s verdict(s) for masters not in this run's sample are ignored", path, len(ignored))
    verdicts = verdicts.astype(object).where(verdicts.notna(), None)
    save_verdicts(con, verdicts)
    return BusinessSample(plan, sample, workbook, verdicts, evaluate_sample(verdicts, plan))
