"""Stable master IDs and the project's master ID registry.

A master ID (``M00000001``) names one cluster of records. IDs stay stable:

- each record has an *identity* that does not depend on its row position: its source and source
  ID (``erp|C001``); when the source ID is missing or not unique in its source, its source and row
  hash (``erp|#<md5>``, with ``#2``, ``#3`` … for identical rows);
- the registry (``master_id_registry.parquet`` in the project's output folder) maps every identity
  seen to its current master ID, and remembers the highest number ever issued (file metadata), so
  an ID is never reused;
- a cluster keeps the registered ID most of its members hold (ties: the smaller ID); when two
  clusters claim one ID, the one with more holders keeps it (ties: the smaller first identity);
- clusters without a registered ID get new numbers in the order of their smallest identity.

So a rerun on unchanged inputs gives identical IDs, and new rows leave the existing IDs alone.
The registry is rewritten atomically after every run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.engine.files import atomic_path
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

REGISTRY_COLUMNS = ["identity", "source", "master_id", "first_run", "last_run"]
NEXT_KEY = b"workbench.next_master_number"


class RegistryError(WorkbenchError):
    """The master ID registry file cannot be read or does not look like a registry."""


@dataclass
class Registry:
    """The identity → master ID map and the next number to issue."""

    table: pd.DataFrame
    next_number: int = 1

    @classmethod
    def empty(cls) -> Registry:
        """A registry without identities (the first run of a project)."""
        return cls(pd.DataFrame({c: pd.Series(dtype="object") for c in REGISTRY_COLUMNS}), 1)


def record_identities(records: pd.DataFrame) -> pd.Series:
    """The identity of each record (see the module docstring).

    Args:
        records: columns ``record_key``, ``_source``, ``source_id``, ``_row_hash``.

    Returns:
        Identities aligned with `records`.
    """
    df = records[["record_key", "_source", "source_id", "_row_hash"]].copy()
    sid = df["source_id"].astype("string").str.strip()
    sid = sid.where(sid.notna() & (sid != ""))
    # a source ID repeated *within its source* cannot identify a record
    dup = sid.notna() & df.assign(_sid=sid).groupby(["_source", "_sid"], dropna=True)["record_key"].transform(
        "size"
    ).fillna(1).gt(1)
    use_id = sid.notna() & ~dup
    by_hash = df.loc[~use_id].sort_values("record_key", kind="mergesort")
    occurrence = by_hash.groupby(["_source", "_row_hash"], dropna=False).cumcount() + 1
    hashed = by_hash["_source"].astype(str) + "|#" + by_hash["_row_hash"].astype(str)
    hashed = hashed.where(occurrence == 1, hashed + "#" + occurrence.astype(str))
    out = pd.Series(index=df.index, dtype="object")
    out[use_id] = df.loc[use_id, "_source"].astype(str) + "|" + sid[use_id].astype(str)
    out[hashed.index] = hashed
    return out


def read_registry(path: Path) -> Registry:
    """Read the registry; a missing file is an empty registry."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        return Registry.empty()
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise RegistryError(
            f"{path}: cannot read the master ID registry ({exc}); restore it from a backup — deleting it "
            "gives every customer a new master ID"
        ) from exc
    missing = [c for c in REGISTRY_COLUMNS if c not in table.column_names]
    if missing:
        raise RegistryError(f"{path}: not a master ID registry (missing columns {missing})")
    meta = table.schema.metadata or {}
    df = table.to_pandas()[REGISTRY_COLUMNS]
    issued = _max_number(df["master_id"])
    next_number = max(int(meta.get(NEXT_KEY, b"1")), issued + 1)
    return Registry(df, next_number)


def write_registry(path: Path, registry: Registry) -> None:
    """Write the registry atomically, with the next number in the file metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = registry.table.sort_values("identity", kind="mergesort").reset_index(drop=True)
    table = pa.Table.from_pandas(df[REGISTRY_COLUMNS].astype("string"), preserve_index=False)
    table = table.replace_schema_metadata({NEXT_KEY: str(registry.next_number).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _max_number(ids: pd.Series) -> int:
    nums = pd.to_numeric(ids.astype("string").str.extract(r"(\d+)$")[0], errors="coerce")
    return int(nums.max()) if nums.notna().any() else 0


def assign_master_ids(
    records: pd.DataFrame,
    registry: Registry,
    *,
    run_id: str,
    prefix: str = "M",
    digits: int = 8,
) -> tuple[pd.Series, Registry]:
    """Give every cluster a master ID, reusing registered IDs.

    Args:
        records: one row per record: ``record_key``, ``identity``, ``source``, ``cluster`` (any
            cluster label; records with the same label form one master record).
        registry: the registry before this run.
        run_id: this run (stamped into the registry).
        prefix: master ID prefix.
        digits: zero-padded digits.

    Returns:
        master_id per record (aligned with `records`), and the updated registry.
    """
    if records["identity"].duplicated().any():
        dups = records.loc[records["identity"].duplicated(), "identity"].head(5).tolist()
        raise WorkbenchError(f"record identities are not unique: {dups}")  # pragma: no cover
    known = dict(zip(registry.table["identity"], registry.table["master_id"], strict=True))
    df = records[["record_key", "identity", "source", "cluster"]].copy()
    df["old"] = df["identity"].map(known)
    # the smallest identity of each cluster (sort + first: a string min per group is slow in pandas)
    ordered = df.sort_values("identity", kind="mergesort")
    first_identity = ordered.drop_duplicates("cluster").set_index("cluster")["identity"]
    votes = df.dropna(subset=["old"]).groupby(["cluster", "old"]).size().rename("votes").reset_index()
    votes["first"] = votes["cluster"].map(first_identity)
    votes = votes.sort_values(["votes", "old", "first"], ascending=[False, True, True], kind="mergesort")
    chosen: dict[object, str] = {}
    taken: set[str] = set()
    for cluster, old in zip(votes["cluster"], votes["old"], strict=True):
        if cluster in chosen or old in taken:
            continue
        chosen[cluster] = old
        taken.add(old)
    next_number = registry.next_number
    for cluster in first_identity.sort_values(kind="mergesort").index:
        if cluster not in chosen:
            chosen[cluster] = f"{prefix}{next_number:0{digits}d}"
            next_number += 1
    master = df["cluster"].map(chosen)
    now = run_id or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    current = pd.DataFrame(
        {"identity": df["identity"], "source": df["source"], "master_id": master, "last_run": now}
    )
    old = registry.table.set_index("identity")
    current["first_run"] = current["identity"].map(old["first_run"]).fillna(now)
    untouched = registry.table[~registry.table["identity"].isin(current["identity"])]
    table = pd.concat([untouched, current[REGISTRY_COLUMNS]], ignore_index=True)
    changed = int((df["old"].notna() & (df["old"] != master)).sum())
    if changed:
        log.info("%d record(s) moved to another master ID (clusters merged or split)", changed)
    return master, Registry(table, next_number)
