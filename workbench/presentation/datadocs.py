"""Offline Data Docs: GX's pages rewritten so they open with no network, and a static index page.

This module owns what business sees of the technical validation. GX's Data Docs pages load
scripts and styles from public CDNs and a logo from GX's servers every time they open, with no
setting to stop it; :func:`rewrite_page_offline` removes those references (and the inline scripts
that need them), points the logo at the local copy, replaces the show/hide buttons' functions with
plain JavaScript and adds a small local style. :func:`make_docs_offline` rewrites every page of a
site, masks failed personal-data values, cleans the bundled CSS and writes a static index
(:func:`render_docs_index`) in place of GX's, which builds its tables with bootstrap-table from a
CDN. :func:`publish_data_docs` does all of it for a validation outcome.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.engine.files import write_text_atomic

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

    from workbench.core.validation.results import ValidationOutcome

log = logging.getLogger(__name__)

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
LOGO = "images/logo-long.png"  # in the site's static/ folder
INDEX_PAGE = "index.html"  # the site's index, replaced by render_docs_index
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


def _attr(tag: Any, name: str) -> str:
    """A tag's attribute as text ('' when absent)."""
    return str(tag.get(name) or "")


# --------------------------------------------------------------------------------------------
# one page: each step of the rewrite, in the order they run


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
    Relative links into ``static/`` are recomputed from `static_prefix` (GX gets their depth wrong
    for validation pages of a named run).

    Args:
        text: the page.
        static_prefix: the relative path from the page to the site's ``static/`` folder.

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


# --------------------------------------------------------------------------------------------
# the site


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
    """Rewrite every Data Docs page for offline use and write the site's index page.

    GX's own index builds its tables with bootstrap-table from a CDN, so it is replaced by a static
    index listing each validation (dataset, result, counts, link) and each suite's page.

    Args:
        docs_dir: the Data Docs site.
        results: the ``validation_results`` rows.
        pages: suite → its validation page, relative to `docs_dir`.
        language: ``zh`` or ``en``.
        replacements: failed personal-data values → their masked text.

    Returns:
        The index page path.
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
    log.info("Data Docs: removed %s external references", removed_total)
    write_text_atomic(index, render_docs_index(results, pages, docs_dir, language=language))
    return index


def _status(g: pd.DataFrame) -> str:
    """ok, warn (only warnings failed) or fail (an error-severity expectation failed)."""
    errors = g[g["severity"] == "error"]
    ok = bool(errors["success"].all()) if len(errors) else True
    return "fail" if not ok else ("warn" if not g["success"].astype(bool).all() else "ok")


def _result_rows(results: pd.DataFrame, pages: dict[str, str], t: dict[str, str]) -> list[str]:
    esc = html.escape
    rows = []
    if len(results):
        grouped = results.groupby(["suite", "dataset", "stage"], sort=False)
        for (suite, dataset, stage), g in grouped:
            failed_rows = int(pd.to_numeric(g["unexpected_count"], errors="coerce").fillna(0).sum())
            status = _status(g)
            link = pages.get(str(suite))
            cell = f'<a href="{esc(link)}">{t["open"]}</a>' if link else ""
            rows.append(
                f"<tr><td>{esc(str(suite))}</td><td>{esc(str(dataset))}</td><td>{esc(str(stage))}</td>"
                f'<td class="{status}">{t[status]}</td>'
                f"<td>{len(g)}</td><td>{int(g['success'].sum())}</td><td>{failed_rows:,}</td><td>{cell}</td></tr>"
            )
    return rows


def render_docs_index(
    results: pd.DataFrame, pages: dict[str, str], docs_dir: Path, *, language: str = "zh"
) -> str:
    """The offline index page of the Data Docs site (static HTML, no script).

    Args:
        results: the ``validation_results`` rows.
        pages: suite → its validation page, relative to `docs_dir`.
        docs_dir: the site (its ``expectations/`` pages are listed).
        language: ``zh`` or ``en``.
    """
    t = LABELS[language]
    esc = html.escape
    rows = _result_rows(results, pages, t)
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
        f'<h1><img src="static/{LOGO}" alt="" style="height:32px;vertical-align:middle"> '
        f'{esc(t["title"])}</h1>\n<p class="wb-offline-note">{esc(t["intro"])}</p>\n'
        f"<h2>{esc(t['results'])}</h2>\n<table><thead><tr>{head}</tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table>\n<h2>{esc(t['suites'])}</h2>\n<ul>{suite_items}</ul>\n</body>\n</html>\n"
    )


def publish_data_docs(outcome: ValidationOutcome) -> Path | None:
    """Make the Data Docs of a validation open offline, masked for business; set its index.

    Args:
        outcome: what :func:`workbench.core.validation.validate_run` returned.

    Returns:
        The index page (also set as ``outcome.docs_index``), or None when no docs were built.
    """
    docs_dir = outcome.docs_dir
    if docs_dir is None or not docs_dir.exists():
        return None
    outcome.docs_index = make_docs_offline(
        docs_dir,
        outcome.results,
        outcome.pages,
        language=outcome.language,
        replacements=outcome.docs_replacements,
    )
    return outcome.docs_index
