"""Compare two run folders: load files, crosswalk and metrics, ignoring what names the run itself.

Used to show that a change of code kept a run's outputs (e.g. the demo before and after a
refactoring)::

    python -m workbench.devtools.compare_runs OLD_RUN_DIR NEW_RUN_DIR

Compared: every file under ``exports/`` (bytes; ``manifest.json`` as JSON without run ids, times
and absolute paths), ``tables/crosswalk.csv`` (rows, order-independent), every
``metrics/<stage>.json`` (keys and values; run-specific values masked) and the row counts of every
table of ``warehouse.duckdb``. Prints one line per difference and exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

# values that name the run, the machine or the clock, not the result
_VOLATILE_KEYS = re.compile(
    r"(^|_)(run_id|generated_at|created_at|recorded_at|started_at|time|timings?)$|(^|_)seconds(_|$)"
)
_RUN_FOLDER = re.compile(r"\S*/runs/[^/\s]+")  # an absolute path into a run folder
_RUN_ID = re.compile(r"\b\d{8}-\d{6}\b")


def _normalize(value: Any, old_root: str, new_root: str) -> Any:
    if isinstance(value, dict):
        return {
            k: ("<volatile>" if _VOLATILE_KEYS.search(k) else _normalize(v, old_root, new_root))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normalize(v, old_root, new_root) for v in value]
    if isinstance(value, str):
        text = _RUN_FOLDER.sub("<run>", value.replace(new_root, "<run>").replace(old_root, "<run>"))
        return _RUN_ID.sub("<run id>", text)
    return value


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path, sub: str) -> dict[str, Path]:
    base = root / sub
    return {str(p.relative_to(base)): p for p in sorted(base.rglob("*")) if p.is_file()} if base.exists() else {}


def compare_exports(old: Path, new: Path) -> list[str]:
    problems = []
    a, b = _files(old, "exports"), _files(new, "exports")
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            problems.append(f"exports/{name}: only in {'new' if name in b else 'old'} run")
        elif name.endswith(".json"):
            ja = _normalize(json.loads(a[name].read_text(encoding="utf-8")), str(old), str(new))
            jb = _normalize(json.loads(b[name].read_text(encoding="utf-8")), str(old), str(new))
            if ja != jb:
                problems.append(f"exports/{name}: JSON differs beyond run ids, times and paths")
        elif _sha(a[name]) != _sha(b[name]):
            problems.append(f"exports/{name}: bytes differ")
    return problems


def compare_crosswalk(old: Path, new: Path) -> list[str]:
    rows = []
    for root in (old, new):
        path = root / "tables" / "crosswalk.csv"
        if not path.exists():
            return [f"{path}: missing"]
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows.append(sorted(tuple(r) for r in csv.reader(fh)))
    if rows[0] != rows[1]:
        diff = len(set(rows[0]) ^ set(rows[1]))
        return [f"tables/crosswalk.csv: {diff} row(s) differ ({len(rows[0])} vs {len(rows[1])} rows)"]
    return []


def compare_metrics(old: Path, new: Path) -> list[str]:
    problems = []
    a, b = _files(old, "metrics"), _files(new, "metrics")
    for name in sorted(set(a) | set(b)):
        if name == "runner.json":
            continue  # the stage log: times and paths by nature
        if name not in a or name not in b:
            problems.append(f"metrics/{name}: only in {'new' if name in b else 'old'} run")
            continue
        ja = _normalize(json.loads(a[name].read_text(encoding="utf-8")), str(old), str(new))
        jb = _normalize(json.loads(b[name].read_text(encoding="utf-8")), str(old), str(new))
        for key in sorted(set(ja) | set(jb)):
            if key not in ja or key not in jb:
                problems.append(f"metrics/{name}: key {key!r} only in {'new' if key in jb else 'old'} run")
            elif ja[key] != jb[key]:
                problems.append(f"metrics/{name}: {key} = {ja[key]!r} (old) vs {jb[key]!r} (new)")
    return problems


def compare_tables(old: Path, new: Path) -> list[str]:
    import duckdb

    counts = []
    for root in (old, new):
        con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
        try:
            names = [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]
            counts.append({n: con.execute(f'select count(*) from "{n}"').fetchall()[0][0] for n in names})
        finally:
            con.close()
    problems = []
    for name in sorted(set(counts[0]) | set(counts[1])):
        if name not in counts[0] or name not in counts[1]:
            problems.append(f"table {name}: only in {'new' if name in counts[1] else 'old'} run")
        elif counts[0][name] != counts[1][name]:
            problems.append(f"table {name}: {counts[0][name]} rows (old) vs {counts[1][name]} (new)")
    return problems


def compare_runs(old: Path, new: Path) -> list[str]:
    """Every difference between two run folders' outputs (empty when they agree)."""
    old, new = Path(old).resolve(), Path(new).resolve()
    return [
        *compare_exports(old, new),
        *compare_crosswalk(old, new),
        *compare_metrics(old, new),
        *compare_tables(old, new),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="run folder before the change")
    parser.add_argument("new", type=Path, help="run folder after the change")
    args = parser.parse_args(argv)
    problems = compare_runs(args.old, args.new)
    for line in problems:
        print(line)
    print(f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
