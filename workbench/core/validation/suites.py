"""Technical validation with Great Expectations 1.x: suites, checkpoints, offline Data Docs, failures.

This module owns:

- **suites** — GX 1.x JSON files (``type``, ``kwargs``, ``meta``) in ``expectations/``: one per
  source (``source_<name>.json``, run on ``stg_<name>``), one for the standardized set
  (``standardized_customers.json``, run on ``std_customers``), and the load-ready suites, generated
  at run time from the target profile (required → not null, lengths, date formats, picklists → value
  sets, key unique) and saved into the run folder. :func:`load_suite` checks that every entry of a
  file survived loading (GX drops an invalid entry with only a log line) and names each bad entry.
- **checkpoints** — :func:`run_suites` validates pandas frames (GX cannot validate DuckDB tables
  through SQL) in an ephemeral context with analytics and progress bars off, and builds Data Docs
  into ``<run>/datadocs``. :func:`make_docs_offline` rewrites the pages so they open offline and
  send nothing to third parties (GX pages load CDN scripts, styles and a logo).
- **failures** — every failed row comes back with its business keys (source, source ID, record
  key, master ID; file and row for load files) into ``validation_failures``, which feeds the fix
  worklist; ``validation_results`` holds one row per expectation run.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.engine.catalog import staged
from workbench.engine.connection import table_columns, table_exists
from workbench.engine.files import write_text_atomic
from workbench.engine.sql import ident
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

STANDARDIZED_SUITE = "standardized_customers"
META_KEY = "workbench"
FAILURE_COLUMNS = [
    "suite",
    "stage",
    "dataset",
    "expectation",
    "column",
    "severity",
    "source",
    "source_id",
    "record_key",
    "master_id",
    "file",
    "row_in_file",
    "value",
    "description",
]
RESULT_COLUMNS = [
    "suite",
    "stage",
    "dataset",
    "expectation",
    "column",
    "severity",
    "success",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "failures_kept",
    "error",
    "description",
]
USCC_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
PHONE_TEXT_PATTERN = r"^(?=(?:\D*\d){7})[0-9+()（）\-./;,，、\s转分机extEXT#*]+$"
DATE_TEXT_PATTERN = r"^(?:\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{8})(?:\s.*)?$"
AMOUNT_TEXT_PATTERN = r"^\s*[-+]?[0-9,]*\.?[0-9]+\s*$"
FLAG_WORDS = [
    "是",
    "否",
    "Y",
    "N",
    "y",
    "n",
    "1",
    "0",
    "true",
    "false",
    "TRUE",
    "FALSE",
    "True",
    "False",
    "yes",
    "no",
    "Yes",
    "No",
    "YES",
    "NO",
    "T",
    "F",
]
RECORD_STATUSES = ["active", "deregistered", "revoked", "suspended", "inactive", "unknown"]

LABELS = {
    "zh": {
        "title": "数据校验报告 (Great Expectations Data Docs)",
        "intro": "本页离线可读：GX 原页面依赖的外部脚本、样式和图标已移除或换成本地文件。",
        "results": "校验结果",
        "suites": "校验规则集",
        "suite": "规则集",
        "dataset": "数据集",
        "stage": "阶段",
        "status": "结果",
        "evaluated": "规则数",
        "passed": "通过",
        "failed_rows": "不合格行",
        "ok": "通过",
        "warn": "通过（有警告）",
        "fail": "未通过",
        "page": "详情",
        "open": "打开",
    },
    "en": {
        "title": "Validation report (Great Expectations Data Docs)",
        "intro": "This page opens offline: the external scripts, styles and logo of the GX pages were "
        "removed or replaced by local files.",
        "results": "Validation results",
        "suites": "Expectation suites",
        "suite": "Suite",
        "dataset": "Dataset",
        "stage": "Stage",
        "status": "Status",
        "evaluated": "Expectations",
        "passed": "Passed",
        "failed_rows": "Failed rows",
        "ok": "passed",
        "warn": "passed with warnings",
        "fail": "failed",
        "page": "Details",
        "open": "open",
    },
}


class SuiteError(WorkbenchError):
    """A suite file is unreadable, or some of its expectations do not survive loading."""


class ValidationError(WorkbenchError):
    """Validation cannot run: a table is missing or a suite does not fit its data."""


# --------------------------------------------------------------------------------------------
# GX import (analytics off, no version check)


def _gx():
    """Import great_expectations with analytics off (``GX_ANALYTICS_ENABLED``) and return it."""
    # GX 1.24 reads GX_ANALYTICS_ENABLED when a context's analytics_enabled is unset; we also set it
    # explicitly on every context we create (see _new_context)
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    import great_expectations as gx

    return gx


def _new_context(docs_dir: Path | None):
    gx = _gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    sites = {}
    if docs_dir is not None:
        sites["run"] = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        data_docs_sites=sites,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


# --------------------------------------------------------------------------------------------
# suites: files, loading with a survival check


def read_suite_file(path: Path | str) -> dict[str, Any]:
    """Read a suite JSON file.

    Raises:
        SuiteError: the file is missing or not a JSON object with ``name`` and ``expectations``.
    """
    path = Path(path)
    if not path.is_file():
        raise SuiteError(f"{path}: suite file not found")
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: not a UTF-8 JSON file: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise SuiteError(f"{path}: a suite file holds an object with `name` and an `expectations` list")
    return raw


def check_suite_entries(raw: dict[str, Any], origin: str) -> list[str]:
    """Every problem of a suite's entries, each naming the entry (index and type) and the fix."""
    gx = _gx()  # noqa: F841 - registers the expectation classes
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    problems = []
    if not raw.get("name") or not isinstance(raw.get("name"), str):
        problems.append(f"{origin}: the suite needs a non-empty `name`")
    for i, entry in enumerate(raw.get("expectations") or []):
        where = f"{origin}: expectations[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object with `type`, `kwargs` and optional `meta`")
            continue
        if "expectation_type" in entry:
            problems.append(
                f"{where}: `expectation_type` is the GX 0.x key; GX 1.x calls it `type` — rename it"
            )
            continue
        kind = entry.get("type")
        where = f"{where} ({kind})"
        unknown = sorted(
            set(entry) - {"type", "kwargs", "meta", "id", "notes", "description", "rendered_content"}
        )
        if unknown:
            problems.append(f"{where}: unknown key(s) {unknown}; allowed are type, kwargs, meta, notes")
            continue
        try:
            ExpectationConfiguration(**entry).to_domain_obj()
        except Exception as exc:  # GX raises several unrelated types here; we report them all
            msg = " ".join(str(exc).split())
            problems.append(f"{where}: {msg[:300]}")
    return problems


def load_suite(source: Path | str | dict[str, Any], *, origin: str | None = None):
    """Load a suite and check that every expectation in it survived.

    Args:
        source: a suite file path or an already parsed suite dict.
        origin: name used in messages (default: the file path or the suite name).

    Returns:
        A ``great_expectations.ExpectationSuite`` with exactly as many expectations as the input.

    Raises:
        SuiteError: naming every entry that is invalid or was dropped by GX.
    """
    raw = read_suite_file(source) if isinstance(source, str | Path) else source
    origin = origin or (str(source) if isinstance(source, str | Path) else str(raw.get("name")))
    problems = check_suite_entries(raw, origin)
    if problems:
        raise SuiteError(
            f"{origin}: {len(problems)} invalid expectation(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    gx = _gx()
    entries = raw["expectations"]
    suite = gx.ExpectationSuite(
        name=raw["name"],
        expectations=[dict(e) for e in entries],
        meta=dict(raw.get("meta") or {}),
    )
    if len(suite.expectations) != len(entries):
        raise SuiteError(
            f"{origin}: {len(entries)} expectations in the file but only {len(suite.expectations)} survived "
            "loading; GX dropped the others (see the log for the reason) — fix or remove them"
        )
    return suite


def suite_to_dict(suite) -> dict[str, Any]:
    """A suite as the 1.x JSON dict (``name``, ``expectations`` with ``type``/``kwargs``/``meta``, ``meta``)."""
    data = suite.to_json_dict()
    for e in data.get("expectations", []):
        e.pop("id", None)
    data.pop("id", None)
    return data


def save_suite(raw: dict[str, Any], path: Path | str) -> Path:
    """Write a suite dict as pretty JSON (UTF-8, atomic) after checking it loads whole."""
    load_suite(raw, origin=str(path))
    write_text_atomic(Path(path), json.dumps(raw, ensure_ascii=False, indent=2) + "\n")
    return Path(path)


def _exp(kind: str, severity: str = "error", zh: str = "", en: str = "", **kwargs: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "kwargs": kwargs,
        "meta": {"severity": severity, "description_zh": zh, "description_en": en},
    }


def _suite(name: str, dataset: str, stage: str, keys: list[str], expectations: list[dict], note: str) -> dict:
    return {
        "name": name,
        "meta": {META_KEY: {"dataset": dataset, "stage": stage, "keys": keys, "note": note}},
        "expectations": expectations,
    }


# --------------------------------------------------------------------------------------------
# suite builders (regexes use non-capturing groups only: pandas warns on capturing groups)


def build_source_suite(source, config) -> dict[str, Any]:
    """A basic suite for one source's staged table, built from the config's field kinds.

    Checks the lineage columns, the ID (present, unique) and the shape of each field by kind
    (phones, e-mails, tax IDs, postcodes, dates, amounts, flags, names). A project refines the
    written file by hand; see ``expectations/source_*.json``.
    """
    idf = source.id_field
    cn = config.project.default_region == "CN"
    ex: list[dict] = [
        _exp(
            "expect_column_values_to_not_be_null",
            zh="行号不能为空",
            en="row number present",
            column="_row_number",
        ),
        _exp(
            "expect_column_values_to_be_unique", zh="行号唯一", en="row number unique", column="_row_number"
        ),
        _exp("expect_column_values_to_not_be_null", zh=f"{idf} 不能为空", en=f"{idf} is present", column=idf),
    ]
    if source.role == "customers":  # in an activity source the customer ID repeats by design
        ex.append(
            _exp(
                "expect_column_values_to_be_unique",
                "warning",
                zh=f"{idf} 在来源内唯一",
                en=f"{idf} is unique in the source",
                column=idf,
            )
        )
    for col in source.columns.values():
        f, kind = col.field, str(col.kind.value)
        if f == idf:
            continue
        if kind == "phone":
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "warning",
                    zh=f"{f} 像电话号码",
                    en=f"{f} looks like a phone number",
                    column=f,
                    regex=PHONE_TEXT_PATTERN,
                )
            )
        elif kind == "email":
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "warning",
                    zh=f"{f} 是电子邮箱格式",
                    en=f"{f} looks like an e-mail address",
                    column=f,
                    regex=EMAIL_PATTERN,
                )
            )
        elif kind == "tax_id" and cn:
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "warning",
                    zh=f"{f} 是 18 位统一社会信用代码",
                    en=f"{f} has the shape of an 18-character USCC",
                    column=f,
                    regex=USCC_PATTERN,
                )
            )
        elif kind == "postcode" and cn:
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "warning",
                    zh=f"{f} 是 6 位邮编",
                    en=f"{f} is a 6-digit postcode",
                    column=f,
                    regex=r"^\d{6}$",
                )
            )
        elif kind == "date":
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "warning",
                    zh=f"{f} 是日期",
                    en=f"{f} is a date",
                    column=f,
                    regex=DATE_TEXT_PATTERN,
                )
            )
        elif kind in ("amount", "number"):
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    "warning",
                    zh=f"{f} 是数值",
                    en=f"{f} is a number",
                    column=f,
                    regex=AMOUNT_TEXT_PATTERN,
                )
            )
        elif kind == "flag":
            ex.append(
                _exp(
                    "expect_column_values_to_be_in_set",
                    "warning",
                    zh=f"{f} 是 是/否 标志",
                    en=f"{f} is a yes/no flag",
                    column=f,
                    value_set=FLAG_WORDS,
                )
            )
        elif kind in ("customer_name", "company_name"):
            ex.append(
                _exp(
                    "expect_column_values_to_not_be_null",
                    "warning",
                    zh=f"{f} 不能为空",
                    en=f"{f} is present",
                    column=f,
                )
            )
            ex.append(
                _exp(
                    "expect_column_value_lengths_to_be_between",
                    "warning",
                    zh=f"{f} 长度 2–200",
                    en=f"{f} has 2 to 200 characters",
                    column=f,
                    min_value=2,
                    max_value=200,
                )
            )
    keys = ["_source", "_row_number", idf]
    return _suite(
        f"source_{source.name}",
        staged(source.name),
        "ingest",
        keys,
        ex,
        "generated from the config's field kinds",
    )


def build_standardized_suite(config) -> dict[str, Any]:
    """The suite of the standardized set (``std_customers``), built from the config's field kinds."""
    ex: list[dict] = [
        _exp(
            "expect_column_values_to_not_be_null",
            zh="记录键不能为空",
            en="record key present",
            column="record_key",
        ),
        _exp(
            "expect_column_values_to_be_unique", zh="记录键唯一", en="record key unique", column="record_key"
        ),
        _exp(
            "expect_column_values_to_be_in_set",
            zh="来源是配置中的客户来源",
            en="source is a configured source",
            column="_source",
            value_set=[s.name for s in config.customer_sources],
        ),
        _exp(
            "expect_column_values_to_be_in_set",
            zh="客户类型为 B2B/B2C",
            en="customer type is B2B or B2C",
            column="customer_type",
            value_set=["B2B", "B2C"],
        ),
        _exp(
            "expect_column_values_to_be_in_set",
            zh="状态取值合法",
            en="record status is a known status",
            column="record_status",
            value_set=RECORD_STATUSES,
        ),
    ]
    for f, kind in config.field_kinds().items():
        kind = str(kind.value)
        if kind in ("id", "text", "code", "status"):
            continue
        ex.append(
            _exp(
                "expect_column_values_to_be_in_set",
                "warning",
                zh=f"{f} 标准化后有效",
                en=f"{f} is valid after standardizing",
                column=f"{f}_valid",
                value_set=[True],
            )
        )
        if kind == "phone":
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    zh=f"{f}_e164 是 E.164 号码",
                    en=f"{f}_e164 is an E.164 number",
                    column=f"{f}_e164",
                    regex=E164_PATTERN,
                )
            )
        elif kind == "email":
            ex.append(
                _exp(
                    "expect_column_values_to_match_regex",
                    zh=f"{f} 是小写邮箱",
                    en=f"{f} is a lower-case e-mail address",
                    column=f,
                    regex=r"^[^@\sA-Z]+@[^@\sA-Z]+\.[a-z]{2,}$",
                )
            )
    return _suite(
        STANDARDIZED_SUITE,
        "std_customers",
        "standardize",
        ["record_key", "_source", "source_id"],
        ex,
        "generated from the config's field kinds",
    )


def build_load_ready_suites(profile) -> list[dict[str, Any]]:
    """One suite per structure of a target profile, for the rows read back from the load files.

    Required fields are not null; lengths are capped; integer/number/date fields match their
    format; picklists become value sets; the key field is unique (with the exploded field, in an
    exploded structure).
    """
    suites = []
    for s in profile.structures:
        ex: list[dict] = []
        for f in s.fields:
            ex.append(
                _exp(
                    "expect_column_to_exist",
                    zh=f"文件有 {f.name} 列",
                    en=f"the file has column {f.name}",
                    column=f.name,
                )
            )
            if f.required:
                ex.append(
                    _exp(
                        "expect_column_values_to_not_be_null",
                        zh=f"{f.caption} 必填",
                        en=f"{f.caption} is required",
                        column=f.name,
                    )
                )
            if f.length:
                ex.append(
                    _exp(
                        "expect_column_value_lengths_to_be_between",
                        zh=f"{f.caption} 最长 {f.length}",
                        en=f"{f.caption} has at most {f.length} characters",
                        column=f.name,
                        max_value=f.length,
                    )
                )
            if f.allowed:
                ex.append(
                    _exp(
                        "expect_column_values_to_be_in_set",
                        zh=f"{f.caption} 取值在目标下拉表中",
                        en=f"{f.caption} is one of the target's values",
                        column=f.name,
                        value_set=list(f.allowed),
                    )
                )
            if f.type == "integer":
                ex.append(
                    _exp(
                        "expect_column_values_to_match_regex",
                        zh=f"{f.caption} 是整数",
                        en=f"{f.caption} is an integer",
                        column=f.name,
                        regex=r"^-?[0-9]+$",
                    )
                )
            elif f.type == "number":
                dec = (
                    r"(?:\.[0-9]+)?"
                    if f.decimals is None
                    else (rf"(?:\.[0-9]{{1,{f.decimals}}})?" if f.decimals else "")
                )
                ex.append(
                    _exp(
                        "expect_column_values_to_match_regex",
                        zh=f"{f.caption} 是数值",
                        en=f"{f.caption} is a number",
                        column=f.name,
                        regex=rf"^-?[0-9]+{dec}$",
                    )
                )
            elif f.type == "date" and f.format:
                ex.append(
                    _exp(
                        "expect_column_values_to_match_strftime_format",
                        zh=f"{f.caption} 日期格式 {f.format}",
                        en=f"{f.caption} is a date written {f.format}",
                        column=f.name,
                        strftime_format=f.format,
                    )
                )
        if s.explode:
            ex.append(
                _exp(
                    "expect_compound_columns_to_be_unique",
                    zh="键与展开字段组合唯一",
                    en="key and exploded field are unique together",
                    column_list=[profile.key_field, s.explode],
                )
            )
        elif s.id == profile.main.id:
            ex.append(
                _exp(
                    "expect_column_values_to_be_unique",
                    zh=f"{profile.key_field} 唯一",
                    en=f"{profile.key_field} is unique",
                    column=profile.key_field,
                )
            )
        suites.append(
            _suite(
                f"load_ready_{profile.name}_{s.id}",
                f"load_{profile.name}_{s.id}",
                "export",
                ["master_id", "_file", "_row"],
                ex,
                f"generated from target profile {profile.name}",
            )
        )
    return suites


# --------------------------------------------------------------------------------------------
# running suites


@dataclass
class SuiteCheck:
    """One suite to run on one dataset."""

    suite: dict[str, Any]
    data: pd.DataFrame
    dataset: str
    stage: str
    keys: list[str]


@dataclass
class ValidationOutcome:
    """What :func:`run_suites` found: one row per expectation, and the failed rows with keys."""

    results: pd.DataFrame
    failures: pd.DataFrame
    docs_index: Path | None = None
    pages: dict[str, str] = field(default_factory=dict)  # suite → page path relative to the docs dir

    @property
    def success(self) -> bool:
        errors = self.results[self.results["severity"] == "error"]
        return bool(errors["success"].all()) if len(errors) else True

    def metrics(self) -> dict[str, Any]:
        """Figures the ``validate`` stage records."""
        r = self.results
        return {
            "suites": int(r["suite"].nunique()) if len(r) else 0,
            "expectations": len(r),
            "failed_expectations": int((~r["success"].astype(bool)).sum()) if len(r) else 0,
            "failed_errors": int(((~r["success"].astype(bool)) & (r["severity"] == "error")).sum())
            if len(r)
            else 0,
            "failure_rows": len(self.failures),
            "failure_rows_by_stage": {
                str(k): int(v) for k, v in self.failures["stage"].value_counts().sort_index().items()
            },
            "datadocs": str(self.docs_index) if self.docs_index else None,
        }

    def failed(self) -> pd.DataFrame:
        """The expectations that failed, errors first."""
        r = self.results[~self.results["success"].astype(bool)]
        return r.sort_values(["severity", "suite", "expectation", "column"], kind="mergesort").reset_index(
            drop=True
        )


def _describe(meta: dict, language: str) -> str:
    return str(meta.get(f"description_{language}") or meta.get("description_en") or "")


def run_suites(
    checks: list[SuiteCheck],
    docs_dir: Path | None,
    *,
    run_name: str,
    language: str = "zh",
    failures_limit: int = 100_000,
    field_kinds: dict[str, Any] | None = None,
    masking=None,
) -> ValidationOutcome:
    """Run each suite as a checkpoint on its data; build offline Data Docs into `docs_dir`.

    Failed values of personal-data columns (phones, e-mails, IDs by `field_kinds` and the
    `masking` settings) are masked in the Data Docs pages, which business reads; the failures
    table keeps them whole for the fix worklist.

    Args:
        checks: the suites and their data.
        docs_dir: Data Docs folder (``ctx.paths.datadocs``); ``None`` builds no docs.
        run_name: names the validation runs (the run id).
        language: language of the descriptions and the docs index.
        failures_limit: at most this many failed rows per expectation are returned.
    """
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    context = _new_context(docs_dir)
    source = context.data_sources.add_pandas("workbench")
    result_rows: list[dict] = []
    failure_parts: list[pd.DataFrame] = []
    pages: dict[str, str] = {}
    for check in checks:
        suite = context.suites.add(load_suite(check.suite, origin=check.suite.get("name")))
        missing_keys = [k for k in check.keys if k not in check.data.columns]
        if missing_keys:
            raise ValidationError(
                f"suite {suite.name}: key column(s) {missing_keys} are not in dataset {check.dataset}"
            )
        asset = source.add_dataframe_asset(check.dataset)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        vd = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"vd_{suite.name}", data=batch, suite=suite)
        )
        actions = []
        if docs_dir is not None:
            actions.append(gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=["run"]))
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"cp_{suite.name}",
                validation_definitions=[vd],
                actions=actions,
                result_format={"result_format": "COMPLETE", "unexpected_index_column_names": check.keys},
            )
        )
        data = check.data.reset_index(drop=True)
        result = checkpoint.run(batch_parameters={"dataframe": data}, run_id=RunIdentifier(run_name=run_name))
        for vr in result.run_results.values():
            for r in vr.results:
                cfg = r.expectation_config
                meta = cfg.meta or {}
                kwargs = cfg.kwargs
                column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
                info = r.exception_info or {}
                raised = info.get("raised_exception") if isinstance(info, dict) else False
                error = " ".join(str(info.get("exception_message") or "").split())[:300] if raised else None
                res = r.result or {}
                index_list = res.get("unexpected_index_list") or []
                kept = index_list[:failures_limit]
                severity = meta.get("severity", "error")
                description = _describe(meta, language)
                result_rows.append(
                    {
                        "suite": suite.name,
                        "stage": check.stage,
                        "dataset": check.dataset,
                        "expectation": cfg.type,
                        "column": column,
                        "severity": severity,
                        "success": bool(r.success),
                        "element_count": res.get("element_count"),
                        "unexpected_count": res.get("unexpected_count"),
                        "unexpected_percent": res.get("unexpected_percent"),
                        "failures_kept": len(kept),
                        "error": error,
                        "description": description,
                    }
                )
                if kept and isinstance(kept[0], dict):
                    frame = pd.DataFrame(kept)
                    value_cols = [c for c in frame.columns if c not in check.keys]
                    if column and column in frame.columns and column not in value_cols:
                        value_cols = [column]
                    values = frame[value_cols].astype("string").fillna("") if value_cols else None
                    failure_parts.append(
                        pd.DataFrame(
                            {
                                "suite": suite.name,
                                "stage": check.stage,
                                "dataset": check.dataset,
                                "expectation": cfg.type,
                                "column": column,
                                "severity": severity,
                                "_keys": frame[check.keys].to_dict("records"),
                                "value": (
                                    values.iloc[:, 0]
                                    if values is not None and values.shape[1] == 1
                                    else (values.agg("; ".join, axis=1) if values is not None else None)
                                ),
                                "description": description,
                            }
                        )
                    )
                elif raised:
                    log.warning("suite %s: %s on %s raised: %s", suite.name, cfg.type, column, error)
    results = pd.DataFrame(result_rows, columns=RESULT_COLUMNS)
    failures = _failure_keys(failure_parts)
    index = None
    if docs_dir is not None and docs_dir.exists():
        pages = _find_pages(docs_dir)
        replacements = _docs_masks(failures, field_kinds or {}, masking) if field_kinds else {}
        index = make_docs_offline(docs_dir, results, pages, language=language, replacements=replacements)
    return ValidationOutcome(results, failures, index, pages)


def _failure_keys(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Spread the key dicts of failed rows into the business key columns."""
    if not parts:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    keys = pd.DataFrame(df.pop("_keys").tolist())

    def pick(*names: str) -> pd.Series:
        out = pd.Series([None] * len(keys), dtype="object")
        for n in names:
            if n in keys.columns:
                out = out.where(out.notna(), keys[n].astype("object"))
        return out

    row = pd.to_numeric(pick("_row_number"), errors="coerce").astype("Int64").astype("string")
    df["source"] = pick("_source")
    df["record_key"] = pick("record_key")
    has_row = df["record_key"].isna() & df["source"].notna() & row.notna()
    df.loc[has_row, "record_key"] = df.loc[has_row, "source"].astype(str) + ":" + row[has_row].astype(str)
    df["source_id"] = pick("source_id")
    id_cols = [
        c
        for c in keys.columns
        if c not in {"_source", "_row_number", "record_key", "source_id", "master_id", "_file", "_row"}
    ]
    for c in id_cols:  # a staged source's own ID column
        df["source_id"] = df["source_id"].where(df["source_id"].notna(), keys[c].astype("object"))
    df["master_id"] = pick("master_id")
    df["file"] = pick("_file")
    df["row_in_file"] = pick("_row")
    for c in ("source", "source_id", "record_key", "master_id", "file", "value"):
        df[c] = df[c].where(df[c].notna(), None).astype("object")
    df["row_in_file"] = pd.to_numeric(df["row_in_file"], errors="coerce").astype("Int64")
    return df[FAILURE_COLUMNS]


def _docs_masks(failures: pd.DataFrame, field_kinds: dict[str, Any], masking) -> dict[str, str]:
    """Failed values of personal-data columns → their masked text (values of 5+ characters only, so
    a short value is never replaced elsewhere in a page)."""
    from workbench.core.masking import columns_to_mask, mask_series

    if failures.empty or masking is None or not masking.enabled:
        return {}
    plan = columns_to_mask(sorted(failures["column"].dropna().unique()), field_kinds, masking)
    out: dict[str, str] = {}
    for col, kind in plan.items():
        values = failures.loc[failures["column"] == col, "value"].dropna().astype(str).drop_duplicates()
        values = values[values.str.len() >= 5]
        masked = mask_series(values.astype("object"), kind, masking)
        out.update({v: m for v, m in zip(values, masked, strict=True) if v != m})
    return out


def _find_pages(docs_dir: Path) -> dict[str, str]:
    """suite name → the newest validation page of that suite (relative path)."""
    pages = {}
    root = docs_dir / "validations"
    if root.exists():
        for suite_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            found = sorted(suite_dir.rglob("*.html"))
            if found:
                pages[suite_dir.name] = found[-1].relative_to(docs_dir).as_posix()
    return pages


# --------------------------------------------------------------------------------------------
# Data Docs: offline rewrite and index

_JQUERY_MARKERS = ("$(", "$.", "jQuery", "bootstrapTable", "vegaEmbed", ".modal(")
_VANILLA_JS = """
function _wbToggle(show) {
  var sel = '.hide-succeeded-validation-target-child, .hide-succeeded-validation-target';
  document.querySelectorAll(sel).forEach(function (el) {
    var target = el.classList.contains('hide-succeeded-validation-target') ? el : el.parentElement;
    if (target) { target.style.display = show ? '' : 'none'; }
  });
  document.querySelectorAll('.hide-succeeded-validations-column-section-target-child').forEach(function (el) {
    var sec = el.parentElement && el.parentElement.parentElement;
    if (!sec) { return; }
    sec.style.display = show ? '' : 'none';
    if (sec.id) {
      document.querySelectorAll('a[href$="' + sec.id + '"]').forEach(function (a) {
        a.style.display = show ? '' : 'none';
      });
    }
  });
}
function showAllValidations() { _wbToggle(true); }
function hideSucceededValidations() { _wbToggle(false); }
"""
_OFFLINE_CSS = """
body { font-family: -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
  "Source Han Sans SC", Roboto, Arial, sans-serif; margin: 0 16px; color: #1f2933; }
table { border-collapse: collapse; margin: 6px 0; }
td, th { border: 1px solid #d9e2ec; padding: 3px 8px; vertical-align: top; }
.modal, .ge-walkthrough-modal, #ge-cta-footer, .invisible, .d-none, footer { display: none !important; }
.fa-check-circle::before { content: "\\2714"; color: #1e8449; font-style: normal; }
.fa-times::before { content: "\\2718"; color: #c0392b; font-style: normal; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 8px 12px; margin: 10px 0; }
.text-danger { color: #c0392b; } .text-success { color: #1e8449; }
.wb-offline-note { background: #fff8e1; border: 1px solid #f0d58c; padding: 6px 10px; margin: 8px 0; }
"""


def _static_prefix(page: Path, docs_dir: Path) -> str:
    depth = len(page.relative_to(docs_dir).parts) - 1
    return "../" * depth + "static/"


def rewrite_page_offline(text: str, static_prefix: str) -> tuple[str, list[str]]:
    """Rewrite one GX page so it loads nothing from the network.

    Removes external ``<link>``/``<script src>`` tags and the inline scripts that need the removed
    libraries (jQuery, Bootstrap, bootstrap-table, Vega), points the remote logo at the local copy,
    replaces the show/hide buttons' functions with plain JavaScript and adds a small local style.
    Relative links into ``static/`` are recomputed from `static_prefix` (GX gets their depth wrong
    for validation pages of a named run).

    Returns:
        The new page and the list of removed external references.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    removed: list[str] = []
    logo_href = static_prefix + "images/logo-long.png"
    for attr in ("href", "src"):
        for tag in soup.find_all(attrs={attr: re.compile(r"^(\.\./)*static/")}):
            tag[attr] = static_prefix + tag[attr].split("static/", 1)[1]
    for tag in soup.find_all("link"):
        href = tag.get("href") or ""
        if re.match(r"^(https?:)?//", href):
            removed.append(href)
            tag.decompose()
    for tag in soup.find_all("script"):
        src = tag.get("src") or ""
        body = tag.string or ""
        if re.match(r"^(https?:)?//", src):
            removed.append(src)
            tag.decompose()
        elif not src and any(m in body for m in _JQUERY_MARKERS):
            tag.decompose()
    for tag in soup.find_all(["img", "source"]):
        src = tag.get("src") or ""
        if re.match(r"^(https?:)?//", src):
            removed.append(src)
            tag["src"] = logo_href
    for tag in soup.find_all("a", href=re.compile(r"^(https?:)?//")):
        removed.append(tag["href"])  # links out (GX docs, newsletter): keep the text, drop the link
        tag.unwrap()
    for tag in soup.find_all("style"):
        if tag.string and re.search(r"url\(\s*['\"]?(https?:)?//", tag.string):
            removed.append("style url()")
            tag.string = re.sub(r"url\(\s*['\"]?(https?:)?//[^)]*\)", "none", tag.string)
    for tag in soup.find_all(style=True):
        if re.search(r"url\(\s*['\"]?(https?:)?//", tag["style"]):
            removed.append(tag["style"])
            tag["style"] = re.sub(r"url\([^)]*\)", "none", tag["style"])
    head = soup.head or soup
    style = soup.new_tag("style")
    style.string = _OFFLINE_CSS
    head.append(style)
    if soup.find(attrs={"onclick": re.compile(r"showAllValidations|hideSucceededValidations")}):
        script = soup.new_tag("script")
        script.string = _VANILLA_JS
        (soup.body or soup).append(script)
    meta = soup.find("meta", attrs={"charset": True})
    if meta is None and soup.head is not None:
        soup.head.insert(0, soup.new_tag("meta", charset="utf-8"))
    return str(soup), removed


def make_docs_offline(
    docs_dir: Path,
    results: pd.DataFrame,
    pages: dict[str, str],
    *,
    language: str = "zh",
    replacements: dict[str, str] | None = None,
) -> Path:
    """Rewrite every Data Docs page for offline use and write the site's index page.

    GX's own index builds its tables with bootstrap-table from a CDN, so it is replaced by a static
    index listing each validation (dataset, result, counts, link) and each suite's page.

    Returns:
        The index page path.
    """
    removed_total = 0
    for page in sorted(docs_dir.rglob("*.html")):
        if page == docs_dir / "index.html":
            continue
        text, removed = rewrite_page_offline(page.read_text(encoding="utf-8"), _static_prefix(page, docs_dir))
        for value, masked in sorted((replacements or {}).items(), key=lambda kv: -len(kv[0])):
            text = text.replace(html.escape(value, quote=False), html.escape(masked, quote=False))
        removed_total += len(removed)
        write_text_atomic(page, text)
    for css in sorted((docs_dir / "static").rglob("*.css")) if (docs_dir / "static").exists() else []:
        text = css.read_text(encoding="utf-8")
        new = re.sub(r"url\(\s*['\"]?https?://[^)]*\)", "none", text)
        new = re.sub(r"@import\s+url\(\s*['\"]?https?://[^)]*\)\s*;?", "", new)
        if new != text:
            write_text_atomic(css, new)
    log.info("Data Docs: removed %s external references", removed_total)
    index = docs_dir / "index.html"
    write_text_atomic(index, render_docs_index(results, pages, docs_dir, language=language))
    return index


def render_docs_index(
    results: pd.DataFrame, pages: dict[str, str], docs_dir: Path, *, language: str = "zh"
) -> str:
    """The offline index page of the Data Docs site (static HTML, no script)."""
    t = LABELS[language]
    esc = html.escape
    rows = []
    if len(results):
        grouped = results.groupby(["suite", "dataset", "stage"], sort=False)
        for (suite, dataset, stage), g in grouped:
            errors = g[g["severity"] == "error"]
            ok = bool(errors["success"].all()) if len(errors) else True
            failed_rows = int(pd.to_numeric(g["unexpected_count"], errors="coerce").fillna(0).sum())
            status = "fail" if not ok else ("warn" if not g["success"].astype(bool).all() else "ok")
            link = pages.get(suite)
            cell = f'<a href="{esc(link)}">{t["open"]}</a>' if link else ""
            rows.append(
                f"<tr><td>{esc(str(suite))}</td><td>{esc(str(dataset))}</td><td>{esc(str(stage))}</td>"
                f'<td class="{status}">{t[status]}</td>'
                f"<td>{len(g)}</td><td>{int(g['success'].sum())}</td><td>{failed_rows:,}</td><td>{cell}</td></tr>"
            )
    suites = (
        sorted(p.stem for p in (docs_dir / "expectations").glob("*.html"))
        if (docs_dir / "expectations").exists()
        else []
    )
    suite_items = "".join(f'<li><a href="expectations/{esc(s)}.html">{esc(s)}</a></li>' for s in suites)
    lang = "zh-CN" if language == "zh" else "en"
    head = (
        f"<th>{t['suite']}</th><th>{t['dataset']}</th><th>{t['stage']}</th><th>{t['status']}</th>"
        f"<th>{t['evaluated']}</th><th>{t['passed']}</th><th>{t['failed_rows']}</th><th>{t['page']}</th>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(t['title'])}</title>\n<style>{_OFFLINE_CSS}\n"
        "td.ok { color: #1e8449; font-weight: 600; } td.fail { color: #c0392b; font-weight: 600; }\n"
        "td.warn { color: #b9770e; font-weight: 600; }\n"
        "</style>\n</head>\n<body>\n"
        f'<h1><img src="static/images/logo-long.png" alt="" style="height:32px;vertical-align:middle"> '
        f'{esc(t["title"])}</h1>\n<p class="wb-offline-note">{esc(t["intro"])}</p>\n'
        f"<h2>{esc(t['results'])}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table>\n<h2>{esc(t['suites'])}</h2>\n<ul>{suite_items}</ul>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------------------------
# the stage: what to validate in a run


def suite_for(name: str, config, builder) -> dict[str, Any] | None:
    """The project's suite file ``<expectations dir>/<name>.json``, or a generated one.

    Returns None when the file is missing and ``report.generate_missing_suites`` is off.
    """
    from workbench.project.paths import ProjectPaths

    folder = ProjectPaths(config).suites_dir
    path = folder / f"{name}.json" if folder else None
    if path is not None and path.is_file():
        raw = read_suite_file(path)
        load_suite(raw, origin=str(path))  # survival check with the file name in messages
        return raw
    if not config.report.generate_missing_suites:
        log.warning("no suite file %s and generate_missing_suites is off: %s is not validated", path, name)
        return None
    log.info("no suite file %s: using a suite generated from the config", path)
    return builder()


def load_ready_frames(con, config, run_root: Path, profile) -> dict[str, pd.DataFrame]:
    """Rows of every load file of `profile`, read back from disk, per structure, with master IDs.

    Each frame has the profile's fields, ``_row`` (row a person sees), ``_file`` (relative to the run
    folder) and ``master_id`` (from ``load_rows``).
    """
    from workbench.core.export.load_files import read_load_file

    if not table_exists(con, "load_rows"):
        return {}
    rows = con.execute(
        "SELECT file, row_in_file, master_id, row_key FROM load_rows WHERE profile = ? "
        "ORDER BY file, row_in_file",
        [profile.name],
    ).df()
    parts: dict[str, list[pd.DataFrame]] = {s.id: [] for s in profile.structures}
    for file, lr in rows.groupby("file", sort=True):
        frames = read_load_file(run_root / file, profile)
        by_row = dict(zip(lr["row_in_file"].astype(int), lr["master_id"], strict=True))
        by_key = dict(zip(lr["row_key"].astype(str), lr["master_id"], strict=False))
        for sid, frame in frames.items():
            frame = frame.copy()
            if sid == profile.main.id:
                frame["master_id"] = frame["_row"].map(by_row)
            else:
                frame["master_id"] = frame[profile.key_field].astype(str).map(by_key)
            frame["_file"] = file
            parts[sid].append(frame)
    return {sid: pd.concat(p, ignore_index=True) for sid, p in parts.items() if p}


def validate_run(
    ctx, con=None, *, stages: tuple[str, ...] = ("ingest", "standardize", "export")
) -> ValidationOutcome:
    """Run every suite of a run at its stage and write the results (stage ``validate``).

    Sources (``stg_<name>``) use ``source_<name>.json``; ``std_customers`` uses
    ``standardized_customers.json``; each exported profile gets load-ready suites generated from the
    profile (saved to ``<run>/expectations/``) and run on the load files read back from disk.
    Writes ``validation_results`` and ``validation_failures`` (also ``tables/validation_failures.csv``)
    and the Data Docs into ``<run>/datadocs``.
    """
    config = ctx.config
    own = con is None
    con = con or ctx.connect()
    try:
        checks = collect_checks(con, config, ctx.paths.root, stages=stages)
        docs = ctx.paths.datadocs
        if docs.exists():
            import shutil

            shutil.rmtree(docs)  # Data Docs of an earlier validation of this run
        docs.mkdir(parents=True, exist_ok=True)
        outcome = run_suites(
            checks,
            docs,
            run_name=ctx.run_id,
            language=config.report.language or config.project.language,
            failures_limit=config.report.failures_limit,
            field_kinds={f: k.value for f, k in config.field_kinds().items()},
            masking=config.report.masking,
        )
        store_outcome(con, outcome)
        from workbench.engine.files import atomic_path

        with atomic_path(ctx.paths.tables / "validation_failures.csv") as tmp:
            outcome.failures.to_csv(tmp, index=False, encoding="utf-8-sig")
    finally:
        if own:
            con.close()
    return outcome


def collect_checks(con, config, run_root: Path, *, stages: tuple[str, ...]) -> list[SuiteCheck]:
    """The suites of a run and their data, for the stages that have written their tables."""
    checks: list[SuiteCheck] = []
    if "ingest" in stages:
        for s in config.sources:
            table = staged(s.name)
            if not table_exists(con, table):
                continue
            suite = suite_for(f"source_{s.name}", config, lambda s=s: build_source_suite(s, config))
            if suite is None:
                continue
            keys = [k for k in ["_source", "_row_number", s.id_field] if k in table_columns(con, table)]
            data = con.sql(f"SELECT * FROM {table} ORDER BY _row_number").df()
            checks.append(SuiteCheck(suite, data, table, "ingest", keys))
    if "standardize" in stages and table_exists(con, "std_customers"):
        suite = suite_for(STANDARDIZED_SUITE, config, lambda: build_standardized_suite(config))
        if suite is not None:
            data = con.sql("SELECT * FROM std_customers ORDER BY record_key").df()
            checks.append(
                SuiteCheck(
                    suite, data, "std_customers", "standardize", ["record_key", "_source", "source_id"]
                )
            )
    if "export" in stages and table_exists(con, "load_rows"):
        from workbench.core.targets.profiles import load_project_profiles

        profiles = load_project_profiles(config)
        exported = {r[0] for r in con.sql("SELECT DISTINCT profile FROM load_rows").fetchall()}
        for name, profile in profiles.items():
            if name not in exported:
                continue
            frames = load_ready_frames(con, config, run_root, profile)
            for suite in build_load_ready_suites(profile):
                sid = suite["meta"][META_KEY]["dataset"].removeprefix(f"load_{profile.name}_")
                save_suite(suite, run_root / "expectations" / f"{suite['name']}.json")
                if sid in frames:
                    checks.append(
                        SuiteCheck(
                            suite,
                            frames[sid],
                            suite["meta"][META_KEY]["dataset"],
                            "export",
                            ["master_id", "_file", "_row"],
                        )
                    )
    return checks


def store_outcome(con, outcome: ValidationOutcome) -> None:
    """Write ``validation_results`` and ``validation_failures`` (master IDs filled from the crosswalk)."""
    con.register("__wb_results", outcome.results)
    con.register("__wb_failures", outcome.failures)
    cw = "LEFT JOIN crosswalk c ON c.record_key = f.record_key" if table_exists(con, "crosswalk") else ""
    master = "coalesce(f.master_id, c.master_id)" if cw else "f.master_id"
    cols = ", ".join(
        f"f.{ident(c)}" if c != "master_id" else f"{master} AS master_id" for c in FAILURE_COLUMNS
    )
    try:
        con.execute("CREATE OR REPLACE TABLE validation_results AS SELECT * FROM __wb_results")
        con.execute(
            f"CREATE OR REPLACE TABLE validation_failures AS SELECT {cols} FROM __wb_failures f {cw} "
            "ORDER BY f.suite, f.expectation, f.column, f.record_key, f.file, f.row_in_file"
        )
    finally:
        con.unregister("__wb_results")
        con.unregister("__wb_failures")
    filled = con.sql("SELECT * FROM validation_failures").df()
    outcome.failures = filled
