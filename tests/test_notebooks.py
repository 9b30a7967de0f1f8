"""Notebook smoke tests: every stage of the stage list runs headless with papermill, end to end.

Two projects: a small demo migration (generated, 300 customers) and the international test project
in ``tests/fixtures/projects/intl`` (German cp1252 CSV, Parquet, orders; not the demo). The tests
assert the metrics each stage recorded, i.e. real computation on real data, not printed output.
Each project runs once per test session (module-scoped), in its own xdist group.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workbench.demo import generate_demo
from workbench.demo.run import run_demo_project
from workbench.project.stages import STAGES
from workbench.runner import run_project

pytestmark = pytest.mark.notebooks
INTL = Path(__file__).parent / "fixtures" / "projects" / "intl"


def _metrics(run_dir: Path, stage: str) -> dict:
    return json.loads((run_dir / "metrics" / f"{stage}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    generate_demo(root / "demo", customers=300, seed=42)
    result = run_demo_project(root / "demo" / "workbench.yaml", run_id="smoke", progress=lambda _: None)
    assert result.ok
    return result.run_dir


@pytest.fixture(scope="module")
def intl_run(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("intl") / "intl"
    shutil.copytree(INTL, project, ignore=shutil.ignore_patterns("output"))
    result = run_project(project / "workbench.yaml", run_id="smoke", export_html=False)
    assert result.ok
    return result.run_dir


@pytest.mark.xdist_group("demo_run")
def test_demo_runs_every_stage_and_exports_html(demo_run: Path):
    stages = [s.id for s in STAGES]
    runner = _metrics(demo_run, "runner")
    assert [s["stage"] for s in runner["stages"]] == stages
    assert all(s["status"] == "ok" for s in runner["stages"])
    for stage in STAGES:
        html = demo_run / "analyst" / "html" / (Path(stage.notebook).stem + ".html")
        assert html.exists(), html
        assert 'src="http' not in html.read_text(encoding="utf-8")


@pytest.mark.xdist_group("demo_run")
def test_demo_audit_balances_and_shows_planted_defects(demo_run: Path):
    audit = _metrics(demo_run, "audit")
    rows = audit["rows"]
    for source, r in rows.items():
        assert r["file"] == r["staged"] + r["quarantined"], source
    # the demo plants one undecodable line and one row with a wrong number of cells in the ERP export
    assert rows["erp"]["quarantined"] == 2
    assert audit["overlaps"]["erp~crm:tax_id"] > 0 and audit["overlaps"]["erp~crm:phone"] > 0
    assert (demo_run / "reports" / "profile.html").exists()


@pytest.mark.xdist_group("demo_run")
def test_demo_standardize_keeps_every_row(demo_run: Path):
    std = _metrics(demo_run, "standardize")
    assert std["rows_in"] == std["rows_out"] and std["balanced"]
    assert std["changes"] > 0 and std["flagged"]["mojibake"] >= 1
    assert std["test_records"] >= 1


@pytest.mark.xdist_group("demo_run")
def test_demo_match_accuracy_floor_and_crosswalk(demo_run: Path):
    match = _metrics(demo_run, "match")
    std = _metrics(demo_run, "standardize")
    assert match["crosswalk_rows"] == std["rows_out"]
    # measured on this demo; the floor leaves room for legitimate model changes
    assert match["gt_cluster_f1"] >= 0.95
    assert match["gt_group_members_false_merges"] == 0  # branches / sisters never merged


@pytest.mark.xdist_group("demo_run")
def test_demo_golden_batches_export_validate(demo_run: Path):
    golden = _metrics(demo_run, "golden")
    batches = _metrics(demo_run, "batches")
    export = _metrics(demo_run, "export")
    validate = _metrics(demo_run, "validate")
    assert golden["members"] == _metrics(demo_run, "standardize")["rows_out"]
    assert sum(batches["batches"].values()) == golden["masters"]
    assert export["draft"] is False and export["rows_by_profile"]["sap_s4_cockpit_customer"] > 0
    assert export["rows_by_profile"]["yonyou_u8_customer"] > 0
    assert validate["unaccounted_rows"] == 0 and validate["balanced"]
    assert validate["source_rows"] == sum(
        r["file"] for s, r in _metrics(demo_run, "audit")["rows"].items() if s != "transactions"
    )
    assert (demo_run / "reports" / "summary.html").exists()
    monitor = _metrics(demo_run, "monitor")
    assert monitor["new_records_checked"] > 0 and monitor["duplicate_check"]["existing"] > 0


@pytest.mark.xdist_group("intl_run")
def test_a_project_that_is_not_the_demo_runs_end_to_end(intl_run: Path):
    audit = _metrics(intl_run, "audit")
    assert audit["rows"]["erp_de"] == {"file": 11, "staged": 10, "quarantined": 1}  # one row has extra cells
    assert audit["rows"]["webshop"]["staged"] == 5
    std = _metrics(intl_run, "standardize")
    assert std["rows_in"] == std["rows_out"] == 15
    golden = _metrics(intl_run, "golden")
    # K-1001 / K-1005 (Müller, written two ways) and the webshop copies of Acme, Globex, Dupont merge
    assert golden["merged_masters"] >= 3 and golden["masters"] <= 12
    export = _metrics(intl_run, "export")
    assert export["draft"] is True
    validate = _metrics(intl_run, "validate")
    assert validate["unaccounted_rows"] == 0
    assert validate["dispositions"]["quarantined"] == 1
