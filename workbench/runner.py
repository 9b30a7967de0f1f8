"""The stage runner: executes the stage notebooks of a project headless with papermill.

The stages are data: ``notebooks/stages.yaml`` lists them in order, each with its notebook and
optional parameters. A run executes them into ``<output>/runs/<run id>/`` (see
:mod:`workbench.project.run`): the executed notebooks, an offline HTML export of each, and the metrics each
stage recorded. Unknown parameters are refused before anything runs; a failed stage names the
notebook, the cell and the saved output notebook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import StageError, WorkbenchError
from workbench.project.run import LATEST_FILE, RunPaths, new_run_id, run_dir_for, write_text_atomic

log = logging.getLogger(__name__)

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
STAGES_FILE = NOTEBOOKS_DIR / "stages.yaml"
RUNNER_PARAMETERS = ("config_path", "run_dir")


@dataclass(frozen=True)
class Stage:
    """One entry of the stage list."""

    id: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)
    folder: Path = NOTEBOOKS_DIR

    @property
    def path(self) -> Path:
        return self.folder / self.notebook


@dataclass
class StageOutcome:
    stage: str
    status: str  # ok | failed | skipped
    seconds: float
    output_notebook: Path
    html: Path | None = None
    error: str | None = None


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    outcomes: list[StageOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.outcomes)


def load_stage_list(path: Path | None = None) -> list[Stage]:
    """Read the ordered stage list (``notebooks/stages.yaml``)."""
    path = path or STAGES_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise WorkbenchError(f"{path}: cannot read the stage list: {exc}") from exc
    stages = []
    for i, entry in enumerate(raw.get("stages") or []):
        if not isinstance(entry, dict) or "id" not in entry or "notebook" not in entry:
            raise WorkbenchError(f"{path}: stages[{i}] needs `id` and `notebook`, got {entry!r}")
        stages.append(
            Stage(str(entry["id"]), str(entry["notebook"]), dict(entry.get("parameters") or {}), path.parent)
        )
    ids = [s.id for s in stages]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise WorkbenchError(f"{path}: stage ids must be unique; repeated: {dups}")
    return stages


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its ``parameters`` cell (name → papermill info)."""
    import papermill

    if not notebook.exists():
        raise StageError(f"stage notebook not found: {notebook}")
    return dict(papermill.inspect_notebook(str(notebook)))


def select_stages(all_stages: list[Stage], wanted: list[str] | None) -> list[Stage]:
    if not wanted:
        return all_stages
    known = {s.id for s in all_stages}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise StageError(f"unknown stage(s) {unknown}; known stages: {', '.join(s.id for s in all_stages)}")
    return [s for s in all_stages if s.id in wanted]


def plan_parameters(
    stages: list[Stage], config_path: Path, run_dir: Path, overrides: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Build each stage's parameters and refuse any that its notebook does not declare.

    `overrides` (from ``--param name=value``) go to every selected stage that declares the name;
    a name no selected stage declares is refused.
    """
    overrides = overrides or {}
    problems: list[str] = []
    plans: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for stage in stages:
        declared = notebook_parameters(stage.path)
        missing = [p for p in RUNNER_PARAMETERS if p not in declared]
        if missing:
            problems.append(f"{stage.notebook}: its parameters cell lacks {missing}; every stage needs them")
        unknown = [p for p in stage.parameters if p not in declared]
        if unknown:
            problems.append(
                f"stages.yaml: stage {stage.id!r} passes {unknown}, which {stage.notebook} does not "
                f"declare (it declares {sorted(declared)})"
            )
        params = {"config_path": str(config_path), "run_dir": str(run_dir), **stage.parameters}
        for name, value in overrides.items():
            if name in declared:
                params[name] = value
                used.add(name)
        plans[stage.id] = params
    for name in sorted(set(overrides) - used):
        problems.append(f"--param {name}: no selected stage declares a parameter named {name!r}")
    if problems:
        raise StageError("refusing to run:\n" + "\n".join(f"  - {p}" for p in problems))
    return plans


def run_project(
    config_path: str | Path,
    *,
    run_id: str | None = None,
    stages: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    export_html: bool = True,
    stage_file: Path | None = None,
) -> RunResult:
    """Run the stages of a project into a new run folder.

    Args:
        config_path: the project's ``workbench.yaml``.
        run_id: folder name of the run; default: the clock (``YYYYmmdd-HHMMSS``).
        stages: stage ids to run; default: the config's ``stages`` or all.
        overrides: notebook parameters given on the command line.
        progress: called with one line per event (the CLI prints them).
        export_html: also write an HTML export of each executed notebook.
        stage_file: the stage list to use (default: ``notebooks/stages.yaml``).

    Raises:
        ConfigError: the config is invalid (every problem listed).
        StageError: bad parameters, or a stage failed (names notebook, cell, saved output).
    """
    from workbench.project.config import load_config

    say = progress or (lambda line: log.info("%s", line))
    config_path = Path(config_path).resolve()
    config = load_config(config_path)
    selected = select_stages(load_stage_list(stage_file), stages or config.stages)
    run_id = run_id or new_run_id()
    run_dir = run_dir_for(config, run_id)
    paths = RunPaths(run_dir).ensure()
    plans = plan_parameters(selected, config_path, run_dir, overrides)
    write_text_atomic(config.output_dir / LATEST_FILE, run_id + "\n")
    _write_run_manifest(paths, config_path, selected, plans)

    say(f"run {run_id}: {len(selected)} stage(s) into {run_dir}")
    outcomes: list[StageOutcome] = []
    for n, stage in enumerate(selected, start=1):
        say(f"[{n}/{len(selected)}] {stage.id} ({stage.notebook}) …")
        outcome = execute_stage(stage, plans[stage.id], paths, export_html=export_html)
        outcomes.append(outcome)
        _write_stage_log(paths, outcomes)
        if outcome.status != "ok":
            raise StageError(outcome.error or f"stage {stage.id} failed")
        say(f"[{n}/{len(selected)}] {stage.id} ok in {outcome.seconds:.1f} s")
    return RunResult(run_id=run_id, run_dir=run_dir, outcomes=outcomes)


def execute_stage(
    stage: Stage, parameters: dict[str, Any], paths: RunPaths, *, export_html: bool
) -> StageOutcome:
    """Execute one stage notebook with papermill; on failure describe where it failed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = paths.notebooks / stage.notebook
    start = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            str(stage.path),
            str(out),
            parameters=parameters,
            kernel_name="python3",
            progress_bar=False,
            cwd=str(stage.folder),
        )
    except PapermillExecutionError as exc:
        cell = _source_cell_number(out, exc.cell_index)
        error = (
            f"stage {stage.id!r} failed in {stage.notebook}, cell {cell} (counting from 1, "
            f"execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
            f"  the executed notebook with the error is saved at {out}\n"
            f"  the failing cell starts: {exc.source.strip().splitlines()[0] if exc.source.strip() else ''}"
        )
    except Exception as exc:  # kernel died, notebook unreadable, …
        error = f"stage {stage.id!r} ({stage.notebook}) could not run: {type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    html = None
    if export_html and out.exists():
        try:
            html = export_notebook_html(out, paths.html / (out.stem + ".html"))
        except Exception as exc:  # an HTML export problem must not hide the stage result
            log.warning("HTML export of %s failed: %s", out, exc)
    return StageOutcome(stage.id, "failed" if error else "ok", seconds, out, html, error)


def _source_cell_number(executed: Path, cell_index: int) -> int:
    """1-based number of a failing cell in the stage notebook (papermill inserts a parameters cell)."""
    import nbformat

    try:
        cells = nbformat.read(str(executed), as_version=4).cells
    except Exception:
        return cell_index + 1
    injected = sum(
        1 for c in cells[:cell_index] if "injected-parameters" in c.get("metadata", {}).get("tags", [])
    )
    return cell_index - injected + 1


_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
"""


def export_notebook_html(notebook: Path, target: Path) -> Path:
    """Export an executed notebook to one HTML file that opens offline (no CDN scripts)."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"workbench_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="workbench_offline.html.j2",
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(str(notebook), as_version=4))
    write_text_atomic(target, body)
    return target


def _write_run_manifest(paths: RunPaths, config_path: Path, stages: list[Stage], plans: dict) -> None:
    manifest = {
        "run_id": paths.root.name,
        "started_at": dt.datetime.now().isoformat(timespec="seconds"),
        "config_path": str(config_path),
        "config_sha256": hashlib.sha256(config_path.read_bytes()).hexdigest(),
        "stages": [{"id": s.id, "notebook": s.notebook, "parameters": plans[s.id]} for s in stages],
    }
    write_text_atomic(paths.root / "run.json", json.dumps(manifest, ensure_ascii=False, indent=2))


def _write_stage_log(paths: RunPaths, outcomes: list[StageOutcome]) -> None:
    rows = [
        {
            "stage": o.stage,
            "status": o.status,
            "seconds": round(o.seconds, 2),
            "notebook": str(o.output_notebook),
            "html": str(o.html) if o.html else None,
            "error": o.error,
        }
        for o in outcomes
    ]
    write_text_atomic(
        paths.metrics_file("runner"), json.dumps({"stages": rows}, ensure_ascii=False, indent=2)
    )
