"""Developer checks: the notebook house rules and the run comparison."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import nbformat

from workbench.devtools.check_notebooks import check_folder, check_notebook, check_stage_calls
from workbench.devtools.compare_runs import compare_runs

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _notebook(path: Path, *sources: str, params: str = 'config_path: str = ""\nrun_dir: str = ""') -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, str(path))
    return path


def test_the_stage_notebooks_follow_the_house_rules():
    assert check_folder(NOTEBOOKS) == []


def test_logic_in_a_notebook_is_refused(tmp_path):
    nb = _notebook(
        tmp_path / "x.ipynb",
        "def helper():\n    return 1",
        'q = "SELECT a FROM t"',
        params='config_path: str = ""\nrun_dir: str = compute()',
    )
    problems = "\n".join(check_notebook(nb))
    assert "defines a function" in problems and "holds SQL text" in problems
    assert "may only hold `name: type = literal` lines" in problems


def test_a_stage_notebook_calls_only_its_stage_once(tmp_path):
    nb = _notebook(
        tmp_path / "x.ipynb",
        "from workbench.stages import audit\nfrom workbench.core.ingest import ingest_sources",
        "result = audit.run(ctx)\nagain = audit.run(ctx)",
    )
    problems = "\n".join(check_stage_calls(nb, "audit"))
    assert "imports ['ingest_sources']" in problems and "calls `audit.run(ctx)` 2 times" in problems


def _run(root: Path, crosswalk: str, metric: float, file_text: str) -> Path:
    (root / "exports" / "sap").mkdir(parents=True)
    (root / "exports" / "sap" / "a.xml").write_text(file_text)
    (root / "exports" / "manifest.json").write_text(json.dumps({"run_id": root.name, "files": ["a.xml"]}))
    (root / "tables").mkdir()
    (root / "tables" / "crosswalk.csv").write_text(crosswalk)
    (root / "metrics").mkdir()
    (root / "metrics" / "match.json").write_text(json.dumps({"f1": metric, "seconds_training": metric * 7}))
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("create table crosswalk as select 1 as x")
    con.close()
    return root


def test_compare_runs_ignores_run_ids_and_times_but_not_results(tmp_path):
    old = _run(tmp_path / "runs" / "20260101-000000", "k,m\na,M1\nb,M1\n", 0.9, "<x/>")
    same = _run(tmp_path / "runs" / "20260202-000000", "k,m\nb,M1\na,M1\n", 0.9, "<x/>")
    assert compare_runs(old, same) == []
    other = _run(tmp_path / "runs" / "20260303-000000", "k,m\na,M1\nb,M2\n", 0.8, "<y/>")
    problems = "\n".join(compare_runs(old, other))
    assert "exports/sap/a.xml: bytes differ" in problems
    assert "crosswalk.csv: 2 row(s) differ" in problems and "f1 = 0.9 (old) vs 0.8 (new)" in problems
    assert "seconds_training" not in problems
