"""Headless Chromium: open a local HTML page, collect console errors and network requests, screenshot.

This module owns the real-browser check of the offline reports (the run summary, Data Docs, the
profile report). It starts the system's Chromium headless with a throw-away profile, background
networking off, and talks to it over the DevTools protocol (a small client on ``websocket-client``)
so it can record every console error, uncaught exception, failed load and every request that would
leave the machine, and save a PNG screenshot. Used by tests and by the ``validate`` stage, which
saves a screenshot with the run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.engine.files import write_bytes_atomic
from workbench.errors import WorkbenchError
from workbench.presentation.reports.datadocs import INDEX_PAGE
from workbench.presentation.reports.summary import SUMMARY_NAME

if TYPE_CHECKING:
    import pandas as pd

    from workbench.project.context import RunContext

log = logging.getLogger(__name__)

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-extension:", "devtools:")


class BrowserError(WorkbenchError):
    """Chromium is missing, did not start, or did not load the page in time."""


@dataclass
class PageCheck:
    """What the browser saw while loading one page."""

    url: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    failed_loads: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    load_seconds: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)  # results of the page expressions asked for

    @property
    def ok(self) -> bool:
        """No console error, no failed load and no request that leaves the machine."""
        return not (self.console_errors or self.failed_loads or self.external_requests)

    def describe(self) -> str:
        parts = [f"{self.url}: {'ok' if self.ok else 'problems'}"]
        for label, items in (
            ("console errors", self.console_errors),
            ("failed loads", self.failed_loads),
            ("external requests", self.external_requests),
        ):
            if items:
                parts.append(f"{label}: " + " | ".join(items[:10]))
        return "; ".join(parts)


def find_chromium() -> str | None:
    """The Chromium executable of this machine, or None (install it with `apt-get install chromium`)."""
    for candidate in CHROMIUM_CANDIDATES:
        path = shutil.which(candidate) if not candidate.startswith("/") else candidate
        if path and Path(path).exists():
            return path
    return None


class _DevTools:
    """A minimal DevTools protocol client over one browser websocket (flattened sessions)."""

    def __init__(self, ws_url: str, timeout: float) -> None:
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> Any:
        import websocket

        self._next += 1
        msg_id = self._next
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise BrowserError(f"DevTools: no answer to {method} within {timeout} s")
            try:
                data = json.loads(self._ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if data.get("id") == msg_id:
                if "error" in data:
                    raise BrowserError(f"DevTools: {method} failed: {data['error']}")
                return data.get("result", {})
            if "method" in data:
                self.events.append(data)

    def pump(self, seconds: float) -> None:
        """Read events for `seconds`."""
        import websocket

        end = time.monotonic() + seconds
        self._ws.settimeout(0.1)
        try:
            while time.monotonic() < end:
                try:
                    data = json.loads(self._ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if "method" in data:
                    self.events.append(data)
        finally:
            self._ws.settimeout(None)

    def wait_for(self, method: str, seconds: float) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if any(e.get("method") == method for e in self.events):
                return True
            self.pump(0.2)
        return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ws.close()


def _wait_for_port(profile: Path, proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    marker = profile / "DevToolsActivePort"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise BrowserError(f"chromium exited with code {proc.returncode} before it opened DevTools")
        if marker.exists():
            lines = marker.read_text(encoding="utf-8").split()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        time.sleep(0.05)
    raise BrowserError(f"chromium did not open its DevTools port within {timeout} s")


def render_page(
    page: Path | str,
    screenshot: Path | str | None = None,
    *,
    width: int = 1280,
    height: int = 900,
    settle_seconds: float = 1.0,
    timeout: float = 60.0,
    chromium: str | None = None,
    evaluate: dict[str, str] | None = None,
) -> PageCheck:
    """Open a local HTML file in headless Chromium and report what happened.

    Args:
        page: the HTML file.
        screenshot: where to save a PNG of the page (full page height, at most 10,000 px).
        width: viewport width in pixels.
        height: viewport height in pixels.
        settle_seconds: how long to keep listening after the load event (late scripts, charts).
        timeout: seconds allowed for the browser to start and load the page.
        chromium: the executable; default :func:`find_chromium`.
        evaluate: name → a JavaScript expression evaluated in the loaded page (JSON-serializable
            result), e.g. :data:`PAGE_PROBES`; the results are in ``PageCheck.values``.

    Returns:
        The :class:`PageCheck` (console errors, failed loads, external requests, screenshot path,
        the evaluated values).

    Raises:
        BrowserError: no Chromium, it did not start, or the page did not load in time.
    """
    page = Path(page).resolve()
    if not page.is_file():
        raise BrowserError(f"{page}: no such HTML file to render")
    exe = chromium or find_chromium()
    if exe is None:
        raise BrowserError("chromium is not installed; install it (apt-get install chromium) to check pages")
    url = page.as_uri()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wb-chromium-") as tmp:
        profile = Path(tmp)
        cmd = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client: _DevTools | None = None
        try:
            port, path = _wait_for_port(profile, proc, timeout)
            client = _DevTools(f"ws://127.0.0.1:{port}{path}", timeout)
            target = client.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = client.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                client.send(f"{domain}.enable", session=session)
            client.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            client.events.clear()
            client.send("Page.navigate", {"url": url}, session=session)
            if not client.wait_for("Page.loadEventFired", timeout):
                raise BrowserError(f"{page}: the page did not finish loading within {timeout} s")
            client.pump(settle_seconds)
            title = client.send(
                "Runtime.evaluate", {"expression": "document.title", "returnByValue": True}, session=session
            )["result"].get("value", "")
            check = PageCheck(url=url, title=title or "")
            for name, expression in (evaluate or {}).items():
                answer = client.send(
                    "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
                )
                check.values[name] = answer.get("result", {}).get("value")
            _collect(client.events, check)
            if screenshot is not None:
                metrics = client.send("Page.getLayoutMetrics", session=session)
                size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
                full_h = int(min(max(height, size.get("height", height)), 10_000))
                client.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": full_h, "deviceScaleFactor": 1, "mobile": False},
                    session=session,
                )
                shot = client.send(
                    "Page.captureScreenshot", {"format": "png"}, session=session, timeout=timeout
                )
                out = Path(screenshot)
                write_bytes_atomic(out, base64.b64decode(shot["data"]))
                check.screenshot = out
            check.load_seconds = round(time.monotonic() - started, 2)
            with contextlib.suppress(BrowserError):
                client.send("Browser.close", timeout=5)
            return check
        finally:
            if client is not None:
                client.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


PAGE_PROBES: dict[str, str] = {
    # the text a reader sees (closed <details> are not rendered, so not in it) and the charts' own text
    "text": "document.body.innerText",
    "chart_text": "Array.from(document.querySelectorAll('svg text')).map(t => t.textContent).join('\\n')",
    "charts": "document.querySelectorAll('.plotly-graph-div .main-svg').length",
    "statuses": "Object.fromEntries(Array.from(document.querySelectorAll('[data-suite] [data-status]'))"
    ".map(e => [e.closest('[data-suite]').dataset.suite, e.dataset.status]))",
    "page_status": "(document.getElementById('wb-suite-status') || {dataset: {}}).dataset.status || null",
    # Chinese is rendered with a CJK font when two different ideographs do not draw as the same box
    "cjk_rendered": "(() => { const font = '24px ' + getComputedStyle(document.body).fontFamily;"
    " const draw = ch => { const cv = document.createElement('canvas'); cv.width = 32; cv.height = 32;"
    " const c = cv.getContext('2d'); c.font = font; c.fillStyle = '#000'; c.fillText(ch, 2, 26);"
    " return Array.from(c.getImageData(0, 0, 32, 32).data).join(','); };"
    " const a = draw('汉'), b = draw('字'); return a !== b && /[1-9]/.test(a); })()",
}
"""Expressions the page tests evaluate (:func:`render_page` ``evaluate``)."""


def _collect(events: list[dict[str, Any]], check: PageCheck) -> None:
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = (d.get("exception") or {}).get("description") or d.get("text") or "exception"
            check.console_errors.append(f"uncaught: {text.splitlines()[0]}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            check.console_errors.append(f"console.{p.get('type')}: {args}")
        elif method == "Log.entryAdded" and (p.get("entry") or {}).get("level") == "error":
            entry = p["entry"]
            check.console_errors.append(
                f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
            )
        elif method == "Network.requestWillBeSent":
            req_url = (p.get("request") or {}).get("url", "")
            if not req_url.startswith(LOCAL_SCHEMES):
                check.external_requests.append(req_url)
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            check.failed_loads.append(f"{p.get('errorText')} ({p.get('type')})")


def check_pages(pages: list[Path], screenshot_dir: Path | None = None, **kwargs: Any) -> list[PageCheck]:
    """Render several pages one after another (one browser each); screenshots named after the pages."""
    out = []
    for p in pages:
        shot = None if screenshot_dir is None else Path(screenshot_dir) / f"{Path(p).stem}.png"
        out.append(render_page(p, shot, **kwargs))
    return out


def browser_metrics(checks: list[PageCheck]) -> dict[str, Any]:
    """Figures a stage records about its pages: how many were checked and what went wrong."""
    return {
        "browser_pages": len(checks),
        "browser_console_errors": sum(len(c.console_errors) for c in checks),
        "browser_failed_loads": sum(len(c.failed_loads) for c in checks),
        "browser_external_requests": sum(len(c.external_requests) for c in checks),
        "screenshots": [str(c.screenshot) for c in checks if c.screenshot],
    }


def page_table(checks: list[PageCheck]) -> pd.DataFrame:
    """One row per checked page (for the notebook): page, ok, counts, screenshot."""
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "page": c.url,
                "ok": c.ok,
                "console_errors": len(c.console_errors),
                "failed_loads": len(c.failed_loads),
                "external_requests": len(c.external_requests),
                "screenshot": str(c.screenshot) if c.screenshot else None,
                "details": "" if c.ok else c.describe(),
            }
            for c in checks
        ],
        columns=[
            "page",
            "ok",
            "console_errors",
            "failed_loads",
            "external_requests",
            "screenshot",
            "details",
        ],
    )


def check_run_pages(ctx: RunContext, pages: list[Path] | None = None) -> list[PageCheck]:
    """Render the run's business pages in headless Chromium and save their screenshots with the run.

    Default pages: ``reports/summary.html`` and ``datadocs/index.html`` (those that exist).
    Screenshots go to ``<run>/reports/<page>.png``. Returns an empty list (and logs why) when
    Chromium is not installed.
    """
    if find_chromium() is None:
        log.warning("chromium is not installed: the run's pages were not checked in a browser")
        return []
    if pages is None:
        default = (ctx.paths.reports / SUMMARY_NAME, ctx.paths.datadocs / INDEX_PAGE)
        pages = [p for p in default if p.exists()]
    out = []
    for p in pages:
        stem = "datadocs" if p.parent.name == ctx.paths.datadocs.name else Path(p).stem
        out.append(render_page(p, ctx.paths.reports / f"{stem}.png"))
    return out
