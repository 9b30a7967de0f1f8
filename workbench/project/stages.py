"""The stage list: the one declaration of the stages, their order, notebooks and inputs.

Each stage has a module ``workbench/stages/<id>.py`` exposing ``run(ctx) -> StageResult`` and a
notebook ``notebooks/<NN>_<verb>_<object>.ipynb`` that calls it and shows parts of its result. The
runner, the CLI (``workbench stages``), the config check, the notebook lint, the monitor stage and
the tests read this list; nothing else writes the order down.

``reads`` names the catalog tables a stage reads (``stg_*`` means every staging table); the
stages it needs follow from the catalog (:func:`workbench.engine.catalog.writer_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.engine import catalog as T
from workbench.errors import StageError

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
STAGED_TABLES = "stg_*"


@dataclass(frozen=True)
class StageSpec:
    """One stage: id, notebook, what it reads, and its title in each report language."""

    id: str
    notebook: str
    reads: tuple[str, ...] = ()
    title: dict[str, str] = field(default_factory=dict)
    folder: Path = NOTEBOOKS_DIR

    @property
    def path(self) -> Path:
        return self.folder / self.notebook

    @property
    def module(self) -> str:
        return f"workbench.stages.{self.id}"

    @property
    def needs(self) -> tuple[str, ...]:
        """The stages whose tables this stage reads, in no particular order."""
        writers = {"audit" if t == STAGED_TABLES else T.writer_of(t) for t in self.reads}
        return tuple(sorted(writers - {self.id}))


def _names(*tables: T.Table | str) -> tuple[str, ...]:
    return tuple(str(t) for t in tables)


STAGES: tuple[StageSpec, ...] = (
    StageSpec("audit", "10_audit_sources.ipynb", (), {"zh": "数据审计与画像", "en": "Audit & profile"}),
    StageSpec(
        "standardize",
        "20_standardize_customers.ipynb",
        _names(STAGED_TABLES, T.STAGED_COLUMNS),
        {"zh": "清洗与标准化", "en": "Cleanse & standardize"},
    ),
    StageSpec(
        "mapping",
        "30_map_to_target.ipynb",
        _names(T.STD_CUSTOMERS),
        {"zh": "映射到目标系统", "en": "Map to the target"},
    ),
    StageSpec(
        "match",
        "40_match_customers.ipynb",
        _names(T.STD_CUSTOMERS),
        {"zh": "匹配与去重", "en": "Match & deduplicate"},
    ),
    StageSpec(
        "golden",
        "50_build_golden_records.ipynb",
        _names(T.STD_CUSTOMERS, T.CROSSWALK, T.MATCH_PAIRS),
        {"zh": "黄金记录", "en": "Golden records"},
    ),
    StageSpec(
        "batches",
        "60_plan_batches.ipynb",
        _names(T.GOLDEN_CUSTOMERS),
        {"zh": "迁移批次", "en": "Load batches"},
    ),
    StageSpec(
        "export",
        "70_export_load_files.ipynb",
        _names(T.GOLDEN_CUSTOMERS, T.BATCH_PLAN),
        {"zh": "导入文件", "en": "Load files"},
    ),
    StageSpec(
        "validate",
        "80_validate_migration.ipynb",
        _names(
            STAGED_TABLES,
            T.QUARANTINE,
            T.STD_CUSTOMERS,
            T.CROSSWALK,
            T.GOLDEN_CUSTOMERS,
            T.BATCH_PLAN,
            T.LOAD_ROWS,
            T.EXPORT_FILES,
        ),
        {"zh": "校验迁移结果", "en": "Validate the migration"},
    ),
    StageSpec(
        "monitor",
        "90_monitor_quality.ipynb",
        _names(T.GOLDEN_CUSTOMERS),
        {"zh": "上线后质量监控", "en": "Monitor quality"},
    ),
)

STAGE_IDS: tuple[str, ...] = tuple(s.id for s in STAGES)


def stage_spec(stage_id: str) -> StageSpec:
    """The declaration of one stage (raises with the known ids when there is none)."""
    for spec in STAGES:
        if spec.id == stage_id:
            return spec
    raise StageError(f"unknown stage {stage_id!r}; known stages: {', '.join(STAGE_IDS)}")


def select_stages(wanted: list[str] | None, stages: tuple[StageSpec, ...] = STAGES) -> list[StageSpec]:
    """The stages named in `wanted` (all when empty), in run order."""
    if not wanted:
        return list(stages)
    known = {s.id for s in stages}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise StageError(f"unknown stage(s) {unknown}; known stages: {', '.join(s.id for s in stages)}")
    return [s for s in stages if s.id in wanted]
