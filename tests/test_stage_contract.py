"""The stage contract: one declaration, one module per stage with run(ctx), results recorded."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest

from workbench.engine import catalog
from workbench.errors import StageError
from workbench.project.paths import RunPaths
from workbench.project.stage_log import read_stage_log, update_stage_record
from workbench.project.stages import STAGE_IDS, STAGES, select_stages, stage_spec
from workbench.stages.contract import StageResult, record_result, tables_written_by


def test_every_declared_stage_has_a_module_with_run_and_a_notebook():
    for spec in STAGES:
        module = importlib.import_module(spec.module)
        assert inspect.signature(module.run).parameters.keys() == {"ctx"}, spec.id
        assert spec.path.exists(), spec.path
        assert spec.path.name.startswith(f"{(STAGES.index(spec) + 1) * 10}_"), spec.path.name


def test_needs_follow_from_the_tables_read_and_come_earlier():
    assert stage_spec("audit").needs == ()
    assert stage_spec("standardize").needs == ("audit",)
    assert stage_spec("golden").needs == ("match", "standardize")
    # match does not need the target mappings
    assert "mapping" not in stage_spec("match").needs and "mapping" not in stage_spec("golden").needs
    for spec in STAGES:
        for need in spec.needs:
            assert STAGE_IDS.index(need) < STAGE_IDS.index(spec.id), (spec.id, need)


def test_select_stages_keeps_run_order_and_names_unknown_ids():
    assert [s.id for s in select_stages(["export", "audit"])] == ["audit", "export"]
    with pytest.raises(StageError, match="known stages: audit, standardize"):
        select_stages(["audti"])


def test_catalog_names_are_unique_and_every_writer_is_a_stage():
    names = [t.name for t in catalog.TABLES]
    assert len(names) == len(set(names))
    assert {t.written_by for t in catalog.TABLES} <= set(STAGE_IDS)
    assert catalog.writer_of("stg_erp") == "audit" and catalog.writer_of("crosswalk") == "match"
    assert f"SELECT * FROM {catalog.STD_CUSTOMERS}" == "SELECT * FROM std_customers"
    assert catalog.temp("x_1") == "__wb_x_1"
    with pytest.raises(ValueError):
        catalog.temp("Bad Name")
    with pytest.raises(KeyError, match="not in the table catalog"):
        catalog.writer_of("nope")


def test_result_is_recorded_and_the_stage_log_keeps_every_stage(tmp_path: Path):
    class Ctx:
        paths = RunPaths(tmp_path / "run").ensure()

    result = StageResult("match", {"b": 2, "a": {"x": 1}}, tables=tables_written_by("match"))
    record_result(Ctx(), result)  # type: ignore[arg-type]
    assert json.loads((tmp_path / "run" / "metrics" / "match.json").read_text()) == {"a": {"x": 1}, "b": 2}
    update_stage_record(Ctx.paths, "audit", status="ok")
    update_stage_record(Ctx.paths, "match", status="ok")
    log = read_stage_log(Ctx.paths)
    assert [r["stage"] for r in log] == ["audit", "match"]
    assert log[1]["tables"] == ["match_pairs", "crosswalk", "review_queue"] and log[1]["status"] == "ok"


def test_views_are_built_on_demand_and_unknown_views_are_named():
    built = []
    result = StageResult("audit", {}, views={"chart": lambda top=3: built.append(top) or top})
    assert built == []
    assert result.show("chart", top=5) == 5 and built == [5]
    with pytest.raises(StageError, match="has no view 'chrat'; it has: chart"):
        result.show("chrat")
    assert list(result.metrics_table().columns) == ["metric", "value"]
