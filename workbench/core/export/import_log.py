"""The import-error feedback loop: read the target ERP's import log back and re-issue what failed.

This module owns:

* reading import result logs (:func:`read_import_log`) in two documented styles —
  **simple**: a CSV/XLSX with the columns ``row_key, status, message`` (optional ``field``,
  ``row``), status ``ok``/``loaded``/``success``/``S`` or ``error``/``failed``/``E`` or
  ``warning``/``W`` (Chinese 成功/失败/警告 too), one line per row or message, for every profile;
  and **SAP message list**: one line per message with the columns ``Type`` (S, I, W, E, A, X),
  ``ID`` or ``Message Class``, ``Number``, ``Message`` or ``Message Text`` and the record key
  (``Source Key``/``Instance``/``Legacy Key``/``KUNNR``…), the BAPIRET2 field set of the
  cockpit's message download (the exact column titles vary by release: aliases are accepted);
* mapping every failure to its master record and source rows (through ``load_rows`` and
  ``crosswalk``) and classifying its reason with a reviewable keyword table
  (``workbench/core/targets/import_reasons.yaml``; a project sets ``export.import_reasons_path``);
* the rows of the fix worklist for the team (:func:`build_fix_worklist`; the workbook is written
  by :mod:`workbench.presentation.workbooks.import_worklist`), retry files holding exactly the
  failed rows (in the same format as the original load file, with fixes from the filled-in
  worklist applied and checked), and a project-level history of import rounds
  (:attr:`~workbench.project.paths.ProjectPaths.load_history`);
* the loop itself: :func:`import_round` (one round of one profile) and
  :func:`process_import_logs` (round 1 of every exported profile from the ERP's logs).

The demo's simulated ERP lives in :mod:`workbench.demo.import_simulation`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from workbench.core.targets.profiles import BUILTIN_DIR, TargetProfile
from workbench.engine import catalog
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import duckdb

    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

LOG_COLUMNS = ["log_row", "row_key", "status", "severity", "message_id", "field", "message"]
RETRY_FILE_COLUMNS = ["profile", "source_file", "file", "rows", "sha256"]
HISTORY_COLUMNS = [
    "run_id",
    "profile",
    "iteration",
    "rows_sent",
    "rows_loaded",
    "rows_failed",
    "failure_rate",
    "reason",
    "rows",
]
STATUS_WORDS = {
    "loaded": {"ok", "loaded", "success", "succeeded", "s", "成功", "已导入", "导入成功"},
    "failed": {"error", "failed", "fail", "e", "a", "x", "失败", "错误", "导入失败"},
    "warning": {"warning", "warn", "w", "i", "警告", "提示"},
}
_SAP_ALIASES = {
    "severity": ["type", "message type", "msgty", "消息类型", "类型"],
    "msg_class": ["id", "message class", "class", "msgid", "消息类"],
    "number": ["number", "message number", "no.", "msgno", "消息编号"],
    "message": ["message", "message text", "text", "消息", "消息文本"],
    "row_key": [
        "source key",
        "instance",
        "legacy key",
        "object key",
        "key",
        "kunnr",
        "customer",
        "customer number",
    ],
    "field": ["field", "field name", "字段"],
    "row": ["row", "line", "行"],
}
_SIMPLE_ALIASES = {
    "row_key": ["row_key", "key", "record key", "客户编码", "编码"],
    "status": ["status", "result", "状态", "结果"],
    "message": ["message", "text", "消息", "错误信息", "信息"],
    "field": ["field", "字段"],
    "row": ["row", "line", "行号"],
}


class ImportLogError(WorkbenchError):
    """An import log cannot be read or understood."""


# --------------------------------------------------------------------------------------------
# reading


def read_import_log(path: Path | str, profile: TargetProfile | None = None) -> pd.DataFrame:
    """Read an import result log in the simple or the SAP message-list style.

    Args:
        path: CSV (UTF-8/GBK, `,` `;` or tab separated) or XLSX file.
        profile: the profile the load file was written for (its key field is accepted as the
            key column's header, e.g. ``cCusCode``).

    Returns:
        One row per log line: ``log_row`` (line/row number in the log), ``row_key``, ``status``
        (``loaded``/``failed``/``warning``), ``severity`` (S/I/W/E/A/X), ``message_id``
        (``class/number`` when given), ``field``, ``message``.

    Raises:
        ImportLogError: naming the file, the line and the bad value.
    """
    path = Path(path)
    frame, first_row = _read_table(path)
    headers = {c: str(c).strip().lower() for c in frame.columns}
    key_alias = [profile.key_field.lower()] if profile else []
    sap = _match_columns(headers, {**_SAP_ALIASES, "row_key": _SAP_ALIASES["row_key"] + key_alias})
    simple = _match_columns(headers, {**_SIMPLE_ALIASES, "row_key": _SIMPLE_ALIASES["row_key"] + key_alias})
    rows = frame.reset_index(drop=True)
    log_row = pd.Series(range(first_row, first_row + len(rows)))
    if {"severity", "message", "row_key"} <= set(sap) and "status" not in simple:
        sev = rows[sap["severity"]].fillna("").astype(str).str.strip().str.upper()
        bad = ~sev.isin(["S", "I", "W", "E", "A", "X"])
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise ImportLogError(
                f"{path}, row {log_row[i]}: message type {sev[i]!r} is not one of S, I, W, E, A, X"
            )
        cls = rows[sap["msg_class"]].fillna("").astype(str).str.strip() if "msg_class" in sap else ""
        num = rows[sap["number"]].fillna("").astype(str).str.strip() if "number" in sap else ""
        msg_id = (
            (cls + "/" + num).str.strip("/") if isinstance(cls, pd.Series) else pd.Series([""] * len(rows))
        )
        out = pd.DataFrame(
            {
                "log_row": log_row,
                "row_key": rows[sap["row_key"]],
                "status": sev.map(
                    lambda s: "failed" if s in "EAX" else ("warning" if s in "WI" else "loaded")
                ),
                "severity": sev,
                "message_id": msg_id,
                "field": rows[sap["field"]] if "field" in sap else None,
                "message": rows[sap["message"]],
            }
        )
    elif {"row_key", "status"} <= set(simple):
        words = rows[simple["status"]].fillna("").astype(str).str.strip().str.lower()
        lookup = {w: k for k, ws in STATUS_WORDS.items() for w in ws}
        status = words.map(lookup)
        if status.isna().any():
            i = int(np.argmax(status.isna().to_numpy()))
            raise ImportLogError(
                f"{path}, row {log_row[i]}: status {words[i]!r} is not understood; use ok, error or warning"
            )
        out = pd.DataFrame(
            {
                "log_row": log_row,
                "row_key": rows[simple["row_key"]],
                "status": status,
                "severity": status.map({"loaded": "S", "failed": "E", "warning": "W"}),
                "message_id": "",
                "field": rows[simple["field"]] if "field" in simple else None,
                "message": rows[simple["message"]] if "message" in simple else "",
            }
        )
    else:
        raise ImportLogError(
            f"{path}: cannot tell the log style from its header {list(frame.columns)}; a simple log needs "
            "the columns row_key, status, message; an SAP message list needs Type, Message and a key "
            f"column (Source Key / Instance / {profile.key_field if profile else 'KUNNR'})"
        )
    for c in ("row_key", "field", "message", "message_id"):
        out[c] = out[c].map(
            lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        )
    missing = out["row_key"].isna() | (out["row_key"] == "")
    if missing.any():
        i = int(np.argmax(missing.to_numpy()))
        raise ImportLogError(
            f"{path}, row {out['log_row'][i]}: the record key is empty; every log line needs one"
        )
    return out[LOG_COLUMNS]


def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    if not path.is_file():
        raise ImportLogError(f"{path}: import log not found")
    if path.suffix.lower() in (".xlsx", ".xlsm", ".xls"):
        try:
            return pd.read_excel(path, dtype=str, engine="calamine"), 2
        except Exception as exc:  # calamine raises its own error types
            raise ImportLogError(f"{path}: cannot read the workbook: {exc}") from exc
    raw = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ImportLogError(f"{path}: neither UTF-8 nor GB18030 text")
    first = text.splitlines()[0] if text else ""
    delim = max([",", ";", "\t"], key=first.count)
    frame = pd.read_csv(
        io.StringIO(text), sep=delim, dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL
    )
    return frame.replace({"": None}), 2


def _match_columns(headers: dict[Any, str], aliases: dict[str, list[str]]) -> dict[str, Any]:
    found = {}
    for role, names in aliases.items():
        for col, low in headers.items():
            if low in names:
                found[role] = col
                break
    return found


# --------------------------------------------------------------------------------------------
# classifying and mapping


@dataclass(frozen=True)
class ReasonRule:
    """One reason of the reason table: its labels, the message ids and text patterns that mean it."""

    id: str
    label_zh: str
    label_en: str
    message_ids: tuple[str, ...]
    patterns: tuple[re.Pattern, ...]

    def label(self, language: str) -> str:
        """The reason's label in `language` (``zh``, else English)."""
        return self.label_zh if language == "zh" else self.label_en


def load_reason_rules(path: Path | None = None) -> list[ReasonRule]:
    """Read the reason table (default: the built-in ``import_reasons.yaml``).

    Raises:
        ImportLogError: the file is missing or a rule is invalid.
    """
    path = Path(path) if path else BUILTIN_DIR / "import_reasons.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ImportLogError(f"{path}: cannot read the reason table: {exc}") from exc
    rules = []
    for i, r in enumerate(raw.get("reasons") or []):
        try:
            rules.append(
                ReasonRule(
                    id=str(r["id"]),
                    label_zh=str(r.get("label_zh", r["id"])),
                    label_en=str(r.get("label_en", r["id"])),
                    message_ids=tuple(str(m).upper() for m in r.get("message_ids") or []),
                    patterns=tuple(re.compile(p, re.IGNORECASE) for p in r.get("patterns") or []),
                )
            )
        except (KeyError, TypeError, re.error) as exc:
            raise ImportLogError(
                f"{path}: reasons[{i}] is invalid ({exc}); each needs id and patterns"
            ) from exc
    if not rules:
        raise ImportLogError(f"{path}: no reasons listed")
    return rules


def classify_reasons(messages: pd.Series, message_ids: pd.Series, rules: list[ReasonRule]) -> pd.Series:
    """Reason id per message: the first rule whose message id or pattern matches, else ``other``."""

    def one(text: str | None, mid: str | None) -> str:
        mid = (mid or "").upper()
        for r in rules:
            if mid and mid in r.message_ids:
                return r.id
        for r in rules:
            if any(p.search(text or "") for p in r.patterns):
                return r.id
        return "other"

    return pd.Series([one(t, m) for t, m in zip(messages, message_ids, strict=True)], index=messages.index)


def map_failures(
    con: duckdb.DuckDBPyConnection,
    log_df: pd.DataFrame,
    profile: str,
    *,
    rules: list[ReasonRule] | None = None,
    language: str = "zh",
) -> pd.DataFrame:
    """Failed log lines joined to their load file row, master record and source rows.

    Every failed or warning line is kept; a key that is not in ``load_rows`` of `profile` keeps
    ``master_id`` empty and says so in ``reason``.

    Returns:
        Columns: profile, row_key, status, severity, message_id, field, message, reason,
        reason_label, master_id, batch, file, row_in_file, sources, record_keys, log_row.
    """
    from workbench.engine.connection import table_exists

    rules = rules or load_reason_rules()
    labels = {r.id: r.label(language) for r in rules}
    bad = log_df[log_df["status"] != "loaded"].copy()
    bad["reason"] = classify_reasons(bad["message"], bad["message_id"], rules)
    rows = con.execute(
        f"select row_key, master_id, batch, file, row_in_file from {catalog.LOAD_ROWS} where profile = ? "
        "order by file, row_in_file",
        [profile],
    ).df()
    rows = rows.drop_duplicates("row_key", keep="last")
    out = bad.merge(rows, on="row_key", how="left")
    unknown = out["master_id"].isna()
    out.loc[unknown, "reason"] = "unknown_key"
    labels["unknown_key"] = (
        "日志中的编码不在任何导入文件中" if language == "zh" else "key not in any load file"
    )
    out["reason_label"] = out["reason"].map(labels).fillna(out["reason"])
    if table_exists(con, catalog.CROSSWALK.name):
        cw = con.sql(
            "select master_id, string_agg(source || ':' || source_id, ';' order by source, source_id) as sources, "
            f"string_agg(record_key, ';' order by record_key) as record_keys from {catalog.CROSSWALK} "
            "group by master_id"
        ).df()
        out = out.merge(cw, on="master_id", how="left")
    else:
        out["sources"] = None
        out["record_keys"] = None
    out.insert(0, "profile", profile)
    cols = [
        "profile",
        "row_key",
        "status",
        "severity",
        "message_id",
        "field",
        "message",
        "reason",
        "reason_label",
        "master_id",
        "batch",
        "file",
        "row_in_file",
        "sources",
        "record_keys",
        "log_row",
    ]
    return out[cols].sort_values(["file", "row_in_file", "log_row"], na_position="last", ignore_index=True)


def summarize_log(log_df: pd.DataFrame) -> pd.DataFrame:
    """One row per record key: ``failed`` if any message failed, else ``warning`` or ``loaded``."""
    rank = {"failed": 2, "warning": 1, "loaded": 0}
    s = log_df.assign(_r=log_df["status"].map(rank)).groupby("row_key", as_index=False)["_r"].max()
    s["status"] = s["_r"].map({v: k for k, v in rank.items()})
    return s[["row_key", "status"]]


# --------------------------------------------------------------------------------------------
# worklist, retry files


WORKLIST_FIX_COLUMNS = ("fix_field", "fix_value", "fixed_by", "comment")


@dataclass
class FixWorklist:
    """The fix worklist of one profile's round: what the team fixes before the retry.

    Attributes:
        profile: the profile of the failures (``none`` when there are none).
        rows: one row per failure: the failure's columns (:func:`map_failures`), the customer name,
            the current value of the failing field, and the columns to fill
            (:data:`WORKLIST_FIX_COLUMNS`; ``fix_field`` preset to the failing field).
        summary: failures per reason (reason, reason_label, rows, messages), most rows first.
    """

    profile: str
    rows: pd.DataFrame
    summary: pd.DataFrame


def build_fix_worklist(
    ctx: RunContext, failures: pd.DataFrame, *, profile: TargetProfile | None = None
) -> FixWorklist:
    """The fix worklist of `failures`: one row per failure with the customer, its source rows, the
    current value of the failing field, and empty ``fix_field``/``fix_value`` columns to fill.

    Personal data is masked when ``export.mask_worklists`` is on. The workbook is written by
    :func:`workbench.presentation.workbooks.import_worklist.write_fix_worklist`; the fix columns keep
    their English names in both languages so :func:`write_retry_files` can read them back.

    Args:
        ctx: the run.
        failures: :func:`map_failures` output.
        profile: the profile of the load files (to read the current values); None: no current values.
    """
    work = failures.copy()
    names = _golden_names(ctx, work["master_id"].dropna().unique().tolist())
    work.insert(3, "customer_name", work["master_id"].map(names))
    work["current_value"] = _current_values(ctx, work, profile) if profile is not None else None
    work["fix_field"] = work["field"]
    for c in ("fix_value", "fixed_by", "comment"):
        work[c] = ""
    if getattr(ctx.config.export, "mask_worklists", False):
        from workbench.core.masking import mask_frame

        settings = ctx.config.report.masking.model_copy(update={"enabled": True})
        work = mask_frame(work, ctx.config.field_kinds(), settings)
    summary = (
        work.groupby(["reason", "reason_label"], as_index=False)
        .agg(rows=("row_key", "nunique"), messages=("message", "size"))
        .sort_values(["rows", "reason"], ascending=[False, True], ignore_index=True)
    )
    name = str(failures["profile"].iloc[0]) if len(failures) else "none"
    return FixWorklist(profile=name, rows=work, summary=summary)


def _golden_names(ctx: RunContext, master_ids: list[str]) -> dict[str, str]:
    from workbench.engine.connection import table_columns, table_exists

    golden = catalog.GOLDEN_CUSTOMERS
    con = ctx.connect()
    try:
        if not master_ids or not table_exists(con, golden.name):
            return {}
        if "customer_name" not in table_columns(con, golden.name):
            return {}
        rows = con.execute(
            f"select master_id, customer_name from {golden} where list_contains(?, master_id)",
            [master_ids],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def _current_values(ctx: RunContext, work: pd.DataFrame, profile: TargetProfile) -> pd.Series:
    from workbench.core.export.load_files import read_load_file

    out = pd.Series([None] * len(work), index=work.index, dtype=object)
    for file, idx in work.groupby("file").groups.items():
        path = ctx.paths.root / file
        if not path.exists():
            continue
        frames = read_load_file(path, profile)
        for i in idx:
            fname = work.at[i, "field"]
            if not fname:
                continue
            sid, fn = _locate(profile, fname)
            frame = frames.get(sid)
            if frame is None or fn not in frame.columns:
                continue
            hit = frame.loc[frame[profile.key_field] == work.at[i, "row_key"], fn]
            out[i] = hit.iloc[0] if len(hit) else None
    return out


def _locate(profile: TargetProfile, name: str) -> tuple[str, str]:
    """(structure id, field) of ``FIELD`` or ``structure.FIELD``; the first structure holding it."""
    sid, _, fname = name.rpartition(".")
    if sid and sid in [s.id for s in profile.structures]:
        return sid, fname
    fname = name
    return next((s.id for s in profile.structures if fname in s.field_names), ""), fname


@dataclass
class RetryResult:
    """What :func:`write_retry_files` wrote."""

    files: pd.DataFrame  # profile, source_file, file, rows, sha256
    fixes_applied: int
    still_failing: pd.DataFrame  # row_key, field, reason (not written)


def read_worklist_fixes(path: Path) -> pd.DataFrame:
    """The filled-in fixes of a worklist: row_key, fix_field, fix_value (rows with a value only)."""
    frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="calamine").fillna("")
    need = {"row_key", "fix_field", "fix_value"}
    if not need <= set(frame.columns):
        raise ImportLogError(f"{path}: the worklist lacks the columns {sorted(need - set(frame.columns))}")
    fixes = frame[(frame["fix_value"].str.strip() != "") & (frame["fix_field"].str.strip() != "")]
    return fixes[["row_key", "fix_field", "fix_value"]].drop_duplicates(["row_key", "fix_field"], keep="last")


def write_retry_files(
    ctx: RunContext,
    failures: pd.DataFrame,
    profile: TargetProfile,
    *,
    iteration: int,
    worklist: Path | None = None,
) -> RetryResult:
    """Write retry files holding exactly the failed rows, in the original load file's format.

    The rows are read back from the original load files (so they are exactly what was sent),
    fixes filled in on the worklist are applied, and every row is checked against the profile
    again; a row that still fails is reported in ``still_failing`` and not written.

    Args:
        ctx: the run.
        failures: from :func:`map_failures` (rows with ``status == 'failed'`` are retried).
        profile: the profile of the load files.
        iteration: the mock-load round this retry is for (names the files ``…__retry<N>…``).
        worklist: a filled-in worklist whose ``fix_field``/``fix_value`` columns are applied.
    """
    from workbench.core.export.load_files import DRAFT_MARK, check_rows, read_load_file, write_load_file

    settings = ctx.config.export
    failed = failures[(failures["status"] == "failed") & failures["file"].notna()]
    fixes = (
        read_worklist_fixes(worklist)
        if worklist
        else pd.DataFrame(columns=["row_key", "fix_field", "fix_value"])
    )
    files, still, applied = [], [], 0
    for source_file, group in failed.groupby("file", sort=True):
        src = ctx.paths.root / source_file
        frames = read_load_file(src, profile)
        keys = set(group["row_key"])
        frames = {
            sid: f[f[profile.key_field].isin(keys)].drop(columns="_row").reset_index(drop=True)
            for sid, f in frames.items()
        }
        for fx in fixes[fixes["row_key"].isin(keys)].itertuples(index=False):
            sid, fname = _locate(profile, fx.fix_field)
            if sid not in frames or fname not in frames[sid].columns:
                still.append((fx.row_key, fx.fix_field, f"worklist fix names unknown field {fx.fix_field!r}"))
                continue
            hit = frames[sid][profile.key_field] == fx.row_key
            frames[sid].loc[hit, fname] = fx.fix_value
            applied += int(hit.sum())
        keyed = {sid: f.assign(master_id=f[profile.key_field]) for sid, f in frames.items()}
        checked = check_rows(
            keyed, profile, formula_guard=settings.formula_guard, safe_pattern=settings.formula_safe_pattern
        )
        for r in checked.rejects.itertuples(index=False):
            still.append((r.master_id, r.field, r.reason))
        out_frames = {sid: f.drop(columns="master_id") for sid, f in checked.frames.items()}
        if out_frames[profile.main.id].empty:
            continue
        draft = f"__{DRAFT_MARK}." in src.name
        stem = src.name.rsplit(".", 1)[0].replace(f"__{DRAFT_MARK}", "")
        name = (
            f"{stem}__retry{iteration}" + (f"__{DRAFT_MARK}" if draft else "") + "." + profile.file.extension
        )
        path = src.parent / "retry" / name
        digest = write_load_file(path, profile, out_frames)
        files.append(
            {
                "profile": profile.name,
                "source_file": source_file,
                "file": path.relative_to(ctx.paths.root).as_posix(),
                "rows": len(out_frames[profile.main.id]),
                "sha256": digest,
            }
        )
    return RetryResult(
        files=pd.DataFrame(files, columns=RETRY_FILE_COLUMNS),
        fixes_applied=applied,
        still_failing=pd.DataFrame(still, columns=["row_key", "field", "reason"]),
    )


# --------------------------------------------------------------------------------------------
# history of mock-load iterations


def record_load_iteration(
    path: Path,
    *,
    run_id: str,
    profile: str,
    iteration: int,
    rows_sent: int,
    failures: pd.DataFrame,
    recorded_at: dt.datetime | None = None,
) -> pd.DataFrame:
    """Record one mock-load round (replacing an earlier record of the same run/profile/round).

    Args:
        path: the load history database (:attr:`ProjectPaths.load_history`).
        run_id: the run the load files came from.
        profile: target profile.
        iteration: 1 for the first load, 2 for the first retry, …
        rows_sent: records in the files sent.
        failures: :func:`map_failures` output of this round (failed rows counted per reason).

    Returns:
        The whole history (see :func:`read_load_history`).
    """
    from workbench.engine.connection import connect

    failed = failures[failures["status"] == "failed"]
    # a record counts once, under the reason of its first failed message
    first = failed.sort_values(["row_key", "log_row"]).drop_duplicates("row_key")
    by_reason = first.groupby("reason").size()
    n_failed = int(len(first))
    if n_failed > rows_sent:
        raise ImportLogError(
            f"{n_failed} failed records but only {rows_sent} sent; check the log and the round"
        )
    when = (recorded_at or dt.datetime.now()).replace(microsecond=0)
    con = connect(path)
    try:
        con.execute(
            f"create table if not exists {catalog.LOAD_ITERATIONS} (run_id varchar, profile varchar, "
            "iteration integer, rows_sent bigint, rows_loaded bigint, rows_failed bigint, "
            "failure_rate double, recorded_at timestamp)"
        )
        con.execute(
            f"create table if not exists {catalog.LOAD_ITERATION_REASONS} (run_id varchar, profile varchar, "
            "iteration integer, reason varchar, rows bigint)"
        )
        for t in (catalog.LOAD_ITERATIONS, catalog.LOAD_ITERATION_REASONS):
            con.execute(
                f"delete from {t} where run_id = ? and profile = ? and iteration = ?",
                [run_id, profile, iteration],
            )
        con.execute(
            f"insert into {catalog.LOAD_ITERATIONS} values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                profile,
                iteration,
                rows_sent,
                rows_sent - n_failed,
                n_failed,
                (n_failed / rows_sent) if rows_sent else 0.0,
                when,
            ],
        )
        for reason, rows in sorted(by_reason.items()):
            con.execute(
                f"insert into {catalog.LOAD_ITERATION_REASONS} values (?, ?, ?, ?, ?)",
                [run_id, profile, iteration, reason, int(rows)],
            )
    finally:
        con.close()
    return read_load_history(path)


def read_load_history(path: Path) -> pd.DataFrame:
    """Every recorded round with one row per reason (``reason`` empty when nothing failed).

    Args:
        path: the load history database (:attr:`ProjectPaths.load_history`); missing: no rounds yet.

    Returns:
        Columns :data:`HISTORY_COLUMNS`, ordered by profile, run, round and reason.
    """
    from workbench.engine.connection import connect

    if not Path(path).exists():
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    con = connect(path, read_only=True)
    try:
        return con.sql(
            "select i.run_id, i.profile, i.iteration, i.rows_sent, i.rows_loaded, i.rows_failed, i.failure_rate, "
            f"r.reason, coalesce(r.rows, 0) as rows from {catalog.LOAD_ITERATIONS} i "
            f"left join {catalog.LOAD_ITERATION_REASONS} r "
            "using (run_id, profile, iteration) order by i.profile, i.run_id, i.iteration, r.reason"
        ).df()
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# the loop: one import round of a profile, and round 1 of every exported profile


@dataclass
class RoundResult:
    """One import round of one profile: its failures, fix worklist and retry files."""

    profile: str
    iteration: int
    failures: pd.DataFrame
    worklist: FixWorklist | None  # the rows to fix before the retry (None: nothing failed, or no retry)
    retry_files: pd.DataFrame


def import_round(
    ctx: RunContext,
    profile: TargetProfile,
    log_paths: list[Path],
    *,
    iteration: int,
    rows_sent: int,
    retry: bool = True,
) -> RoundResult:
    """Read the ERP's import logs of one round, record the round, and prepare the next one.

    The failures are mapped to their masters and source rows and classified (with the project's
    reason table, ``export.import_reasons_path``, else the built-in one); the round goes to the
    project's load history; when anything failed (and `retry`), the rows of the fix worklist are
    built and the retry files of round ``iteration + 1`` (failed rows only) are written. The
    worklist workbook is written by the caller
    (:func:`workbench.presentation.workbooks.import_worklist.write_fix_worklists`).

    Args:
        ctx: the run.
        profile: the profile of the load files the logs are about.
        log_paths: the ERP's import logs of this round.
        iteration: the round: 1 for the first load, 2 for the first retry, …
        rows_sent: records in the files sent this round.
        retry: build the worklist and write the retry files when anything failed.
    """
    log_frame = pd.concat([read_import_log(p, profile) for p in log_paths], ignore_index=True)
    rules = load_reason_rules(ctx.project.import_reasons)
    con = ctx.connect()
    try:
        fails = map_failures(con, log_frame, profile.name, rules=rules, language=ctx.config.project.language)
    finally:
        con.close()
    record_load_iteration(
        ctx.project.load_history,
        run_id=ctx.run_id,
        profile=profile.name,
        iteration=iteration,
        rows_sent=rows_sent,
        failures=fails,
    )
    empty = pd.DataFrame(columns=RETRY_FILE_COLUMNS)
    if fails.empty or not retry:
        return RoundResult(profile.name, iteration, fails, None, empty)
    worklist = build_fix_worklist(ctx, fails, profile=profile)
    retried = write_retry_files(ctx, fails, profile, iteration=iteration + 1)
    return RoundResult(profile.name, iteration, fails, worklist, retried.files)


@dataclass
class LoopResult:
    """Import rounds of a run: failures per round, worklists, retry files, the run's history."""

    failures: pd.DataFrame
    worklists: list[FixWorklist]
    retry_files: pd.DataFrame
    history: pd.DataFrame
    rounds: int
    simulated: bool

    def metrics(self) -> dict[str, Any]:
        """Figures the stage records: rounds, failed rows per round, retry files, worklists."""
        mine = self.history
        return {
            "load_rounds": self.rounds,
            "load_log_simulated": self.simulated,
            "failed_rows_by_round": {
                f"{p}#{int(i)}": int(n)
                for (p, i), n in mine.drop_duplicates(["profile", "run_id", "iteration"])
                .set_index(["profile", "iteration"])["rows_failed"]
                .items()
            },
            "retry_files": len(self.retry_files),
            "retry_rows": int(self.retry_files["rows"].sum()) if len(self.retry_files) else 0,
            "worklists": len(self.worklists),
        }


def collect_rounds(ctx: RunContext, rounds: list[RoundResult], *, simulated: bool) -> LoopResult:
    """The :class:`LoopResult` of `rounds`, with this run's rows of the load history."""
    history = read_load_history(ctx.project.load_history)
    history = history[history["run_id"] == ctx.run_id].reset_index(drop=True)
    retries = [r.retry_files for r in rounds if len(r.retry_files)]
    return LoopResult(
        failures=pd.concat([r.failures.assign(round=r.iteration) for r in rounds], ignore_index=True)
        if rounds
        else pd.DataFrame(),
        worklists=[r.worklist for r in rounds if r.worklist is not None],
        retry_files=pd.concat(retries, ignore_index=True)
        if retries
        else pd.DataFrame(columns=RETRY_FILE_COLUMNS),
        history=history,
        rounds=int(history["iteration"].max()) if len(history) else 0,
        simulated=simulated,
    )


def exported_files(ctx: RunContext) -> pd.DataFrame:
    """The customer load files the run's export wrote (profile, batch, file, rows), in a stable order
    (code-list files are not imported with customer logs)."""
    con = ctx.connect(read_only=True)
    try:
        return con.sql(
            f"select profile, batch, file, rows from {catalog.EXPORT_FILES} where kind = 'customers' "
            "order by profile, file"
        ).df()
    finally:
        con.close()


def process_import_logs(ctx: RunContext, logs: dict[str, list[Path]]) -> LoopResult:
    """Round 1 of every profile from the target ERP's import logs (profile → log files).

    The fix worklists are returned as rows; write them with
    :func:`workbench.presentation.workbooks.import_worklist.write_fix_worklists`.
    """
    from workbench.core.targets.profiles import load_project_profiles

    profiles = load_project_profiles(ctx.config)
    files = exported_files(ctx)
    rounds = []
    for name, group in files.groupby("profile", sort=True):
        paths = list(logs.get(name, []))
        if paths:
            rounds.append(
                import_round(ctx, profiles[name], paths, iteration=1, rows_sent=int(group["rows"].sum()))
            )
    return collect_rounds(ctx, rounds, simulated=False)


# --------------------------------------------------------------------------------------------
# a real ERP's logs, one round at a time (``workbench import-log``)


def next_round(ctx: RunContext, profile: TargetProfile) -> tuple[int, int]:
    """The next import round of `profile` in this run and the records it sent.

    Round 1 sent the run's customer load files; round N > 1 sent the retry files of round N
    (``exports/<profile>/retry/*__retry<N>*``) that the previous round wrote.
    """
    from workbench.core.export.load_files import read_load_file

    history = read_load_history(ctx.project.load_history)
    mine = history[(history["run_id"] == ctx.run_id) & (history["profile"] == profile.name)]
    iteration = int(mine["iteration"].max()) + 1 if len(mine) else 1
    if iteration == 1:
        files = exported_files(ctx)
        return 1, int(files.loc[files["profile"] == profile.name, "rows"].sum())
    folder = ctx.paths.exports / profile.name / "retry"
    sent = sum(
        len(read_load_file(p, profile)[profile.main.id]) for p in sorted(folder.glob(f"*__retry{iteration}*"))
    )
    return iteration, sent


def keep_logs(ctx: RunContext, profile: TargetProfile, logs: list[Path], iteration: int) -> list[Path]:
    """Copy the ERP's logs into the run (``import_logs/<profile>__round<N>__<name>``) and return the copies."""
    from workbench.engine.files import write_bytes_atomic

    out = []
    for p in logs:
        p = Path(p)
        if not p.is_file():
            raise ImportLogError(f"{p}: import log not found")
        copy = ctx.paths.import_logs / f"{profile.name}__round{iteration}__{p.name}"
        write_bytes_atomic(copy, p.read_bytes())
        out.append(copy)
    return out


def import_log_round(ctx: RunContext, profile: TargetProfile, logs: list[Path]) -> RoundResult:
    """One round of a real ERP's import logs of `profile`: kept in the run, read, classified, recorded
    in the load history, and (when anything failed) the worklist rows and the retry files of the
    failed rows prepared (see :func:`import_round`)."""
    iteration, sent = next_round(ctx, profile)
    if sent == 0:
        raise ImportLogError(
            f"round {iteration} of {profile.name}: no load file was sent in this round of run {ctx.run_id} "
            "(export first, or give the logs of the retry files the previous round wrote)"
        )
    kept = keep_logs(ctx, profile, logs, iteration)
    return import_round(ctx, profile, kept, iteration=iteration, rows_sent=sent)
