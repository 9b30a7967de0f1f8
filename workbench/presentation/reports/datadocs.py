"""Data Docs for business: the validation in words, in the project's language, masked, offline.

This module owns what business reads of the technical validation, in ``<run>/datadocs/``:

- ``index.html``: every suite with its dataset, its result and its counts, and a link to its page;
- ``suites/<suite>.html``: one page per suite: the result in a sentence, then each rule described in
  words with its result and counts; the technical detail (the GX expectation, its arguments, which
  engine counted it and how many sampled rows Great Expectations checked) and the listed failed
  rows (personal data masked) are folded away until clicked.

A suite's result has one definition (:func:`suite_status`), used by the index, the suite pages and
the run summary: *failed* when a rule of severity ``error`` failed, *passed with warnings* when
only warnings failed, *passed* otherwise. Pages are built with
:class:`~workbench.presentation.reports.html.HtmlReport` (styles inlined, no script, nothing loaded
from the network).

GX's own site of the run (its rendering of the sampled validations, English, technical) is for
analysts: :func:`make_docs_offline` rewrites it so it opens offline (GX's pages load scripts and
styles from public CDNs and a logo from GX's servers, with no setting to stop it), masks failed
personal-data values and writes a static index; it is not linked from the business pages.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.core.masking import mask_series, mask_values_by, target_field_kinds
from workbench.engine.files import write_text_atomic
from workbench.presentation.labels import field_label_map, humanize
from workbench.presentation.reports.html import HtmlReport, KeyFigures, RawHtml, Text

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

    from workbench.core.validation.results import ValidationOutcome
    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

INDEX_PAGE = "index.html"  # the business index of <run>/datadocs
SUITES_FOLDER = "suites"  # one business page per suite
FAILED_ROWS_SHOWN = 50  # failed rows listed per rule on a suite page

STATUSES = ("ok", "warn", "fail")
LABELS: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "数据校验报告",
        "subtitle": "项目：{project} · 运行：{run}",
        "intro": "每个规则集检查一个数据集（来源数据、标准化后的客户记录或导入文件）。"
        "结果为“未通过”表示至少一条“错误”级规则未通过；只有“警告”级规则未通过时为“通过（有警告）”。"
        "每个数字都在整张表上统计；Great Expectations 在每次运行中用抽样行复核每条规则。",
        "results": "校验结果",
        "overview": "概览",
        "suites_n": "规则集",
        "rules_n": "规则",
        "rules_failed": "未通过规则",
        "rows_failed": "不合格行（按规则累计）",
        "suite": "规则集",
        "dataset": "数据集",
        "stage": "阶段",
        "status": "结果",
        "rules": "规则数",
        "passed": "通过",
        "failed_err": "未通过（错误）",
        "failed_warn": "未通过（警告）",
        "failed_rows": "不合格行",
        "page": "详情",
        "open": "查看",
        "ok": "通过",
        "warn": "通过（有警告）",
        "fail": "未通过",
        "rule_ok": "通过",
        "rule_warn": "未通过（警告）",
        "rule_fail": "未通过（错误）",
        "rule": "规则",
        "severity": "级别",
        "error": "错误",
        "warning": "警告",
        "checked": "检查行数",
        "share": "占比",
        "sentence": "检查了 {rows} 行：{rules} 条规则中 {passed} 条通过，{failed} 条未通过（{errors} 条错误级，{warnings} 条警告级）。",
        "sentence_ok": "检查了 {rows} 行：{rules} 条规则全部通过。",
        "could_not_run": "无法运行：{error}",
        "details": "技术细节",
        "failed_list": "不合格行（列出 {shown} 行，共 {total} 行；个人信息已部分遮盖）",
        "expectation": "GX 规则",
        "column": "列",
        "arguments": "参数",
        "engine": "统计方式",
        "engine_duckdb": "DuckDB 按 GX 规则统计全表；GX 复核了 {n} 行抽样，结果一致",
        "engine_python": "逐个不同取值按 GX 的 Python 规则判断，DuckDB 统计全表；GX 复核了 {n} 行抽样，结果一致",
        "engine_gx": "Great Expectations 直接校验全表（{n} 行）",
        "back": "返回校验报告",
        "stages": {"ingest": "来源数据", "standardize": "标准化", "export": "导入文件", "project": "项目规则"},
        "datasets": {"source": "来源 {name}", "std": "标准化客户记录", "load": "导入文件 {profile} · {structure}"},
        "keys": {
            "source": "来源",
            "row": "行号",
            "source_id": "来源编号",
            "master_id": "主数据编号",
            "file": "文件",
            "row_in_file": "文件行",
            "value": "值",
        },
        "none": "（无）",
    },
    "en": {
        "title": "Validation report",
        "subtitle": "Project: {project} · run: {run}",
        "intro": "Each suite checks one dataset (source data, the standardized customer records or a load "
        "file). A suite has failed when at least one rule of severity “error” failed; when only "
        "warnings failed it has passed with warnings. Every figure counts the whole table; Great "
        "Expectations re-checks each rule on sampled rows in every run.",
        "results": "Results",
        "overview": "Overview",
        "suites_n": "Suites",
        "rules_n": "Rules",
        "rules_failed": "Rules failed",
        "rows_failed": "Failed rows (summed over rules)",
        "suite": "Suite",
        "dataset": "Dataset",
        "stage": "Stage",
        "status": "Result",
        "rules": "Rules",
        "passed": "Passed",
        "failed_err": "Failed (error)",
        "failed_warn": "Failed (warning)",
        "failed_rows": "Failed rows",
        "page": "Details",
        "open": "open",
        "ok": "passed",
        "warn": "passed with warnings",
        "fail": "failed",
        "rule_ok": "passed",
        "rule_warn": "failed (warning)",
        "rule_fail": "failed (error)",
        "rule": "Rule",
        "severity": "Severity",
        "error": "error",
        "warning": "warning",
        "checked": "Rows checked",
        "share": "Share",
        "sentence": "{rows} rows checked: of {rules} rules {passed} passed and {failed} failed ({errors} "
        "errors, {warnings} warnings).",
        "sentence_ok": "{rows} rows checked: all {rules} rules passed.",
        "could_not_run": "could not run: {error}",
        "details": "Technical detail",
        "failed_list": "Failed rows ({shown} listed of {total}; personal data partly masked)",
        "expectation": "GX expectation",
        "column": "Column",
        "arguments": "Arguments",
        "engine": "Counted by",
        "engine_duckdb": "DuckDB counted the whole table with the GX rule; GX re-checked {n} sampled rows "
        "and agreed",
        "engine_python": "each distinct value judged with GX's Python rule, counted over the whole table in "
        "DuckDB; GX re-checked {n} sampled rows and agreed",
        "engine_gx": "Great Expectations validated the whole table ({n} rows)",
        "back": "Back to the validation report",
        "stages": {"ingest": "source data", "standardize": "standardized", "export": "load files",
                   "project": "project rules"},
        "datasets": {"source": "source {name}", "std": "standardized customer records",
                     "load": "load file {profile} · {structure}"},
        "keys": {
            "source": "Source",
            "row": "Row",
            "source_id": "Source ID",
            "master_id": "Master ID",
            "file": "File",
            "row_in_file": "Row in file",
            "value": "Value",
        },
        "none": "(none)",
    },
}
_STATUS_STYLE = (
    "<style>.st-ok{color:#1e8449;font-weight:600}.st-fail{color:#c0392b;font-weight:600}"
    ".st-warn{color:#b9770e;font-weight:600}table.wb-rules td{vertical-align:top}"
    "table.wb-rules details summary{color:#2f6fb0}pre.wb-kwargs{white-space:pre-wrap;font-size:.85em;"
    "background:#f5f7fa;padding:6px;margin:4px 0}</style>"
)


# --------------------------------------------------------------------------------------------
# status: one definition for the index, the pages and the summary


def suite_status(results: pd.DataFrame) -> str:
    """``ok``, ``warn`` (only warnings failed) or ``fail`` (a rule of severity ``error`` failed)."""
    if results.empty:
        return "ok"
    failed = ~results["success"].astype(bool)
    if (failed & (results["severity"] == "error")).any():
        return "fail"
    return "warn" if failed.any() else "ok"


def suite_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per suite: dataset, stage, status, rules, passed, failed errors/warnings, failed rows."""
    rows = []
    for (suite, dataset, stage), g in results.groupby(["suite", "dataset", "stage"], sort=False):
        failed = ~g["success"].astype(bool)
        rows.append(
            {
                "suite": suite,
                "dataset": dataset,
                "stage": stage,
                "status": suite_status(g),
                "rules": len(g),
                "passed": int((~failed).sum()),
                "failed_err": int((failed & (g["severity"] == "error")).sum()),
                "failed_warn": int((failed & (g["severity"] != "error")).sum()),
                "failed_rows": int(pd.to_numeric(g["unexpected_count"], errors="coerce").fillna(0).sum()),
                "rows": int(pd.to_numeric(g["element_count"], errors="coerce").max() or 0)
                if g["element_count"].notna().any()
                else 0,
            }
        )
    columns = ["suite", "dataset", "stage", "status", "rules", "passed", "failed_err", "failed_warn",
               "failed_rows", "rows"]
    return pd.DataFrame(rows, columns=columns)


def dataset_label(dataset: str, lab: Mapping[str, Any], source_labels: Mapping[str, str]) -> str:
    """A dataset's name for business: ``stg_erp`` → ``来源 erp（旧ERP 客户档案）``."""
    names = lab["datasets"]
    if dataset.startswith("stg_"):
        name = dataset.removeprefix("stg_")
        text = names["source"].format(name=name)
        label = source_labels.get(name)
        return f"{text}（{label}）" if label and lab is LABELS["zh"] else (f"{text} ({label})" if label else text)
    if dataset == "std_customers":
        return str(names["std"])
    if dataset.startswith("load_"):
        profile, _, structure = dataset.removeprefix("load_").rpartition("_")
        return str(names["load"].format(profile=profile, structure=structure))
    return dataset


def page_name(suite: str) -> str:
    """The file name of a suite's page (``suites/<suite>.html``)."""
    return f"{SUITES_FOLDER}/{re.sub(r'[^A-Za-z0-9_.-]', '_', suite)}.html"


# --------------------------------------------------------------------------------------------
# masking of the listed failed rows


def masked_failures(failures: pd.DataFrame, ctx: RunContext, con: Any = None) -> pd.DataFrame:
    """The failed rows as business may see them: personal values masked (by the failing column's
    kind, a load file's column by its mapping, a person's customer name when the record is B2C)."""
    config = ctx.config
    s = config.report.masking
    if not s.enabled or failures.empty:
        return failures
    kinds: dict[str, Any] = {f: k.value for f, k in config.field_kinds().items()}
    mapping = {p: ctx.project.field_mapping(p) for p in config.export.profiles}
    targets = target_field_kinds(mapping, kinds)
    out = mask_values_by(failures, "column", {**kinds, **targets}, s)
    if "person_name" in s.kinds and s.person_customers and con is not None:
        out = _mask_person_customers(out, kinds, con, s)
    return out


def _mask_person_customers(df: pd.DataFrame, kinds: Mapping[str, Any], con: Any, s: Any) -> pd.DataFrame:
    from workbench.engine.catalog import GOLDEN_CUSTOMERS, STD_CUSTOMERS
    from workbench.engine.connection import table_exists

    names = {f for f, k in kinds.items() if k in ("customer_name", "company_name")}
    rows = df["column"].isin(names) | df["column"].astype(str).str.contains("Name|name|名称", regex=True)
    if not rows.any():
        return df
    persons: set[str] = set()
    for table, key in ((STD_CUSTOMERS, "record_key"), (GOLDEN_CUSTOMERS, "master_id")):
        if table_exists(con, table.name):
            persons |= {str(v) for (v,) in con.execute(
                f"SELECT {key} FROM {table} WHERE customer_type = 'B2C'").fetchall()}
    person = rows & (df["record_key"].astype(str).isin(persons) | df["master_id"].astype(str).isin(persons))
    if person.any():
        df = df.copy()
        df.loc[person, "value"] = mask_series(df.loc[person, "value"].astype("object"), "person_name", s)
    return df


# --------------------------------------------------------------------------------------------
# pages


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return f"{int(value):,}"


def _status_cell(status: str, lab: Mapping[str, Any]) -> str:
    return f'<span class="st-{status}" data-status="{status}">{_esc(lab[status])}</span>'


def _index_html(table: pd.DataFrame, lab: Mapping[str, Any], source_labels: Mapping[str, str]) -> str:
    head = "".join(f"<th>{_esc(lab[k])}</th>" for k in (
        "dataset", "stage", "status", "rules", "passed", "failed_err", "failed_warn", "failed_rows", "page"))
    body = []
    for r in table.itertuples(index=False):
        body.append(
            f'<tr data-suite="{_esc(r.suite)}"><td>{_esc(dataset_label(r.dataset, lab, source_labels))}</td>'
            f"<td>{_esc(lab['stages'].get(r.stage, r.stage))}</td><td>{_status_cell(r.status, lab)}</td>"
            f'<td class="nw">{r.rules:,}</td><td class="nw">{r.passed:,}</td><td class="nw">{r.failed_err:,}</td>'
            f'<td class="nw">{r.failed_warn:,}</td><td class="nw">{r.failed_rows:,}</td>'
            f'<td><a href="{_esc(page_name(str(r.suite)))}">{_esc(lab["open"])}</a></td></tr>'
        )
    return (f'{_STATUS_STYLE}<div class="wb-table-wrap"><table class="wb-table" id="wb-suites"><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def write_index(outcome: ValidationOutcome, ctx: RunContext, folder: Path, language: str | None = None) -> Path:
    """Write ``index.html``: the key figures and one row per suite, linking its page."""
    language = language or outcome.language
    lab = LABELS[language]
    config = ctx.config
    results = outcome.results
    table = suite_table(results)
    failed = ~results["success"].astype(bool) if len(results) else pd.Series(dtype=bool)
    report = HtmlReport(
        lab["title"], language=language,
        subtitle=lab["subtitle"].format(project=config.project.name, run=ctx.run_id),
    )
    report.add_section(
        lab["overview"],
        Text(lab["intro"]),
        KeyFigures([
            (lab["suites_n"], len(table)),
            (lab["rules_n"], len(results)),
            (lab["rules_failed"], int(failed.sum())),
            (lab["rows_failed"], int(table["failed_rows"].sum()) if len(table) else 0),
        ]),
    )
    report.add_section(lab["results"], RawHtml(_index_html(table, lab, _source_labels(ctx))))
    return report.write(folder / INDEX_PAGE)


def _source_labels(ctx: RunContext) -> dict[str, str]:
    return {s.name: s.label for s in ctx.config.sources if s.label}


def _failed_rows_html(rows: pd.DataFrame, total: int, lab: Mapping[str, Any]) -> str:
    keys = lab["keys"]
    shown = rows.head(FAILED_ROWS_SHOWN).copy()
    shown["row"] = shown["record_key"].map(lambda k: k.rsplit(":", 1)[-1] if isinstance(k, str) else None)
    columns = [c for c in ("source", "row", "source_id", "master_id", "file", "row_in_file", "value")
               if c in shown.columns and shown[c].notna().any() and (shown[c].astype(str) != "").any()]
    head = "".join(f"<th>{_esc(keys[c])}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_esc('' if pd.isna(v) else v)}</td>" for v in rec) + "</tr>"
        for rec in shown[columns].itertuples(index=False)
    )
    caption = lab["failed_list"].format(shown=f"{len(shown):,}", total=f"{total:,}")
    return (f"<details><summary>{_esc(caption)}</summary><div class=\"wb-table-wrap\"><table class=\"wb-table\">"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></details>")


def _engine_text(r: Any, lab: Mapping[str, Any]) -> str:
    n = r.gx_checked_rows if r.engine != "gx" else r.element_count
    key = f"engine_{r.engine}" if f"engine_{r.engine}" in lab else "engine_gx"
    return str(lab[key].format(n=_num(n) or "0"))


def _description(r: Any, language: str) -> str:
    """The rule's description in `language` (the validation's own language's text when there is none)."""
    text = getattr(r, f"description_{language}", None)
    return str(text) if isinstance(text, str) and text else str(r.description or r.expectation)


def _rule_row(r: Any, rows: pd.DataFrame, lab: Mapping[str, Any], labels: Mapping[str, str], language: str) -> str:
    status = "ok" if bool(r.success) else ("fail" if r.severity == "error" else "warn")
    mark = {"ok": "✔", "warn": "⚠", "fail": "✘"}[status]
    try:
        kwargs = json.dumps(json.loads(r.kwargs or "{}"), ensure_ascii=False, indent=1)
    except ValueError:
        kwargs = str(r.kwargs)
    detail = (
        f"<details><summary>{_esc(lab['details'])}</summary><dl>"
        f"<dt>{_esc(lab['expectation'])}</dt><dd><code>{_esc(r.expectation)}</code></dd>"
        f"<dt>{_esc(lab['column'])}</dt><dd><code>{_esc(r.column)}</code></dd>"
        f"<dt>{_esc(lab['arguments'])}</dt><dd><pre class=\"wb-kwargs\">{_esc(kwargs)}</pre></dd>"
        f"<dt>{_esc(lab['engine'])}</dt><dd>{_esc(_engine_text(r, lab))}</dd></dl></details>"
    )
    unexpected = pd.to_numeric(pd.Series([r.unexpected_count]), errors="coerce").iloc[0]
    failed_rows = ""
    if not bool(r.success) and len(rows):
        failed_rows = _failed_rows_html(rows, int(unexpected) if unexpected == unexpected else len(rows), lab)
    description = humanize(_description(r, language), labels, identifiers_only=language != "zh")
    if r.error:
        description += " — " + lab["could_not_run"].format(error=r.error)
    share = "" if r.unexpected_percent is None or r.unexpected_percent != r.unexpected_percent else (
        f"{float(r.unexpected_percent):.1f}%")
    return (
        f'<tr data-status="{status}"><td class="st-{status} nw">{mark} {_esc(lab["rule_" + status])}</td>'
        f"<td>{_esc(description)}{failed_rows}{detail}</td><td>{_esc(lab.get(r.severity, r.severity))}</td>"
        f'<td class="nw">{_num(r.element_count)}</td><td class="nw">{_num(unexpected)}</td>'
        f'<td class="nw">{_esc(share)}</td></tr>'
    )


def write_suite_page(
    suite: str, results: pd.DataFrame, failures: pd.DataFrame, ctx: RunContext, language: str, folder: Path
) -> Path:
    """Write one suite's page: its result in a sentence and every rule in words (see the module)."""
    lab = LABELS[language]
    config = ctx.config
    first = results.iloc[0]
    status = suite_status(results)
    failed = ~results["success"].astype(bool)
    rows_checked = int(pd.to_numeric(results["element_count"], errors="coerce").max() or 0)
    if failed.any():
        sentence = lab["sentence"].format(
            rows=f"{rows_checked:,}", rules=len(results), passed=int((~failed).sum()), failed=int(failed.sum()),
            errors=int((failed & (results["severity"] == "error")).sum()),
            warnings=int((failed & (results["severity"] != "error")).sum()),
        )
    else:
        sentence = lab["sentence_ok"].format(rows=f"{rows_checked:,}", rules=len(results))
    title = dataset_label(str(first["dataset"]), lab, _source_labels(ctx))
    report = HtmlReport(f"{lab['title']} — {title}", language=language,
                        subtitle=lab["subtitle"].format(project=config.project.name, run=ctx.run_id), toc=False)
    head = "".join(f"<th>{_esc(lab[k])}</th>" for k in ("status", "rule", "severity", "checked", "failed_rows",
                                                        "share"))
    labels = field_label_map(ctx.config)
    body = []
    for r in results.sort_values("expectation_index", kind="mergesort").itertuples(index=False):
        mine = failures[failures["expectation_index"] == r.expectation_index] if len(failures) else failures
        body.append(_rule_row(r, mine, lab, labels, language))
    report.add_section(
        lab["results"],
        RawHtml(f'{_STATUS_STYLE}<p id="wb-suite-status" data-status="{status}">{_esc(lab["status"])}: '
                f"{_status_cell(status, lab)} · {_esc(lab['stage'])}: "
                f"{_esc(lab['stages'].get(str(first['stage']), first['stage']))}</p>"),
        Text(sentence),
        RawHtml(f'<div class="wb-table-wrap"><table class="wb-table wb-rules"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table></div>"
                f'<p><a href="../{INDEX_PAGE}">{_esc(lab["back"])}</a></p>'),
    )
    return report.write(folder / page_name(suite))


def publish_data_docs(
    outcome: ValidationOutcome,
    ctx: RunContext,
    con: Any = None,
    *,
    language: str | None = None,
    folder: Path | None = None,
) -> Path:
    """Write the business Data Docs of a validation (index and suite pages) and make GX's own site
    (analysts') open offline, masked.

    Args:
        outcome: what :func:`workbench.core.validation.validate_run` returned.
        ctx: the run (its labels, masking and folders).
        con: the run database, to mask the customer names of persons (optional).
        language: ``zh`` or ``en``; default the validation's language.
        folder: where to write the pages; default ``<run>/datadocs`` (another folder holds a copy in
            another language; GX's site is then left alone).

    Returns:
        The index page (also set as ``outcome.docs_index`` when written to the run's folder).
    """
    own = folder is None
    folder = ctx.paths.datadocs if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted((folder / SUITES_FOLDER).glob("*.html")) if (folder / SUITES_FOLDER).exists() else []:
        old.unlink()  # pages of an earlier validation of this run
    lang = language or outcome.language
    failures = masked_failures(outcome.failures, ctx, con)
    results = outcome.results
    for suite, part in results.groupby("suite", sort=False):
        write_suite_page(str(suite), part, failures[failures["suite"] == suite] if len(failures) else failures,
                         ctx, lang, folder)
    index = write_index(outcome, ctx, folder, lang)
    if not own:
        return index
    outcome.docs_index = index
    if outcome.docs_dir is not None and outcome.docs_dir.exists():
        make_docs_offline(outcome.docs_dir, results, outcome.pages, language=outcome.language,
                          replacements=outcome.docs_replacements)
    return index


# --------------------------------------------------------------------------------------------
# GX's own site (analysts): offline and masked

GX_LABELS = {
    "zh": {"title": "Great Expectations 原始页面（分析人员用，基于抽样行）", "suite": "规则集", "page": "页面"},
    "en": {"title": "Great Expectations pages (for analysts, of the sampled rows)", "suite": "Suite", "page": "Page"},
}
LOGO = "images/logo-long.png"  # in the site's static/ folder
_REMOTE = re.compile(r"^(https?:)?//")
_STATIC_LINK = re.compile(r"^(\.\./)*static/")
_REMOTE_URL_IN_STYLE = re.compile(r"url\(\s*['\"]?(https?:)?//")
_TOGGLE_BUTTONS = re.compile(r"showAllValidations|hideSucceededValidations")
_JQUERY_MARKERS = ("$(", "$.", "jQuery", "bootstrapTable", "vegaEmbed", ".modal(")
_VANILLA_JS = """
function _wbToggle(show) {
  var sel = '.hide-succeeded-validation-target-child, .hide-succeeded-validation-target';
  document.querySelectorAll(sel).forEach(function (el) {
    var target = el.classList.contains('hide-succeeded-validation-target') ? el : el.parentElement;
    if (target) { target.style.display = show ? '' : 'none'; }
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
"""


def _static_prefix(page: Path, docs_dir: Path) -> str:
    depth = len(page.relative_to(docs_dir).parts) - 1
    return "../" * depth + "static/"


def _attr(tag: Any, name: str) -> str:
    """A tag's attribute as text ('' when absent)."""
    return str(tag.get(name) or "")


def _fix_static_links(soup: BeautifulSoup, static_prefix: str) -> None:
    """Recompute relative links into ``static/`` (GX gets their depth wrong for named runs)."""
    for attr in ("href", "src"):
        attrs: dict[str, Any] = {attr: _STATIC_LINK}
        for tag in soup.find_all(None, attrs):
            tag[attr] = static_prefix + _attr(tag, attr).split("static/", 1)[1]


def _drop_remote_assets(soup: BeautifulSoup, removed: list[str]) -> None:
    """Remove remote stylesheets and scripts, and the inline scripts that need them."""
    for tag in soup.find_all("link"):
        href = _attr(tag, "href")
        if _REMOTE.match(href):
            removed.append(href)
            tag.decompose()
    for tag in soup.find_all("script"):
        src = _attr(tag, "src")
        body = tag.string or ""
        if _REMOTE.match(src):
            removed.append(src)
            tag.decompose()
        elif not src and any(m in body for m in _JQUERY_MARKERS):
            tag.decompose()


def _localize_images_and_links(soup: BeautifulSoup, logo_href: str, removed: list[str]) -> None:
    """Point remote images at the local logo; keep the text of links out, drop the link."""
    for tag in soup.find_all(["img", "source"]):
        src = _attr(tag, "src")
        if _REMOTE.match(src):
            removed.append(src)
            tag["src"] = logo_href
    for tag in soup.find_all("a", href=_REMOTE):
        removed.append(_attr(tag, "href"))  # links out (GX docs, newsletter)
        tag.unwrap()


def _drop_remote_style_urls(soup: BeautifulSoup, removed: list[str]) -> None:
    """Blank remote ``url()`` references in style elements and style attributes."""
    for tag in soup.find_all("style"):
        if tag.string and _REMOTE_URL_IN_STYLE.search(tag.string):
            removed.append("style url()")
            tag.string = re.sub(r"url\(\s*['\"]?(https?:)?//[^)]*\)", "none", tag.string)
    for tag in soup.find_all(style=True):
        style = _attr(tag, "style")
        if _REMOTE_URL_IN_STYLE.search(style):
            removed.append(style)
            tag["style"] = re.sub(r"url\([^)]*\)", "none", style)


def _add_local_assets(soup: BeautifulSoup) -> None:
    """The local style, the show/hide functions when the page has those buttons, a charset."""
    head = soup.head or soup
    style = soup.new_tag("style")
    style.string = _OFFLINE_CSS
    head.append(style)
    toggles: dict[str, Any] = {"onclick": _TOGGLE_BUTTONS}
    if soup.find(None, toggles):
        script = soup.new_tag("script")
        script.string = _VANILLA_JS
        (soup.body or soup).append(script)
    charset: dict[str, Any] = {"charset": True}
    if soup.find("meta", attrs=charset) is None and soup.head is not None:
        soup.head.insert(0, soup.new_tag("meta", charset="utf-8"))


def rewrite_page_offline(text: str, static_prefix: str) -> tuple[str, list[str]]:
    """Rewrite one GX page so it loads nothing from the network.

    Removes external ``<link>``/``<script src>`` tags and the inline scripts that need the removed
    libraries (jQuery, Bootstrap, bootstrap-table, Vega), points the remote logo at the local copy,
    replaces the show/hide buttons' functions with plain JavaScript and adds a small local style.

    Returns:
        The new page and the list of removed external references.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    removed: list[str] = []
    _fix_static_links(soup, static_prefix)
    _drop_remote_assets(soup, removed)
    _localize_images_and_links(soup, static_prefix + LOGO, removed)
    _drop_remote_style_urls(soup, removed)
    _add_local_assets(soup)
    return str(soup), removed


def mask_page(text: str, replacements: dict[str, str]) -> str:
    """`text` with each value replaced by its masked text (longest values first)."""
    for value, masked in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(html.escape(value, quote=False), html.escape(masked, quote=False))
    return text


def _clean_static_css(docs_dir: Path) -> None:
    """Blank remote ``url()`` references and ``@import`` lines in the site's bundled CSS."""
    static = docs_dir / "static"
    for css in sorted(static.rglob("*.css")) if static.exists() else []:
        text = css.read_text(encoding="utf-8")
        new = re.sub(r"url\(\s*['\"]?https?://[^)]*\)", "none", text)
        new = re.sub(r"@import\s+url\(\s*['\"]?https?://[^)]*\)\s*;?", "", new)
        if new != text:
            write_text_atomic(css, new)


def make_docs_offline(
    docs_dir: Path,
    results: pd.DataFrame,
    pages: dict[str, str],
    *,
    language: str = "zh",
    replacements: dict[str, str] | None = None,
) -> Path:
    """Rewrite every page of GX's own site for offline use, mask it, and write its static index.

    GX's own index builds its tables with bootstrap-table from a CDN, so it is replaced by a list of
    the suites' pages.

    Returns:
        The index page of GX's site.
    """
    removed_total = 0
    index = docs_dir / INDEX_PAGE
    for page in sorted(docs_dir.rglob("*.html")):
        if page == index:
            continue
        text, removed = rewrite_page_offline(page.read_text(encoding="utf-8"), _static_prefix(page, docs_dir))
        removed_total += len(removed)
        write_text_atomic(page, mask_page(text, replacements or {}))
    _clean_static_css(docs_dir)
    log.info("GX Data Docs: removed %s external references", removed_total)
    t = GX_LABELS.get(language, GX_LABELS["en"])
    items = "".join(
        f'<li>{_esc(suite)}: <a href="{_esc(link)}">{_esc(t["page"])}</a></li>' for suite, link in sorted(pages.items())
    )
    lang = "zh-CN" if language == "zh" else "en"
    write_text_atomic(
        index,
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{_esc(t["title"])}</title>'
        f"<style>{_OFFLINE_CSS}</style></head><body><h1>{_esc(t['title'])}</h1><ul>{items}</ul></body></html>\n",
    )
    return index


__all__ = [
    "INDEX_PAGE",
    "LABELS",
    "make_docs_offline",
    "mask_page",
    "masked_failures",
    "page_name",
    "publish_data_docs",
    "rewrite_page_offline",
    "suite_status",
    "suite_table",
]
