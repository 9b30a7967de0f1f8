"""The papermill runner on two tiny stage notebooks: parameters, metrics, failures, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import StageError
from workbench.project.stages import StageSpec
from workbench.runner import plan_parameters, run_project

FIXTURES = Path(__file__).parent / "fixtures" / "runner"
STAGES = (StageSpec("first", "first.ipynb", folder=FIXTURES), StageSpec("second", "second.ipynb", folder=FIXTURES))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "a.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    config = tmp_path / "workbench.yaml"
    config.write_text(
        "project: {name: runner test}\noutput: {dir: out}\n"
        "sources:\n  - {name: a, path: a.csv, id_column: id, columns: {id: {field: cid, kind: id}, name: customer_name}}\n",
        encoding="utf-8",
    )
    return config


def test_runs_stages_in_order_and_records_metrics(project: Path):
    lines: list[str] = []
    result = run_project(
        project,
        run_id="r1",
        stage_list=STAGES,
        progress=lines.append,
        overrides={"fail": False, "scale": 3},
    )
    assert result.ok and [o.stage for o in result.outcomes] == ["first", "second"]
    run = result.run_dir
    assert json.loads((run / "metrics" / "first.json").read_text())["scale"] == 3
    assert json.loads((run / "metrics" / "second.json").read_text())["first_scale"] == 3
    assert (run / "analyst" / "notebooks" / "first.ipynb").exists()
    html = (run / "analyst" / "html" / "first.html").read_text(encoding="utf-8")
    assert '<script src="http' not in html and "cdnjs" not in html
    assert (project.parent / "out" / "LATEST").read_text().strip() == "r1"
    assert any("[2/2] second ok" in line for line in lines)
    assert any("first · steps 3/3 (done)" in line for line in lines), lines  # progress inside the stage
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["stages"][0]["parameters"]["scale"] == 3


def test_failed_stage_names_notebook_cell_and_output(project: Path):
    with pytest.raises(StageError) as info:
        run_project(
            project,
            run_id="r2",
            stage_list=STAGES,
            overrides={"fail": True},
            export_html=False,
        )
    text = str(info.value)
    assert "first.ipynb" in text and "cell 5 (counting from 1" in text and "asked to fail" in text
    assert str(project.parent / "out" / "runs" / "r2" / "analyst" / "notebooks" / "first.ipynb") in text
    log = json.loads((project.parent / "out" / "runs" / "r2" / "metrics" / "runner.json").read_text())
    assert log["stages"][0]["status"] == "failed"


def test_unknown_parameters_are_refused_before_running(project: Path, tmp_path: Path):
    with pytest.raises(StageError, match="no selected stage declares a parameter named 'sclae'"):
        plan_parameters(list(STAGES), project, tmp_path / "run", {"sclae": 1})
    assert not (tmp_path / "run").exists()


def test_partial_rerun_keeps_every_stage_in_the_log(project: Path):
    run_project(project, run_id="r3", stage_list=STAGES, overrides={"fail": False}, export_html=False)
    run_project(project, run_id="r3", stages=["second"], stage_list=STAGES, export_html=False)
    run = project.parent / "out" / "runs" / "r3"
    log = json.loads((run / "metrics" / "runner.json").read_text())
    assert [r["stage"] for r in log["stages"]] == ["first", "second"]
    assert all(r["status"] == "ok" for r in log["stages"])
    manifest = json.loads((run / "run.json").read_text())
    assert [[s["id"] for s in i["stages"]] for i in manifest["invocations"]] == [["first", "second"], ["second"]]


def test_unknown_stage_is_refused(project: Path):
    with pytest.raises(StageError, match="unknown stage"):
        run_project(project, stages=["frist"], stage_list=STAGES)


INTL = Path(__file__).parent / "fixtures" / "projects" / "intl"


@pytest.fixture
def intl(tmp_path: Path) -> Path:
    import shutil

    shutil.copytree(INTL, tmp_path / "intl", ignore=shutil.ignore_patterns("output"))
    return tmp_path / "intl" / "workbench.yaml"


@pytest.mark.notebooks
def test_a_later_stage_continues_the_latest_run_that_has_its_inputs(intl: Path):
    with pytest.raises(StageError, match="no run yet|lacks|missing"):
        run_project(intl, stages=["standardize"], export_html=False)
    lines: list[str] = []
    first = run_project(intl, stages=["audit"], export_html=False, progress=lines.append)
    second = run_project(intl, stages=["standardize"], export_html=False, progress=lines.append)
    assert second.run_id == first.run_id
    assert any("continuing the latest run" in line for line in lines)
    log = json.loads((first.run_dir / "metrics" / "runner.json").read_text())
    assert [(r["stage"], r["status"]) for r in log["stages"]] == [("audit", "ok"), ("standardize", "ok")]
    assert log["stages"][0]["tables"][0] == "stg_erp_de" and log["stages"][1]["peak_rss_mb"] > 0
    manifest = json.loads((first.run_dir / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["operator"]
    assert len(manifest["invocations"]) == 2
    # match needs std_customers only; batches needs golden, which this run does not have yet
    with pytest.raises(StageError, match="golden_customers.*written by stage 'golden'"):
        run_project(intl, stages=["batches"], export_html=False)
    fresh = run_project(intl, stages=["audit"], new=True, export_html=False)
    assert fresh.run_id != first.run_id


@pytest.mark.notebooks
def test_a_failed_stage_marks_the_run_incomplete_and_later_stages_refuse(intl: Path):
    first = run_project(intl, stages=["audit"], export_html=False)
    project_dir = intl.parent
    (project_dir / "kunden.csv").write_text("nothing;mapped\n1;2\n", encoding="utf-8")  # the next audit fails
    with pytest.raises(StageError):
        run_project(intl, run_id=first.run_id, stages=["audit"], export_html=False)
    manifest = json.loads((first.run_dir / "run.json").read_text())
    assert manifest["status"] == "incomplete" and manifest["failed_stage"] == "audit"
    latest = (project_dir / "output" / "LATEST").read_text().splitlines()
    assert latest[0] == first.run_id and latest[1].startswith("incomplete: stage audit failed")
    with pytest.raises(StageError, match="stage 'audit' did not finish"):
        run_project(intl, stages=["standardize"], export_html=False)


def test_stages_run_in_process_without_notebooks(intl: Path):
    lines: list[str] = []
    result = run_project(intl, stages=["audit", "standardize"], notebooks=False, progress=lines.append)
    assert result.ok and not list((result.run_dir / "analyst" / "notebooks").glob("*.ipynb"))
    std = json.loads((result.run_dir / "metrics" / "standardize.json").read_text())
    assert std["rows_in"] == std["rows_out"] == 15
    log = json.loads((result.run_dir / "metrics" / "runner.json").read_text())
    assert [r["status"] for r in log["stages"]] == ["ok", "ok"]
