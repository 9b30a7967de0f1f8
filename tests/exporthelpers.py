"""Shared builders for the export-phase tests: a tiny run with golden records and demo mappings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from workbench.config import parse_config
from workbench.run import RunContext, RunPaths

FIXTURES = Path(__file__).parent / "fixtures" / "export"
DEMO_MAPPINGS = Path(__file__).resolve().parent.parent / "workbench" / "demo" / "mappings"


def read_golden() -> pd.DataFrame:
    df = pd.read_csv(FIXTURES / "golden.csv", dtype=str, keep_default_na=False).replace({"": None})
    for c in ("is_test", "blacklist", "vip"):
        df[c] = df[c].map({"true": True, "false": False})
    for c in ("activity_amount_12m",):
        df[c] = pd.to_numeric(df[c])
    for c in ("created_date", "last_activity_date"):
        df[c] = pd.to_datetime(df[c]).dt.date
    return df


def make_run(tmp_path: Path, *, export: dict | None = None, golden: pd.DataFrame | None = None) -> RunContext:
    """A run folder with golden_customers loaded and the demo mappings copied beside the config."""
    project = tmp_path / "project"
    shutil.copytree(DEMO_MAPPINGS, project / "mappings")
    raw = {
        "project": {"name": "t", "as_of_date": "2026-11-01"},
        "sources": [
            {"name": "erp", "path": "erp.csv", "id_column": "id", "columns": {"id": {"field": "customer_code", "kind": "id"}}}
        ],
        "export": export or {},
    }
    config = parse_config(raw, project / "workbench.yaml", check_files=False)
    ctx = RunContext(config=config, paths=RunPaths(tmp_path / "run").ensure())
    con = ctx.connect()
    frame = read_golden() if golden is None else golden
    con.register("g", frame)
    con.execute("create table golden_customers as select * from g")
    con.unregister("g")
    con.close()
    return ctx
