"""The stage runner: executes the stage notebooks of a project headless with papermill.

The stages are declared once in :mod:`workbench.project.stages`. A run executes them into
``<output>/runs/<run id>/`` (see :mod:`workbench.project.paths`): the executed notebooks, an
offline HTML export of each, and the stage log (``metrics/runner.json``), which keeps the latest
record of every stage across partial reruns. Each notebook calls its stage's ``run(ctx)``, whose
contract records the stage's metrics. Unknown parameters are refused before anything runs; a
failed stage names the notebook, the cell and the saved output notebook.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.engine.files import write_text_atomic
from workbench.errors import StageError
from workbench.project.paths import ProjectPaths, RunPaths, new_run_id
from workbench.project.stage_log import update_stage_record
from workbench.project.stages import STAGES, StageSpec, select_stages

log = logging.getLogger(__name__)

RUNNER_PARAMETERS = ("config_path", "run_dir")


@dataclass
class StageOutcome:
    stage: str
    status: str  # ok | failed
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


def notebook_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its ``parameters`` cell (name → papermill info)."""
    import papermill

    if not notebook.exists():
        raise StageError(f"stage notebook not found: {notebook}")
    return dict(papermill.inspect_notebook(str(notebook)))


def plan_parameters(
    stages: list[StageSpec], config_path: Path, run_dir: Path, overrides: dict[str, Any] | None = None
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
        params: dict[str, Any] = {"config_path": str(config_path), "run_dir": str(run_dir)}
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
    stage_list: tuple[StageSpec, ...] = STAGES,
) -> RunResult:
    """Run the stages of a project into a run folder.

    Args:
        config_path: the project's ``workbench.yaml``.
        run_id: folder name of the run; default: the clock (``YYYYmmdd-HHMMSS``). An existing run
            folder is continued: its earlier stages' tables and records are kept.
        stages: stage ids to run; default: the config's ``stages`` or all.
        overrides: notebook parameters given on the command line.
        progress: called with one line per event (the CLI prints them).
        export_html: also write an HTML export of each executed notebook.
        stage_list: the stages to choose from (default: the declared stage list).

    Raises:
        ConfigError: the config is invalid (every problem listed).
        StageError: bad parameters, or a stage failed (names notebook, cell, saved output).
    """
    from workbench.project.config import load_config

    say = progress or (lambda line: log.info("%s", line))
    config_path = Path(config_path).resolve()
    config = load_config(config_path)
    selected = select_stages(stages or config.stages, stage_list)
    run_id = run_id or new_run_id()
    project = ProjectPaths(config)
    paths = project.run(run_id).ensure()
    plans = plan_parameters(selected, config_path, paths.root, overrides)
    write_text_atomic(project.latest_marker, run_id + "\n")
    _write_run_manifest(paths, config_path, selected, plans)

    say(f"run {run_id}: {len(selected)} stage(s) into {paths.root}")
    outcomes: list[StageOutcome] = []
    for n, stage in enumerate(selected, start=1):
        say(f"[{n}/{len(selected)}] {stage.id} ({stage.notebook}) …")
        outcome = execute_stage(stage, plans[stage.id], paths, export_html=export_html)
        outcomes.append(outcome)
        update_stage_record(
            paths,
            stage.id,
            status=outcome.status,
            seconds=round(outcome.seconds, 2),
            notebook=str(outcome.output_notebook),
            html=str(outcome.html) if outcome.html else None,
            error=outcome.error,
        )
        if outcome.status != "ok":
            raise StageError(outcome.error or f"stage {stage.id} failed")
        say(f"[{n}/{len(selected)}] {stage.id} ok in {outcome.seconds:.1f} s")
    return RunResult(run_id=run_id, run_dir=paths.root, outcomes=outcomes)


def execute_stage(
    stage: StageSpec, parameters: dict[str, Any], paths: RunPaths, *, export_html: bool
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


def _write_run_manifest(
    paths: RunPaths, config_path: Path, stages: list[StageSpec], plans: dict[str, dict[str, Any]]
) -> None:
    """``run.json``: what this invocation runs; a continued run keeps its earlier invocations."""
    invocation = {
        "started_at": dt.datetime.now().isoformat(timespec="seconds"),
        "config_path": str(config_path),
        "config_sha256": hashlib.sha256(config_path.read_bytes()).hexdigest(),
        "stages": [{"id": s.id, "notebook": s.notebook, "parameters": plans[s.id]} for s in stages],
    }
    earlier: list[dict[str, Any]] = []
    if paths.manifest.exists():
        previous = json.loads(paths.manifest.read_text(encoding="utf-8"))
        earlier = previous.get("invocations") or [
            {k: previous[k] for k in ("started_at", "config_path", "config_sha256", "stages") if k in previous}
        ]
    manifest = {"run_id": paths.run_id, **invocation, "invocations": [*earlier, invocation]}
    write_text_atomic(paths.manifest, json.dumps(manifest, ensure_ascii=False, indent=2))
