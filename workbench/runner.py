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
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.engine.files import write_text_atomic
from workbench.engine.progress import PROGRESS_FILE_ENV, format_event
from workbench.errors import StageError
from workbench.project.config import ProjectConfig
from workbench.project.paths import ProjectPaths, RunPaths, new_run_id
from workbench.project.readiness import missing_inputs, run_tables
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
    new: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    export_html: bool = True,
    notebooks: bool = True,
    stage_list: tuple[StageSpec, ...] = STAGES,
) -> RunResult:
    """Run the stages of a project into a run folder.

    Which run folder: `run_id` when given (an existing folder is continued); otherwise a run of
    only some stages continues the project's latest run when that run has the inputs they need
    (and says so); `new` or a full run starts a new run folder.

    Args:
        config_path: the project's ``workbench.yaml``.
        run_id: folder name of the run; default: see above (a new run is named by the clock).
        stages: stage ids to run; default: the config's ``stages`` or all.
        new: always start a new run folder.
        overrides: notebook parameters given on the command line.
        progress: called with one line per event (the CLI prints them).
        export_html: also write an HTML export of each executed notebook.
        notebooks: execute the stage notebooks (the default); false runs each stage's ``run(ctx)``
            in this process instead (no kernel start, no notebook output: for large projects and
            benchmarks; overrides become the stages' options).
        stage_list: the stages to choose from (default: the declared stage list).

    Raises:
        ConfigError: the config is invalid (every problem listed).
        StageError: bad parameters, a stage's inputs are missing, or a stage failed (names
            notebook, cell, saved output).
    """
    from workbench.project.config import load_config

    say = progress or (lambda line: log.info("%s", line))
    config_path = Path(config_path).resolve()
    config = load_config(config_path)
    selected = select_stages(stages or config.stages, stage_list)
    project = ProjectPaths(config)
    paths, note = choose_run(project, config, selected, stage_list, run_id=run_id, new=new)
    _refuse_missing_inputs(config, paths, selected)
    paths.ensure()
    plans = (
        plan_parameters(selected, config_path, paths.root, overrides)
        if notebooks
        else {s.id: {"config_path": str(config_path), "run_dir": str(paths.root), **(overrides or {})} for s in selected}
    )
    _write_run_manifest(paths, config_path, selected, plans)
    _mark_latest(project, paths.run_id)

    say(f"run {paths.run_id}: {len(selected)} stage(s) into {paths.root}{note}")
    outcomes: list[StageOutcome] = []
    for n, stage in enumerate(selected, start=1):
        say(f"[{n}/{len(selected)}] {stage.id} ({stage.notebook}) …")
        update_stage_record(paths, stage.id, status="running", error=None)
        if notebooks:
            outcome = execute_stage(stage, plans[stage.id], paths, export_html=export_html, progress=say)
        else:
            outcome = execute_stage_in_process(stage, plans[stage.id], paths, progress=say)
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
            _finish_manifest(paths, "incomplete", failed_stage=stage.id)
            _mark_latest(project, paths.run_id, incomplete=f"stage {stage.id} failed")
            raise StageError(outcome.error or f"stage {stage.id} failed")
        say(f"[{n}/{len(selected)}] {stage.id} ok in {outcome.seconds:.1f} s")
    _finish_manifest(paths, "complete")
    return RunResult(run_id=paths.run_id, run_dir=paths.root, outcomes=outcomes)


def choose_run(
    project: ProjectPaths,
    config: ProjectConfig,
    selected: list[StageSpec],
    stage_list: tuple[StageSpec, ...] = STAGES,
    *,
    run_id: str | None = None,
    new: bool = False,
) -> tuple[RunPaths, str]:
    """The run folder to run `selected` in, and a note saying why (see :func:`run_project`)."""
    if run_id:
        paths = project.run(run_id)
        return paths, (" (continuing it)" if paths.manifest.exists() else "")
    # a run that starts with a stage needing nothing (audit) starts afresh: it makes its own inputs
    if new or not selected[0].needs or not project.latest_marker.exists():
        return _fresh_run(project), ""
    latest = project.latest_run()
    problems = _all_missing(config, latest, selected)
    if not problems:
        return latest, f" (continuing the latest run: it has the inputs of {', '.join(s.id for s in selected)})"
    lines = "\n".join(f"  - {p}" for p in problems)
    raise StageError(
        f"the latest run {latest.run_id} lacks what {', '.join(s.id for s in selected)} need:\n{lines}\n"
        f"  run the earlier stages too (e.g. --stages {','.join(_with_needs(selected, stage_list))}), "
        "or name a run that has them with --run-id"
    )


def _fresh_run(project: ProjectPaths) -> RunPaths:
    """A new run folder named by the clock (``-2``, ``-3`` … when that second is taken)."""
    base = new_run_id()
    paths, n = project.run(base), 1
    while paths.root.exists():
        n += 1
        paths = project.run(f"{base}-{n}")
    return paths


def _all_missing(config: ProjectConfig, paths: RunPaths, selected: list[StageSpec]) -> list[str]:
    tables = run_tables(paths)
    problems: list[str] = []
    for i, spec in enumerate(selected):
        problems += missing_inputs(spec, config, paths, tables=tables, provided_by=[s.id for s in selected[:i]])
    return problems


def _refuse_missing_inputs(config: ProjectConfig, paths: RunPaths, selected: list[StageSpec]) -> None:
    problems = _all_missing(config, paths, selected)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise StageError(f"refusing to run on run {paths.run_id}: inputs are missing:\n{lines}")


def _with_needs(selected: list[StageSpec], stage_list: tuple[StageSpec, ...]) -> list[str]:
    """`selected` plus every stage they need, transitively, in run order."""
    by_id = {s.id: s for s in stage_list}
    wanted = {s.id for s in selected}
    todo = list(wanted)
    while todo:
        for need in by_id[todo.pop()].needs:
            if need not in wanted:
                wanted.add(need)
                todo.append(need)
    return [s.id for s in stage_list if s.id in wanted]


def _mark_latest(project: ProjectPaths, run_id: str, *, incomplete: str = "") -> None:
    """``LATEST``: the newest run's id; a second line ``incomplete: …`` when it did not finish."""
    text = run_id + "\n" + (f"incomplete: {incomplete}\n" if incomplete else "")
    write_text_atomic(project.latest_marker, text)


def execute_stage_in_process(
    stage: StageSpec, parameters: dict[str, Any], paths: RunPaths, *, progress: Callable[[str], None] | None = None
) -> StageOutcome:
    """Run one stage's ``run(ctx)`` in this process (no notebook); a failure is described, not raised."""
    import importlib

    from workbench.errors import WorkbenchError
    from workbench.project.context import open_run

    options = {k: v for k, v in parameters.items() if k not in RUNNER_PARAMETERS}
    start = time.perf_counter()
    error = None
    try:
        with _ProgressFeed(paths.metrics / f".progress-{stage.id}.jsonl", progress):
            ctx = open_run(parameters["config_path"], parameters["run_dir"], **options)
            importlib.import_module(stage.module).run(ctx)
    except WorkbenchError as exc:
        error = f"stage {stage.id!r} failed: {exc}"
    except Exception as exc:  # a bug: keep the traceback in the log, the message for the user
        log.exception("stage %s failed", stage.id)
        error = f"stage {stage.id!r} failed: {type(exc).__name__}: {exc}"
    return StageOutcome(stage.id, "failed" if error else "ok", time.perf_counter() - start, paths.notebooks, None, error)


# the kernel's own start-up chatter (e.g. "running over TCP without encryption": the kernel and the
# runner talk over loopback only) is not for the analyst; errors still show
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


def execute_stage(
    stage: StageSpec,
    parameters: dict[str, Any],
    paths: RunPaths,
    *,
    export_html: bool,
    progress: Callable[[str], None] | None = None,
) -> StageOutcome:
    """Execute one stage notebook with papermill; on failure describe where it failed.

    While the notebook runs, the stage's progress events (:mod:`workbench.engine.progress`) are
    passed to `progress` as lines.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    out = paths.notebooks / stage.notebook
    start = time.perf_counter()
    error = None
    try:
        with _ProgressFeed(paths.metrics / f".progress-{stage.id}.jsonl", progress):
            papermill.execute_notebook(
                str(stage.path),
                str(out),
                parameters=parameters,
                kernel_name="python3",
                progress_bar=False,
                cwd=str(stage.folder),
                extra_arguments=KERNEL_ARGUMENTS,
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


class _ProgressFeed:
    """Point the kernel's progress events at a file and print them while the notebook runs."""

    def __init__(self, path: Path, say: Callable[[str], None] | None) -> None:
        self.path, self.say = path, say
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous = os.environ.get(PROGRESS_FILE_ENV)

    def __enter__(self) -> _ProgressFeed:
        if self.say is None:
            return self
        self.path.unlink(missing_ok=True)
        os.environ[PROGRESS_FILE_ENV] = str(self.path)  # the kernel inherits the runner's environment
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        if self._previous is None:
            os.environ.pop(PROGRESS_FILE_ENV, None)
        else:
            os.environ[PROGRESS_FILE_ENV] = self._previous
        self.path.unlink(missing_ok=True)

    def _follow(self) -> None:
        offset = 0
        while True:
            stopping = self._stop.wait(0.5)
            if self.path.exists():
                with self.path.open(encoding="utf-8") as fh:
                    fh.seek(offset)
                    for line in fh:
                        if not line.endswith("\n"):
                            break  # half-written: read it next time
                        offset += len(line.encode("utf-8"))
                        assert self.say is not None
                        self.say(format_event(json.loads(line)))
            if stopping:
                return


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
    """``run.json``: who runs what on which config; a continued run keeps its earlier invocations."""
    invocation = {
        "started_at": dt.datetime.now().isoformat(timespec="seconds"),
        "operator": operator(),
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
    manifest = {"run_id": paths.run_id, "status": "running", **invocation, "invocations": [*earlier, invocation]}
    write_text_atomic(paths.manifest, json.dumps(manifest, ensure_ascii=False, indent=2))


def _finish_manifest(paths: RunPaths, status: str, **fields: Any) -> None:
    manifest = json.loads(paths.manifest.read_text(encoding="utf-8"))
    manifest.update(status=status, finished_at=dt.datetime.now().isoformat(timespec="seconds"), **fields)
    if status == "complete":
        manifest.pop("failed_stage", None)
    write_text_atomic(paths.manifest, json.dumps(manifest, ensure_ascii=False, indent=2))


def operator() -> str:
    """Who runs this: ``$WORKBENCH_OPERATOR``, else the OS user (there is no login: see SECURITY.md)."""
    import getpass

    return os.environ.get("WORKBENCH_OPERATOR") or getpass.getuser()
