"""The stage log of a run (``metrics/runner.json``): the latest record of every stage.

A record is written by the stage contract when a stage's ``run`` finishes (seconds, peak memory,
tables and files written) and completed by the runner (status, executed notebook, error). Records
of stages that did not run this time are kept, so a partial rerun never hides earlier stages.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.engine.files import write_text_atomic
from workbench.project.paths import RunPaths
from workbench.project.stages import STAGE_IDS


def read_stage_log(paths: RunPaths) -> list[dict[str, Any]]:
    """Every stage's latest record, in stage order (stages not in the stage list last)."""
    if not paths.stage_log.exists():
        return []
    rows = json.loads(paths.stage_log.read_text(encoding="utf-8")).get("stages", [])
    order = {s: i for i, s in enumerate(STAGE_IDS)}
    return sorted(rows, key=lambda r: (order.get(r.get("stage"), len(order)), str(r.get("stage"))))


def update_stage_record(paths: RunPaths, stage: str, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the record of `stage` (creating it) and write the log atomically."""
    rows = {r["stage"]: r for r in read_stage_log(paths)}
    record = rows.setdefault(stage, {"stage": stage})
    record.update(fields)
    order = {s: i for i, s in enumerate(STAGE_IDS)}
    ordered = sorted(rows.values(), key=lambda r: (order.get(r["stage"], len(order)), r["stage"]))
    paths.metrics.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        paths.stage_log, json.dumps({"stages": ordered}, ensure_ascii=False, indent=2, default=str)
    )
    return record
