"""The demo's simulated ERP: import logs for the demo's load files, and the rounds they drive.

A real project reads the target ERP's own import logs (``workbench import-log``,
:func:`workbench.core.export.import_log.process_import_logs`). The demo has no ERP, so this module
plays one: :func:`simulate_import_log` writes a seeded, realistic log for a load file (SAP message
list or simple row log) and :func:`run_simulated_loop` feeds those logs to the real loop, for the
first load and for one retry, and writes the fix worklists the real loop prepares. Only the demo
(``workbench demo``) and the tests use it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.core.export.import_log import (
    LoopResult,
    collect_rounds,
    exported_files,
    import_round,
)
from workbench.core.targets.profiles import TargetProfile
from workbench.presentation.workbooks.import_worklist import write_fix_worklists
from workbench.project.context import RunContext

# (message class, number, text with {FIELD} placeholders, field) — SAP-style. The first two and
# the duplicate-key text are documented cockpit messages; the ZSIM ones are invented for the demo.
SAP_MESSAGES = [
    (
        "CVI_FS_CHECK_CUST",
        "020",
        "Customer -> BP: You have not assigned a BP grouping to account group {KTOKD}",
        "general.KTOKD",
    ),
    ("R11", "300", "No update is defined for BP role 000000", "roles.BP_ROLE"),
    ("ZSIM", "001", "Region {REGION} is not defined for country {COUNTRY}", "general.REGION"),
    ("ZSIM", "002", "Tax number {TAXNUM} is not valid for tax number category {TAXTYPE}", "tax.TAXNUM"),
    (
        "ZSIM",
        "003",
        "Postal code {POST_CODE1} has the wrong format for country {COUNTRY}",
        "general.POST_CODE1",
    ),
    ("ZSIM", "004", "Customer {KUNNR} already exists (duplicate record)", "general.KUNNR"),
]
U8_MESSAGES = [
    ("客户编码 {cCusCode} 已存在", "cCusCode"),
    ("地区编码 {cDCCode} 不存在", "cDCCode"),
    ("所属分类码 {cCCCode} 不是末级分类", "cCCCode"),
    ("税号 {cCusRegCode} 长度不正确", "cCusRegCode"),
    ("发展日期 {dCusDevDate} 格式不正确", "dCusDevDate"),
]
GENERIC_MESSAGES = [
    ("Record {key} already exists", None),
    ("Missing required value for the field '{first}'", "first"),
    ("Unknown value '{second}' for field '{second_name}'", "second"),
]


def simulate_import_log(
    load_file: Path | str,
    profile: TargetProfile,
    *,
    fail_rate: float,
    seed: int,
    style: str = "auto",
    path: Path | None = None,
) -> pd.DataFrame:
    """Make a realistic import log for a load file: some rows fail with system-like messages.

    Args:
        load_file: a file written by the export (or a retry file).
        profile: its profile.
        fail_rate: share of records that fail (0..1).
        seed: random seed (same seed → same log).
        style: ``sap`` (message list), ``simple`` (row_key,status,message) or ``auto`` (SAP
            message list for SAP profiles, simple otherwise).
        path: when given, the log is also written there as a UTF-8 CSV (atomically).

    Returns:
        The log as a DataFrame in the file layout of its style.
    """
    from workbench.core.export.load_files import read_load_file
    from workbench.engine.files import write_bytes_atomic

    if not 0 <= fail_rate <= 1:
        raise ValueError(f"fail_rate must be between 0 and 1, got {fail_rate}")
    frames = read_load_file(Path(load_file), profile)
    main = frames[profile.main.id].reset_index(drop=True)
    flat = main.copy()
    for s in profile.structures[1:]:
        extra = frames[s.id].drop(columns="_row").drop_duplicates(profile.key_field)
        extra = extra[[c for c in extra.columns if c not in flat.columns or c == profile.key_field]]
        flat = flat.merge(extra, on=profile.key_field, how="left")
    rng = np.random.default_rng(seed)
    n = len(main)
    n_fail = int(round(fail_rate * n))
    failed = set(rng.choice(n, size=n_fail, replace=False).tolist()) if n_fail else set()
    style = ("sap" if profile.name.startswith("sap") else "simple") if style == "auto" else style
    u8 = profile.name.startswith("yonyou")
    picks = rng.integers(0, 1 << 30, size=n)
    rows = []
    for i in range(n):
        rec = {
            k: ("" if v is None or (isinstance(v, float) and np.isnan(v)) else v)
            for k, v in flat.iloc[i].items()
        }
        key = rec[profile.key_field]
        if style == "sap":
            if i in failed:
                cls, num, text, _f = SAP_MESSAGES[picks[i] % len(SAP_MESSAGES)]
                rows.append(
                    {
                        "Type": "E",
                        "ID": cls,
                        "Number": num,
                        "Message": _fill(text, rec),
                        "Source Key": key,
                        "Field": _f.split(".")[-1],
                    }
                )
            else:
                rows.append(
                    {
                        "Type": "S",
                        "ID": "ZSIM",
                        "Number": "000",
                        "Message": f"Customer {key} created",
                        "Source Key": key,
                        "Field": "",
                    }
                )
        else:
            if i in failed:
                if u8:
                    text, fld = U8_MESSAGES[picks[i] % len(U8_MESSAGES)]
                else:
                    names = [f.name for f in profile.main.fields if f.name != profile.key_field] or [
                        profile.key_field
                    ]
                    rec.update(key=key, first=names[0], second=rec.get(names[-1], ""), second_name=names[-1])
                    text, fld = GENERIC_MESSAGES[picks[i] % len(GENERIC_MESSAGES)]
                    fld = {"first": names[0], "second": names[-1]}.get(fld or "", fld)
                rows.append(
                    {"row_key": key, "status": "error", "message": _fill(text, rec), "field": fld or ""}
                )
            else:
                rows.append({"row_key": key, "status": "ok", "message": "", "field": ""})
    frame = pd.DataFrame(rows)
    if path is not None:
        write_bytes_atomic(Path(path), frame.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
    return frame


def _fill(text: str, rec: dict[str, object]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: str(rec.get(m.group(1), "")), text)


def run_simulated_loop(
    ctx: RunContext, *, fail_rate: float = 0.08, retry_fail_rate: float = 0.02, seed: int | None = None
) -> LoopResult:
    """Round 1 and its retry for every exported profile, with simulated ERP logs.

    Logs go to ``<run>/import_logs/<file>__log<round>.csv``; each round goes through the real loop
    (:func:`~workbench.core.export.import_log.import_round`) and into the project's load history;
    the fix worklists of the rounds are written to ``<run>/review/``.
    """
    from workbench.core.targets.profiles import load_project_profiles

    seed = ctx.config.project.seed if seed is None else seed
    profiles = load_project_profiles(ctx.config)
    rounds = []
    for name, group in exported_files(ctx).groupby("profile", sort=True):
        profile = profiles[name]
        paths = []
        for i, f in enumerate(group["file"]):
            p = ctx.paths.import_logs / f"{Path(f).stem}__log1.csv"
            simulate_import_log(ctx.paths.root / f, profile, fail_rate=fail_rate, seed=seed + i, path=p)
            paths.append(p)
        first = import_round(ctx, profile, paths, iteration=1, rows_sent=int(group["rows"].sum()))
        rounds.append(first)
        if not len(first.retry_files):
            continue
        paths2 = []
        for i, f in enumerate(first.retry_files["file"]):
            p = ctx.paths.import_logs / f"{Path(f).stem}__log2.csv"
            simulate_import_log(
                ctx.paths.root / f, profile, fail_rate=retry_fail_rate, seed=seed + 1000 + i, path=p
            )
            paths2.append(p)
        rounds.append(
            import_round(
                ctx, profile, paths2, iteration=2, rows_sent=int(first.retry_files["rows"].sum()), retry=False
            )
        )
    loop = collect_rounds(ctx, rounds, simulated=True)
    write_fix_worklists(ctx, loop)
    return loop
