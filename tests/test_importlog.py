"""Import-error loop: read logs (simple and SAP style), map failures, worklist, retry, history."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures.export.helpers import FIXTURES, make_run

from workbench.core.batches.plan import build_batch_plan
from workbench.core.export.import_log import (
    ImportLogError,
    build_fix_worklist,
    classify_reasons,
    load_reason_rules,
    map_failures,
    process_import_logs,
    read_import_log,
    read_load_history,
    record_load_iteration,
    write_retry_files,
)
from workbench.core.export.load_files import export_load_files, read_load_file
from workbench.core.targets import load_profile
from workbench.demo.import_simulation import run_simulated_loop, simulate_import_log
from workbench.presentation.workbooks.import_worklist import (
    worklist_path,
    write_fix_worklist,
    write_fix_worklists,
)

SAP = load_profile("sap_s4_cockpit_customer")
U8 = load_profile("yonyou_u8_customer")


def test_read_sap_message_list():
    log = read_import_log(FIXTURES / "sap_message_list.csv", SAP)
    assert list(log["status"]) == ["loaded", "failed", "warning", "failed", "failed"]
    assert log.loc[1, "message_id"] == "CVI_FS_CHECK_CUST/020"
    assert list(log["log_row"]) == [2, 3, 4, 5, 6]


def test_read_simple_log_with_chinese_status():
    log = read_import_log(FIXTURES / "u8_simple_log.csv", U8)
    assert list(log["status"]) == ["loaded", "failed", "failed", "loaded"]
    assert log.loc[1, "field"] == "cDCCode"


def test_bad_status_names_file_and_row(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("row_key,status,message\nM1,ok,\nM2,maybe,??\n", encoding="utf-8")
    with pytest.raises(ImportLogError, match=r"log.csv, row 3: status 'maybe'"):
        read_import_log(p, U8)


def test_reasons_are_classified_by_id_then_text():
    rules = load_reason_rules()
    msgs = pd.Series(["anything", "客户编码 M1 已存在", "地区编码 01 不存在", "税号 长度不正确", "weird"])
    ids = pd.Series(["CVI_FS_CHECK_CUST/020", "", "", "", ""])
    assert list(classify_reasons(msgs, ids, rules)) == [
        "configuration",
        "duplicate",
        "invalid_code",
        "tax_number",
        "other",
    ]


def _exported(tmp_path):
    ctx = make_run(tmp_path)
    build_batch_plan(ctx)
    res = export_load_files(ctx)
    res.files = res.files[res.files["kind"] == "customers"].reset_index(
        drop=True
    )  # code lists are not imported with logs
    return ctx, res


def test_sap_log_maps_to_masters_and_unknown_keys_are_kept(tmp_path):
    ctx, _res = _exported(tmp_path)
    log = read_import_log(FIXTURES / "sap_message_list.csv", SAP)
    con = ctx.connect()
    fails = map_failures(con, log, SAP.name, language="en")
    con.close()
    assert set(fails["row_key"]) == {"M000001", "M000002", "M999999"}
    known = fails[fails["row_key"] == "M000002"].iloc[0]
    assert known["master_id"] == "M000002" and known["reason"] == "tax_number" and known["batch"] == "03_vip"
    unknown = fails[fails["row_key"] == "M999999"].iloc[0]
    assert pd.isna(unknown["master_id"]) and unknown["reason"] == "unknown_key"


def test_sample_log_gives_worklist_and_retry_with_exactly_failed_rows(tmp_path):
    ctx, res = _exported(tmp_path)
    for profile in (SAP, U8):
        files = res.files[res.files["profile"] == profile.name]
        logs = []
        for i, f in enumerate(files["file"]):
            p = ctx.paths.root / "logs" / f"{profile.name}_{i}.csv"
            simulate_import_log(ctx.paths.root / f, profile, fail_rate=0.5, seed=3 + i, path=p)
            logs.append(read_import_log(p, profile))
        log = pd.concat(logs, ignore_index=True)
        con = ctx.connect()
        fails = map_failures(con, log, profile.name)
        con.close()
        failed_keys = set(log.loc[log["status"] == "failed", "row_key"])
        assert failed_keys and set(fails["row_key"]) == failed_keys
        assert fails["master_id"].notna().all()
        wl = write_fix_worklist(
            worklist_path(ctx.paths, profile.name), build_fix_worklist(ctx, fails, profile=profile)
        )
        sheet = pd.read_excel(wl, sheet_name=0, dtype=str)
        assert set(sheet["row_key"]) == failed_keys
        assert {"fix_field", "fix_value", "customer_name", "current_value"} <= set(sheet.columns)
        retry = write_retry_files(ctx, fails, profile, iteration=2)
        assert retry.still_failing.empty
        sent = []
        for rf in retry.files.itertuples(index=False):
            frames = read_load_file(ctx.paths.root / rf.file, profile)
            original = read_load_file(ctx.paths.root / rf.source_file, profile)
            for sid, frame in frames.items():
                orig = original[sid][original[sid][profile.key_field].isin(failed_keys)].drop(columns="_row")
                pd.testing.assert_frame_equal(frame.drop(columns="_row"), orig.reset_index(drop=True))
            sent += list(frames[profile.main.id][profile.key_field])
            assert "__retry2" in rf.file and rf.file.endswith(profile.file.extension)
        assert sorted(sent) == sorted(failed_keys)


def test_worklist_fix_is_applied_and_rechecked(tmp_path):
    ctx, res = _exported(tmp_path)
    f = res.files[res.files["profile"] == U8.name]["file"].iloc[0]
    frames = read_load_file(ctx.paths.root / f, U8)
    keys = list(frames["customer"]["cCusCode"][:2])
    log = pd.DataFrame(
        {
            "row_key": keys,
            "status": "error",
            "message": ["地区编码 01 不存在", "bad"],
            "field": ["cDCCode", "cCusName"],
        }
    )
    p = tmp_path / "log.csv"
    log.to_csv(p, index=False)
    con = ctx.connect()
    fails = map_failures(con, read_import_log(p, U8), U8.name)
    con.close()
    wl = write_fix_worklist(worklist_path(ctx.paths, U8.name), build_fix_worklist(ctx, fails, profile=U8))
    sheet = pd.read_excel(wl, sheet_name=0, dtype=str)
    sheet.loc[sheet["row_key"] == keys[0], "fix_value"] = "03"
    sheet.loc[sheet["row_key"] == keys[1], "fix_value"] = "x" * 200  # too long: must not be written
    sheet.to_excel(wl, index=False)
    retry = write_retry_files(ctx, fails, U8, iteration=2, worklist=wl)
    assert retry.fixes_applied == 2
    assert list(retry.still_failing["row_key"]) == [keys[1]]
    out = read_load_file(ctx.paths.root / retry.files["file"].iloc[0], U8)["customer"]
    assert list(out["cCusCode"]) == [keys[0]] and out["cDCCode"].iloc[0] == "03"


def test_history_records_iterations(tmp_path):
    path = tmp_path / "load_history.duckdb"
    f1 = pd.DataFrame(
        {
            "status": ["failed"] * 3,
            "row_key": ["a", "b", "b"],
            "reason": ["duplicate", "format", "other"],
            "log_row": [1, 2, 3],
        }
    )
    record_load_iteration(path, run_id="r1", profile="p", iteration=1, rows_sent=10, failures=f1)
    record_load_iteration(path, run_id="r1", profile="p", iteration=2, rows_sent=2, failures=f1.iloc[:1])
    hist = record_load_iteration(
        path, run_id="r1", profile="p", iteration=2, rows_sent=2, failures=f1.iloc[:1]
    )
    it = hist.drop_duplicates("iteration").set_index("iteration")
    assert it.loc[1, "rows_failed"] == 2 and it.loc[1, "failure_rate"] == pytest.approx(0.2)
    assert it.loc[2, "rows_failed"] == 1 and it.loc[2, "rows_loaded"] == 1  # rerecord replaced, not added
    assert sorted(hist.loc[hist["iteration"] == 1, "reason"]) == ["duplicate", "format"]
    assert len(read_load_history(path)) == 3


def test_simulated_log_is_seeded(tmp_path):
    ctx, res = _exported(tmp_path)
    f = ctx.paths.root / res.files[res.files["profile"] == SAP.name]["file"].iloc[0]
    a = simulate_import_log(f, SAP, fail_rate=0.5, seed=1)
    b = simulate_import_log(f, SAP, fail_rate=0.5, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert (a["Type"] == "E").sum() == round(0.5 * len(a))


def test_load_history_chart_and_simulated_loop(tmp_path):
    from workbench.presentation.charts.loads import load_iterations_figure

    ctx, res = _exported(tmp_path)
    loop = run_simulated_loop(ctx, fail_rate=0.5, retry_fail_rate=0.0, seed=5)
    h = loop.history.drop_duplicates(["profile", "iteration"]).set_index(["profile", "iteration"])
    for name in ("sap_s4_cockpit_customer", "yonyou_u8_customer"):
        sent = int(res.files.loc[res.files["profile"] == name, "rows"].sum())
        assert h.loc[(name, 1), "rows_sent"] == sent
        failed1 = h.loc[(name, 1), "rows_failed"]
        assert (
            failed1 > 0 and h.loc[(name, 2), "rows_sent"] == failed1
        )  # the retry holds exactly the failures
        assert h.loc[(name, 2), "rows_failed"] == 0
    assert loop.metrics()["load_rounds"] == 2 and len(loop.worklists) == 2
    # the simulated loop writes the worklists the real loop prepared, one per profile
    for w in loop.worklists:
        sheet = pd.read_excel(worklist_path(ctx.paths, w.profile), sheet_name=0, dtype=str)
        assert len(sheet) == len(w.rows) and set(sheet["row_key"]) == set(w.rows["row_key"])
    fig = load_iterations_figure(loop.history, "en")
    rate = next(t for t in fig.data if t.name == "failure rate")
    assert list(rate.y) == list(
        loop.history.drop_duplicates(["profile", "run_id", "iteration"])["failure_rate"]
    )


def test_fix_worklist_rows_and_workbook(tmp_path):
    ctx, _res = _exported(tmp_path)
    con = ctx.connect()
    fails = map_failures(
        con, read_import_log(FIXTURES / "sap_message_list.csv", SAP), SAP.name, language="en"
    )
    con.close()
    wl = build_fix_worklist(ctx, fails, profile=SAP)
    assert wl.profile == SAP.name and len(wl.rows) == len(fails)
    assert list(wl.rows.columns[-4:]) == ["fix_field", "fix_value", "fixed_by", "comment"]
    assert wl.rows["fix_field"].tolist() == fails["field"].tolist()
    assert set(wl.summary["reason"]) == set(fails["reason"]) and wl.summary["messages"].sum() == len(fails)
    path = write_fix_worklist(tmp_path / "wl.xlsx", wl, language="en")
    book = pd.read_excel(path, sheet_name=None, dtype=str)
    assert list(book) == ["Worklist", "By reason"] and len(book["Worklist"]) == len(fails)
    assert build_fix_worklist(ctx, fails.iloc[:0], profile=SAP).profile == "none"


def test_import_logs_use_the_project_reason_table(tmp_path):
    reasons = tmp_path / "project" / "reasons.yaml"
    reasons.parent.mkdir(parents=True)
    reasons.write_text(
        "reasons:\n  - id: tax_office\n    label_en: tax office says no\n    patterns: ['tax number']\n",
        encoding="utf-8",
    )
    ctx = make_run(tmp_path, export={"import_reasons_path": "reasons.yaml"})
    build_batch_plan(ctx)
    export_load_files(ctx)
    loop = process_import_logs(ctx, {SAP.name: [FIXTURES / "sap_message_list.csv"]})
    known = loop.failures[loop.failures["master_id"].notna()]
    assert "tax_office" in set(known["reason"]) and "tax_number" not in set(known["reason"])
    written = write_fix_worklists(ctx, loop)
    assert written == [worklist_path(ctx.paths, SAP.name)] and written[0].exists()
