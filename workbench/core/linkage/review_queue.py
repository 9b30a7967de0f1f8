"""Clerical review of the ``review_queue`` (core, no UI): its items side by side, and the labels file.

This module owns the *writing* side of the review labels CSV (contract in
``docs/architecture.md``): ``record_key_l,record_key_r,label,reviewer,decided_at,note,identity_l,identity_r``,
UTF-8, one line per decision, each pair stored with ``record_key_l < record_key_r``. The identities
are the records' *stable* keys (source + source ID, or source + row hash, see
:func:`workbench.core.linkage.master_ids.record_identities`): a ``record_key`` is a row number, so
a re-extract that shifts the rows would make an old label name other records; the match stage
finds a label's records by their identities (by record_key only for a line without them, such as
the lines of a file written before the identities existed, which is still read). Decisions are
appended (the file is the audit trail) and rewritten atomically; when the file is read, the
newest decision per pair wins (by ``decided_at``, then by line order). The match stage reads the
same file and applies the labels in the next run.

Review items come from the ``review_queue`` table (written by the match stage) joined to
``std_customers``: for each pair, every canonical field side by side, raw text as the source holds
it, marked where the standardized values differ. The ipywidgets UI on top of this lives in
:mod:`workbench.presentation.widgets.review`; the labels as input of the match stage are read by
:mod:`workbench.core.linkage.labels`. The labels file's path is
:attr:`workbench.project.paths.ProjectPaths.review_labels`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.engine.catalog import CROSSWALK, REVIEW_QUEUE, STD_CUSTOMERS
from workbench.engine.connection import table_exists
from workbench.engine.files import write_text_atomic
from workbench.errors import WorkbenchError
from workbench.project.config import ProjectConfig
from workbench.project.paths import ProjectPaths

log = logging.getLogger(__name__)

LABELS = ("match", "non_match", "skip")
LABEL_COLUMNS = (
    "record_key_l",
    "record_key_r",
    "label",
    "reviewer",
    "decided_at",
    "note",
    "identity_l",
    "identity_r",
)
LEGACY_LABEL_COLUMNS = LABEL_COLUMNS[:6]  # files written before the stable identities (still read)
RECORD_COLUMNS = ("customer_type", "record_status", "flags")


class ReviewLabelsError(WorkbenchError):
    """The review labels file is unreadable or holds a bad row, or a decision is not valid."""


@dataclass
class ReviewItem:
    """One pair to decide, with both records side by side.

    Attributes:
        comparison: one row per field: ``field``, ``left``, ``right`` (raw text as in the source),
            ``status`` (``same``, ``different``, ``one_missing``, ``both_missing``) and ``differs``.
        decision: the newest label already saved for this pair, if any.
    """

    item_id: str
    kind: str
    record_key_l: str
    record_key_r: str
    cluster_id: str | None
    match_probability: float | None
    match_weight: float | None
    reason: str | None
    source_l: str
    source_r: str
    source_id_l: str | None
    source_id_r: str | None
    comparison: pd.DataFrame
    decision: str | None = None
    identity_l: str = ""
    identity_r: str = ""

    @property
    def differing_fields(self) -> list[str]:
        """The fields whose standardized values differ between the two records."""
        return self.comparison.loc[self.comparison["differs"], "field"].tolist()


@dataclass
class ReviewSession:
    """The items of one review and where their decisions go."""

    items: list[ReviewItem]
    labels_path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def decided(self) -> int:
        """How many items already have a match / non_match decision."""
        return sum(1 for i in self.items if i.decision in ("match", "non_match"))


# --------------------------------------------------------------------------------------------
# the labels file


def order_pair(record_key_l: str, record_key_r: str) -> tuple[str, str]:
    """The pair as stored: the smaller record_key first."""
    return (record_key_l, record_key_r) if record_key_l <= record_key_r else (record_key_r, record_key_l)


def _ordered(row: dict[str, Any]) -> None:
    """Store the pair with the smaller record_key first (identities follow their records)."""
    if row["record_key_l"] > row["record_key_r"]:
        row["record_key_l"], row["record_key_r"] = row["record_key_r"], row["record_key_l"]
        row["identity_l"], row["identity_r"] = row["identity_r"], row["identity_l"]


def save_decision(
    labels_path: str | Path,
    record_key_l: str,
    record_key_r: str,
    label: str,
    reviewer: str,
    note: str = "",
    *,
    decided_at: dt.datetime | None = None,
    identity_l: str | None = None,
    identity_r: str | None = None,
) -> dict[str, str]:
    """Append one decision to the labels CSV (the whole file is rewritten atomically).

    Args:
        labels_path: the labels file; created with its header when missing (a file with the older
            six-column header is rewritten with the current one).
        record_key_l: one record of the pair (order does not matter; it is stored sorted).
        record_key_r: the other record.
        label: ``match``, ``non_match`` or ``skip``.
        reviewer: who decided (name or initials).
        note: free text.
        decided_at: when; default now (UTC, microseconds, so the newest decision is well defined).
        identity_l: the stable key of `record_key_l` (``ReviewItem.identity_l``), so the label
            survives a re-extract that shifts the rows.
        identity_r: the stable key of `record_key_r`.

    Returns:
        The row as written.

    Raises:
        ReviewLabelsError: a bad label, a pair of one record with itself, an empty reviewer, or an
            existing file that is not a labels file.
    """
    if label not in LABELS:
        raise ReviewLabelsError(f"label {label!r} is not allowed; use one of {', '.join(LABELS)}")
    if not record_key_l or not record_key_r or record_key_l == record_key_r:
        raise ReviewLabelsError(
            f"a decision needs two different records, got {record_key_l!r} and {record_key_r!r}"
        )
    if not str(reviewer or "").strip():
        raise ReviewLabelsError("reviewer is empty; give your name or initials so decisions can be traced")
    path = Path(labels_path)
    when = (decided_at or dt.datetime.now(dt.UTC)).isoformat(timespec="microseconds")
    row = {
        "record_key_l": record_key_l,
        "record_key_r": record_key_r,
        "label": label,
        "reviewer": str(reviewer).strip(),
        "decided_at": when,
        "note": note or "",
        "identity_l": identity_l or "",
        "identity_r": identity_r or "",
    }
    _ordered(row)
    left, right = row["record_key_l"], row["record_key_r"]
    existing = ""
    if path.exists():
        existing = path.read_text(encoding="utf-8-sig")
        if _check_header(path, existing) == LEGACY_LABEL_COLUMNS:
            existing = _upgraded(existing)
        if existing and not existing.endswith("\n"):
            existing += "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(LABEL_COLUMNS), lineterminator="\n")
    if not existing:
        writer.writeheader()
    writer.writerow(row)
    write_text_atomic(path, existing + buf.getvalue())
    log.info("saved %s for %s / %s to %s", label, left, right, path)
    return row


def _check_header(path: Path, text: str) -> tuple[str, ...]:
    """The file's header (the current or the legacy one); raises on anything else."""
    first = next(csv.reader(io.StringIO(text)), None) if text.strip() else None
    if first is None:
        return LABEL_COLUMNS
    header = tuple(h.strip() for h in first)
    if header not in (LABEL_COLUMNS, LEGACY_LABEL_COLUMNS):
        raise ReviewLabelsError(
            f"{path}: line 1 is {first!r}, not the labels header {','.join(LABEL_COLUMNS)}; "
            "fix the header or move the file away"
        )
    return header


def _upgraded(text: str) -> str:
    """A legacy six-column labels file with the current header (identities left empty)."""
    rows = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LABEL_COLUMNS)
    for values in rows[1:]:
        writer.writerow([*values, "", ""] if values else values)
    return buf.getvalue()


def read_decisions(labels_path: str | Path, *, newest_only: bool = True) -> pd.DataFrame:
    """Read the labels CSV.

    Args:
        labels_path: the labels file; a missing file means no decisions yet.
        newest_only: keep only the newest decision per pair (the one that counts).

    Returns:
        The decisions, columns as in the file plus ``line`` (its line number), ordered by pair.

    Raises:
        ReviewLabelsError: naming the file, line, column and bad value.
    """
    path = Path(labels_path)
    columns = [*LABEL_COLUMNS, "line"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReviewLabelsError(f"{path}: not UTF-8 text ({exc}); save the labels file as UTF-8") from exc
    header = _check_header(path, text)
    rows: list[dict[str, Any]] = []
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    for values in reader:
        line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise ReviewLabelsError(
                f"{path}, line {line}: {len(values)} cells, expected {len(header)} "
                f"({','.join(header)}); quote cells that contain commas"
            )
        rec: dict[str, Any] = dict.fromkeys(LABEL_COLUMNS, "")
        rec.update(zip(header, (v.strip() for v in values), strict=True))
        if rec["label"] not in LABELS:
            raise ReviewLabelsError(
                f"{path}, line {line}, column label: {rec['label']!r} is not one of {', '.join(LABELS)}"
            )
        for col in ("record_key_l", "record_key_r"):
            if not rec[col]:
                raise ReviewLabelsError(f"{path}, line {line}, column {col}: empty; give the record_key")
        try:
            stamp = dt.datetime.fromisoformat(rec["decided_at"])
        except ValueError as exc:
            raise ReviewLabelsError(
                f"{path}, line {line}, column decided_at: {rec['decided_at']!r} is not an ISO date-time "
                "(e.g. 2026-11-29T06:15:02+00:00)"
            ) from exc
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        _ordered(rec)
        rec["line"] = line
        rec["_stamp"] = stamp
        # one pair, however its rows were numbered: by identities when the line has them
        both = rec["identity_l"] and rec["identity_r"]
        ids = sorted((rec["identity_l"], rec["identity_r"])) if both else None
        rec["_pair"] = "|".join(ids) if ids else f"#{rec['record_key_l']}|{rec['record_key_r']}"
        rows.append(rec)
    df = pd.DataFrame(rows, columns=[*columns, "_stamp", "_pair"])
    if newest_only and not df.empty:
        df = df.sort_values(["_stamp", "line"], kind="mergesort")
        df = df.drop_duplicates(["_pair"], keep="last")
    df = df.sort_values(["record_key_l", "record_key_r", "line"], kind="mergesort").reset_index(drop=True)
    return df[columns]


# --------------------------------------------------------------------------------------------
# review items


def load_review_items(
    ctx_or_con: Any,
    config: ProjectConfig | None = None,
    *,
    labels_path: str | Path | None = None,
    pending_only: bool = False,
) -> ReviewSession:
    """Build the review items from ``review_queue`` and ``std_customers``.

    Args:
        ctx_or_con: a :class:`workbench.project.context.RunContext` or an open DuckDB connection.
        config: the project config (needed with a connection; default ``ctx.config``).
        labels_path: the labels CSV; default the project's (``ProjectPaths(config).review_labels``).
        pending_only: leave out pairs that already have a match / non_match decision.

    Returns:
        The items in queue order (``item_id``) with any saved decision, and the labels path.

    Raises:
        WorkbenchError: the review_queue or std_customers table is missing.
    """
    if config is None:
        config = getattr(ctx_or_con, "config", None)
        if config is None:
            raise WorkbenchError("load_review_items needs the project config when given a connection")
    path = Path(labels_path) if labels_path else ProjectPaths(config).review_labels
    if hasattr(ctx_or_con, "connect"):
        con = _connect_for_reading(ctx_or_con)
        try:
            queue, records, notes = _read_queue(con)
        finally:
            con.close()
    else:
        queue, records, notes = _read_queue(ctx_or_con)
    decisions = read_decisions(path)
    decided = {(r.record_key_l, r.record_key_r): r.label for r in decisions.itertuples(index=False)}
    decided_ids = {
        tuple(sorted((r.identity_l, r.identity_r))): r.label
        for r in decisions.itertuples(index=False)
        if r.identity_l and r.identity_r
    }
    fields = [f for f in config.field_kinds() if f in records.columns] + [
        c for c in RECORD_COLUMNS if c in records.columns
    ]
    items: list[ReviewItem] = []
    for q in queue.itertuples(index=False):
        left, right = records.loc[q.record_key_l], records.loc[q.record_key_r]
        id_l, id_r = str(left["__identity"]), str(right["__identity"])
        decision = decided_ids.get(
            tuple(sorted((id_l, id_r))), decided.get(order_pair(q.record_key_l, q.record_key_r))
        )
        if pending_only and decision in ("match", "non_match"):
            continue
        items.append(
            ReviewItem(
                item_id=str(q.item_id),
                kind=str(q.kind),
                record_key_l=q.record_key_l,
                record_key_r=q.record_key_r,
                cluster_id=None if pd.isna(q.cluster_id) else str(q.cluster_id),
                match_probability=_float(q.match_probability),
                match_weight=_float(q.match_weight),
                reason=None if pd.isna(q.reason) else str(q.reason),
                source_l=str(left["_source"]),
                source_r=str(right["_source"]),
                source_id_l=_text(left.get("source_id")),
                source_id_r=_text(right.get("source_id")),
                comparison=compare_records(left, right, fields),
                decision=decision,
                identity_l=id_l,
                identity_r=id_r,
            )
        )
    return ReviewSession(items=items, labels_path=path, notes=notes)


def _connect_for_reading(ctx: Any) -> Any:
    """A connection to the run database that works whatever the notebook already holds open.

    DuckDB refuses a second connection to the same file with another read_only setting in one
    process; the match notebook may hold a read-only one, a stage a read-write one.
    """
    import duckdb

    try:
        return ctx.connect(read_only=True)
    except duckdb.ConnectionException:
        return ctx.connect()


def _read_queue(con: Any) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The queue as pairs (cluster items without a pair are expanded) and the records they name."""
    for table in (REVIEW_QUEUE, STD_CUSTOMERS):
        if not table_exists(con, table.name):
            raise WorkbenchError(f"table {table.name!r} is missing; run the {table.written_by} stage first")
    notes: list[str] = []
    queue = con.execute(
        f"SELECT item_id, kind, record_key_l, record_key_r, cluster_id, match_probability, match_weight, "
        f"reason FROM {REVIEW_QUEUE} ORDER BY item_id"
    ).df()
    incomplete = queue["record_key_l"].isna() | queue["record_key_r"].isna()
    if incomplete.any():
        # a suspicious cluster named without a pair: review each member against the first one
        expanded = []
        members = pd.DataFrame(columns=["master_id", "record_key"])
        if table_exists(con, CROSSWALK.name):
            members = con.execute(
                f"SELECT master_id, record_key FROM {CROSSWALK} WHERE master_id IN "
                f"(SELECT CAST(cluster_id AS VARCHAR) FROM {REVIEW_QUEUE}) ORDER BY master_id, record_key"
            ).df()
        for q in queue[incomplete].itertuples(index=False):
            keys = members.loc[members["master_id"] == str(q.cluster_id), "record_key"].tolist()
            if len(keys) < 2:
                notes.append(f"review item {q.item_id}: cluster {q.cluster_id} has no pair to show; skipped")
                continue
            for k, other in enumerate(keys[1:], start=1):
                expanded.append(
                    {
                        **q._asdict(),
                        "item_id": f"{q.item_id}.{k}",
                        "record_key_l": keys[0],
                        "record_key_r": other,
                    }
                )
        queue = pd.concat(
            [queue[~incomplete], pd.DataFrame(expanded, columns=queue.columns)], ignore_index=True
        )
    for n in notes:
        log.warning(n)
    keys = sorted(set(queue["record_key_l"]) | set(queue["record_key_r"]))
    records = (
        con.execute(
            f"SELECT * FROM {STD_CUSTOMERS} WHERE record_key IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY record_key",
            [keys],
        )
        .df()
        .set_index("record_key", drop=False)
    )
    missing = sorted(set(keys) - set(records.index))
    if missing:
        raise WorkbenchError(
            f"{REVIEW_QUEUE} names record(s) not in {STD_CUSTOMERS}: {missing[:10]}; rerun the match stage"
        )
    records["__identity"] = _identities(con, records.index)
    return queue.reset_index(drop=True), records, notes


def _identities(con: Any, keys: pd.Index) -> pd.Series:
    """The stable identity of each record of `keys` (see :func:`master_ids.record_identities`)."""
    from workbench.core.linkage.master_ids import record_identities

    every = con.execute(f"SELECT record_key, _source, source_id, _row_hash FROM {STD_CUSTOMERS}").df()
    identities = pd.Series(record_identities(every).to_numpy(), index=every["record_key"])
    return identities.reindex(keys)


def compare_records(left: pd.Series, right: pd.Series, fields: list[str]) -> pd.DataFrame:
    """Two records field by field: raw text to show, and whether the standardized values differ.

    A field differs when both records hold a value and the standardized values (the raw text when a
    field has no standardized value) are not equal; ``one_missing`` when only one holds a value.
    """
    rows = []
    for f in fields:
        shown_l, shown_r = _shown(left, f), _shown(right, f)
        cmp_l = _text(left.get(f))
        cmp_r = _text(right.get(f))
        if cmp_l is None and cmp_r is None:
            cmp_l, cmp_r = shown_l, shown_r
        if cmp_l is None and cmp_r is None:
            status = "both_missing"
        elif cmp_l is None or cmp_r is None:
            status = "one_missing"
        else:
            status = "same" if cmp_l == cmp_r else "different"
        rows.append(
            {
                "field": f,
                "left": shown_l,
                "right": shown_r,
                "status": status,
                "differs": status == "different",
            }
        )
    return pd.DataFrame(rows, columns=["field", "left", "right", "status", "differs"])


def _shown(record: pd.Series, f: str) -> str | None:
    raw = _text(record.get(f"{f}_raw"))
    return raw if raw is not None else _text(record.get(f))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    text = str(value).strip()
    return text or None


def _float(value: Any) -> float | None:
    try:
        return None if value is None or pd.isna(value) else float(value)
    except (TypeError, ValueError):
        return None
