"""Every path of a project and of its runs: the one module that names files and folders.

A project is its config file; every other path is derived here from it:

``<config folder>/``
    the project's own inputs: mapping tables (``export.mapping_dir``), review labels, business
    verdicts, the project's suites (``report.expectations_dir``).

``<output dir>/`` (``output.dir``, default ``output/`` beside the config)
    ``runs/<run id>/`` one folder per run (see :class:`RunPaths`), ``LATEST`` (the newest run id),
    ``history.duckdb`` (run metrics across runs), ``load_history.duckdb`` (import rounds across runs)
    and ``master_id_registry.parquet`` (stable master IDs).

Layout of ``<output dir>/runs/<run id>/``::

    warehouse.duckdb      every table of the run (see workbench.engine.catalog)
    run.json              what was run: config, stages, parameters
    analyst/              pages for analysts only, never linked for business (raw data):
      notebooks/          executed stage notebooks (papermill output)
      html/               HTML export of each executed notebook
      splink/             trained model JSON and Splink chart HTML
      gx_datadocs/        Great Expectations' own Data Docs site
    metrics/<stage>.json  metrics each stage recorded; metrics/runner.json is the stage log
    reports/              self-contained HTML reports meant for business
    tables/               CSV / Parquet / Excel outputs (crosswalk, change log, …)
    review/               clerical review worklists
    exports/              load-ready files and their manifest
    datadocs/             Great Expectations Data Docs
    expectations/         the suites as applied in this run
    import_logs/          import logs read back in this run
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig

LATEST_FILE = "LATEST"
RUN_MANIFEST = "run.json"
STAGE_LOG = "runner"  # metrics/runner.json


@dataclass(frozen=True)
class RunPaths:
    """Every path of one run folder."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def manifest(self) -> Path:
        return self.root / RUN_MANIFEST

    @property
    def analyst(self) -> Path:
        """Pages for analysts only (raw personal data); the business summary links none of them."""
        return self.root / "analyst"

    @property
    def notebooks(self) -> Path:
        return self.analyst / "notebooks"

    @property
    def html(self) -> Path:
        return self.analyst / "html"

    @property
    def gx_datadocs(self) -> Path:
        return self.analyst / "gx_datadocs"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def splink(self) -> Path:
        return self.analyst / "splink"

    @property
    def review(self) -> Path:
        return self.root / "review"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def exports_incomplete(self) -> Path:
        """The marker an export that did not finish leaves (``exports/`` holds the previous set or nothing)."""
        return self.root / "exports.INCOMPLETE.json"

    @property
    def datadocs(self) -> Path:
        return self.root / "datadocs"

    @property
    def expectations(self) -> Path:
        return self.root / "expectations"

    @property
    def import_logs(self) -> Path:
        return self.root / "import_logs"

    @property
    def model(self) -> Path:
        """The trained Splink model of the run."""
        return self.splink / "model.json"

    def metrics_file(self, stage: str) -> Path:
        return self.metrics / f"{stage}.json"

    @property
    def stage_log(self) -> Path:
        return self.metrics_file(STAGE_LOG)

    def ensure(self) -> RunPaths:
        for p in (self.notebooks, self.html, self.metrics, self.reports, self.tables):
            p.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class ProjectPaths:
    """Every path of a project, derived from its config."""

    config: ProjectConfig

    def resolve(self, path: Path | str) -> Path:
        """A path written in the config file or given by the user, against the config's folder."""
        return self.config.resolve(path)

    # -- the output folder, across runs
    @property
    def output_dir(self) -> Path:
        return self.config.output_dir

    @property
    def runs_dir(self) -> Path:
        return self.output_dir / "runs"

    @property
    def latest_marker(self) -> Path:
        return self.output_dir / LATEST_FILE

    def run(self, run_id: str) -> RunPaths:
        return RunPaths(self.runs_dir / run_id)

    def latest_run(self) -> RunPaths:
        """The newest run of this project."""
        marker = self.latest_marker
        if not marker.exists():
            raise WorkbenchError(
                f"no run yet under {self.output_dir}; run `workbench run --config "
                f"{self.config.config_path}` first"
            )
        return self.run(marker.read_text(encoding="utf-8").splitlines()[0].strip())

    @property
    def run_history(self) -> Path:
        """Quality metrics of every run (the monitor stage's database)."""
        configured = self.config.report.history_path
        return self.resolve(configured) if configured else self.output_dir / "history.duckdb"

    @property
    def load_history(self) -> Path:
        """Import rounds of every run (the export stage's import-error loop)."""
        return self.output_dir / "load_history.duckdb"

    @property
    def master_id_registry(self) -> Path:
        configured = self.config.match.registry_path
        return self.resolve(configured) if configured else self.output_dir / "master_id_registry.parquet"

    # -- the project's own inputs
    @property
    def review_labels(self) -> Path:
        return self.resolve(self.config.match.labels_path)

    @property
    def ground_truth(self) -> Path | None:
        configured = self.config.match.ground_truth_path
        return self.resolve(configured) if configured else None

    @property
    def mapping_dir(self) -> Path:
        return self.resolve(self.config.export.mapping_dir)

    def field_mapping(self, profile: str) -> Path:
        """``export.field_mappings[profile]`` if set, else ``<mapping_dir>/field_mapping_<profile>.csv``."""
        custom = self.config.export.field_mappings.get(profile)
        if custom is None:
            return self.mapping_dir / f"field_mapping_{profile}.csv"
        return custom if Path(custom).is_absolute() else self.mapping_dir / custom

    @property
    def value_mappings(self) -> list[Path]:
        return [p if Path(p).is_absolute() else self.mapping_dir / p for p in self.config.export.value_mappings]

    @property
    def approvals(self) -> Path:
        p = Path(self.config.export.approvals_path)
        return p if p.is_absolute() else self.mapping_dir / p

    @property
    def target_profiles(self) -> list[Path]:
        return [self.resolve(p) for p in self.config.export.profile_paths]

    @property
    def import_reasons(self) -> Path | None:
        configured = self.config.export.import_reasons_path
        return self.resolve(configured) if configured else None

    @property
    def suites_dir(self) -> Path | None:
        """The project's own GX suites, if it has a folder of them: ``report.expectations_dir``, else
        an ``expectations/`` folder beside the config when there is one."""
        configured = self.config.report.expectations_dir
        if configured:
            return self.resolve(configured)
        beside = self.resolve(Path("expectations"))
        return beside if beside.is_dir() else None

    @property
    def verdicts(self) -> Path:
        return self.resolve(self.config.report.sampling.verdicts_path)


def new_run_id(now: dt.datetime | None = None) -> str:
    """A sortable run id from the clock, e.g. ``20261129-061502``."""
    return (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
