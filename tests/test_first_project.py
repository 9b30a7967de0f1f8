"""docs/first-project.md, followed literally on the two fixture projects that are not the demo.

`en_small` (two English CSVs, US and AU, and an orders file) and `cn_b2b` (a GBK CSV from an old
ERP, a CRM workbook, a hand-kept ledger workbook with title rows): `workbench init` → `workbench
check --headers` → `workbench run`, with no hand-written config or mapping file. `cn_b2b` runs the
stage notebooks (the walk-through's command as written), `en_small` the same stages in process
(`--no-notebooks`, the option the walk-through names).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from workbench.cli import main
from workbench.project.stages import STAGES

FIXTURES = Path(__file__).parent / "fixtures" / "projects"

# What each column holds (field, kind), written from the fixture files by hand: the answer key
# against which init's guesses are counted.
ANSWERS: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
    "en_small": {
        "au_contacts.csv": {
            "Ref": ("customer_id", "id"),
            "Business Name": ("customer_name", "customer_name"),
            "Contact": ("contact_name", "person_name"),
            "Mobile": ("mobile", "phone"),
            "E-mail": ("email", "email"),
            "Street No": ("street_number", "text"),
            "Street": ("street", "text"),
            "Suburb": ("suburb", "city"),
            "State": ("province", "province"),
            "Postcode": ("postcode", "postcode"),
            "Country": ("country", "country"),
            "ABN": ("uscc", "tax_id"),
            "Since": ("created_date", "date"),
            "Account Manager": ("sales_rep", "text"),
        },
        "crm_us.csv": {
            "Customer ID": ("customer_id", "id"),
            "Company": ("customer_name", "customer_name"),
            "Contact Name": ("contact_name", "person_name"),
            "Phone": ("phone", "phone"),
            "Email": ("email", "email"),
            "Street No": ("street_number", "text"),
            "Street": ("street", "text"),
            "City": ("city", "city"),
            "State": ("province", "province"),
            "ZIP": ("postcode", "postcode"),
            "SSN": ("person_id", "person_id"),
            "Created": ("created_date", "date"),
            "Status": ("status", "status"),
            "Segment": ("customer_class", "code"),
            "Notes": ("remark", "text"),
        },
        "orders.csv": {
            "Order No": ("document_no", "code"),
            "Customer": ("customer_id", "id"),
            "Order Date": ("document_date", "date"),
            "Net Amount": ("amount", "amount"),
            "Currency": ("currency", "code"),
        },
    },
    "cn_b2b": {
        "crm_accounts.xlsx": {
            "Account ID": ("customer_id", "id"),
            "Account Name": ("customer_name", "customer_name"),
            "Contact": ("contact_name", "person_name"),
            "Mobile": ("mobile", "phone"),
            "Email": ("email", "email"),
            "Province": ("province", "province"),
            "City": ("city", "city"),
            "Street Address": ("address", "address"),
            "Tax ID": ("uscc", "tax_id"),
            "Account Type": ("customer_type", "code"),
            "Owner": ("sales_rep", "text"),
            "Last Modified": ("last_modified", "date"),
        },
        "erp_customers.csv": {
            "客户编码": ("customer_id", "id"),
            "客户名称": ("customer_name", "customer_name"),
            "客户类别": ("customer_class", "code"),
            "地区编码": ("region_code", "code"),
            "统一社会信用代码": ("uscc", "tax_id"),
            "联系人": ("contact_name", "person_name"),
            "手机": ("mobile", "phone"),
            "电话": ("phone", "phone"),
            "地址": ("address", "address"),
            "邮政编码": ("postcode", "postcode"),
            "状态": ("status", "status"),
            "建档日期": ("created_date", "date"),
            "信用等级": ("credit_rating", "code"),
            "法人身份证号": ("person_id", "person_id"),
            "备注": ("remark", "text"),
        },
        "ledger.xlsx": {
            "序号": ("customer_id", "id"),
            "客户名称": ("customer_name", "customer_name"),
            "联系人": ("contact_name", "person_name"),
            "联系电话": ("phone", "phone"),
            "地址": ("address", "address"),
            "应收余额": ("balance", "amount"),
            "最后交易日期": ("last_order_date", "date"),
            "备注": ("remark", "text"),
        },
    },
}


def _walk_through(project: str, tmp_path: Path, monkeypatch, capsys, *run_options: str) -> Path:
    """The walk-through's commands, as typed in a folder holding ``exports/``; returns the run folder."""
    shutil.copytree(FIXTURES / project, tmp_path / "exports")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "exports/", "--out", "myproject"]) == 0
    assert main(["check", "--config", "myproject/workbench.yaml", "--headers"]) == 0
    assert main(["run", "--config", "myproject/workbench.yaml", *run_options]) == 0
    out = capsys.readouterr().out
    assert "error" not in out.lower().split("outputs of run")[0].replace("errors", "")
    runs = tmp_path / "myproject" / "output" / "runs"
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    return run_dir


def _guessed_right(config_path: Path, project: str) -> tuple[int, int, list[str]]:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    right, total, wrong = 0, 0, []
    for source in config["sources"]:
        answers = ANSWERS[project][Path(source["path"]).name]
        for header, (field, kind) in answers.items():
            total += 1
            guess = source["columns"].get(header)
            if guess and (guess["field"], guess["kind"]) == (field, kind):
                right += 1
            else:
                wrong.append(f"{source['name']}.{header}: {guess} (answer {field}/{kind})")
    return right, total, wrong


def _check_run(run_dir: Path, project: str) -> None:
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "complete"
    stage_log = json.loads((run_dir / "metrics" / "runner.json").read_text(encoding="utf-8"))
    assert {s["stage"] for s in stage_log["stages"] if s["status"] == "ok"} == {s.id for s in STAGES}

    config = yaml.safe_load((run_dir.parents[2] / "workbench.yaml").read_text(encoding="utf-8"))
    customer_sources = {s["name"] for s in config["sources"] if s.get("role", "customers") == "customers"}
    con = duckdb.connect(str(run_dir / "warehouse.duckdb"), read_only=True)
    try:
        # every customer row of every source: exactly one crosswalk row and one disposition
        staged = dict(con.execute("SELECT _source, count(*) FROM std_customers GROUP BY 1").fetchall())
        assert set(staged) == customer_sources
        crosswalk = dict(con.execute("SELECT source, count(*) FROM crosswalk GROUP BY 1").fetchall())
        assert crosswalk == staged
        file_rows = dict(con.execute("SELECT source, file_rows FROM reconciliation_totals").fetchall())
        balanced = con.execute("SELECT bool_and(balanced) FROM reconciliation_totals").fetchone()
        assert balanced == (True,) and set(file_rows) == customer_sources
        assert con.execute("SELECT count(*) FROM golden_customers").fetchone()[0] > 0
        # every validation suite is the project's: its sources, its standardized table, its targets
        suites = {s for (s,) in con.execute("SELECT DISTINCT suite FROM validation_results").fetchall()}
    finally:
        con.close()
    allowed = {f"source_{s['name']}" for s in config["sources"]} | {"standardized_customers"}
    profiles = config["export"]["profiles"]
    foreign = {s for s in suites if s not in allowed and not any(s.startswith(f"load_ready_{p}") for p in profiles)}
    assert not foreign, f"suites the project did not ask for: {foreign}"

    manifest = json.loads((run_dir / "exports" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["draft"] is True and manifest["draft_reasons"]
    files = [f["file"] for f in manifest["files"]]
    assert files and all("DRAFT" in Path(f).name for f in files)
    assert all((run_dir / f).is_file() for f in files)
    assert (run_dir / "datadocs" / "index.html").is_file()
    assert (run_dir / "tables" / "crosswalk.csv").is_file()


@pytest.mark.notebooks
@pytest.mark.xdist_group("first_project_cn")
def test_walk_through_on_a_chinese_project_with_gbk_csv_and_titled_ledger(tmp_path, monkeypatch, capsys):
    run_dir = _walk_through("cn_b2b", tmp_path, monkeypatch, capsys)
    _check_run(run_dir, "cn_b2b")
    assert len(list((run_dir / "analyst" / "notebooks").glob("*.ipynb"))) == len(STAGES)
    right, total, wrong = _guessed_right(tmp_path / "myproject" / "workbench.yaml", "cn_b2b")
    print(f"cn_b2b: init guessed {right} of {total} columns right; wrong: {wrong}")
    assert right / total >= 0.9, wrong


@pytest.mark.xdist_group("first_project_en")
def test_walk_through_on_an_international_project(tmp_path, monkeypatch, capsys):
    run_dir = _walk_through("en_small", tmp_path, monkeypatch, capsys, "--no-notebooks")
    _check_run(run_dir, "en_small")
    right, total, wrong = _guessed_right(tmp_path / "myproject" / "workbench.yaml", "en_small")
    print(f"en_small: init guessed {right} of {total} columns right; wrong: {wrong}")
    assert right / total >= 0.9, wrong


def test_rerunning_one_stage_continues_the_run_and_the_stage_log_keeps_both(tmp_path, monkeypatch, capsys):
    shutil.copytree(FIXTURES / "en_small", tmp_path / "exports")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "exports/", "--out", "myproject"]) == 0
    config = "myproject/workbench.yaml"
    assert main(["run", "--config", config, "--stages", "audit", "--no-notebooks"]) == 0
    assert main(["run", "--config", config, "--stages", "standardize", "--no-notebooks"]) == 0
    out = capsys.readouterr().out
    assert "continuing the latest run" in out
    (run_dir,) = list((tmp_path / "myproject" / "output" / "runs").iterdir())
    stage_log = json.loads((run_dir / "metrics" / "runner.json").read_text(encoding="utf-8"))
    assert [s["stage"] for s in stage_log["stages"]] == ["audit", "standardize"]


def test_a_fix_typed_into_the_erp_s_worklist_is_in_the_next_full_load(tmp_path, monkeypatch, capsys):
    """Walk-through step 5: the target's import log → worklist → fix typed in → fixes.csv → the
    next full run applies it (change log) and the record's next load row carries it."""
    import pandas as pd

    from workbench.core.export.load_files import read_load_file
    from workbench.core.targets import load_profile
    from workbench.presentation.workbooks.import_worklist import run_import_log
    from workbench.project.config import load_config

    u8 = load_profile("yonyou_u8_customer")
    shutil.copytree(FIXTURES / "en_small", tmp_path / "exports")
    monkeypatch.chdir(tmp_path)
    assert main(["init", "exports/", "--out", "myproject"]) == 0
    config_path = "myproject/workbench.yaml"
    assert main(["run", "--config", config_path, "--no-notebooks"]) == 0
    runs = tmp_path / "myproject" / "output" / "runs"
    (first,) = list(runs.iterdir())
    manifest = json.loads((first / "exports" / "manifest.json").read_text(encoding="utf-8"))
    u8_files = [f["file"] for f in manifest["files"] if f["profile"] == u8.name and f["kind"] == "customers"]
    sent = pd.concat([read_load_file(first / f, u8)["customer"] for f in u8_files], ignore_index=True)
    key, old_name = sent.iloc[0]["cCusCode"], sent.iloc[0]["cCusName"]
    con = duckdb.connect(str(first / "warehouse.duckdb"), read_only=True)
    members = con.execute("SELECT source, source_id FROM crosswalk WHERE master_id = ?", [key]).fetchall()
    con.close()

    # the ERP refused the record's name; the team types the right one into the worklist
    log = tmp_path / "u8_import_log.csv"
    pd.DataFrame([(key, "失败", "客户名称 不合法", "cCusName")], columns=["row_key", "status", "message", "field"]).to_csv(
        log, index=False
    )
    config = load_config(config_path)
    round1 = run_import_log(config, u8.name, [log])
    assert round1.worklist is not None
    sheet = pd.read_excel(round1.worklist, sheet_name=0, dtype=str)
    assert sheet["row_key"].tolist() == [key]
    sheet.loc[0, ["fix_value", "fixed_by"]] = ["Northwind Fixed Trading", "Han Meimei"]
    sheet.to_excel(round1.worklist, index=False)
    back = run_import_log(config, u8.name, [], worklist=round1.worklist)
    assert back.fixes is not None and back.fixes.metrics()["fix_lines_added"] == len(members)
    fixes = pd.read_csv(tmp_path / "myproject" / "fixes.csv", dtype=str)
    assert set(zip(fixes["source"], fixes["source_id"], strict=True)) == set(members)

    # the next full run applies the fix and the record's load row carries it
    assert main(["run", "--config", config_path, "--new", "--no-notebooks"]) == 0
    (second,) = [p for p in runs.iterdir() if p != first]
    con = duckdb.connect(str(second / "warehouse.duckdb"), read_only=True)
    applied = con.execute(
        "SELECT count(*) FROM change_log WHERE rule LIKE 'fix:%' AND after = 'Northwind Fixed Trading'"
    ).fetchone()[0]
    (new_key,) = {r[0] for r in con.execute(
        "SELECT master_id FROM crosswalk WHERE (source, source_id) IN (SELECT * FROM (VALUES "
        + ", ".join(f"('{s}', '{i}')" for s, i in members) + "))"
    ).fetchall()}
    con.close()
    assert applied == len(members)
    manifest = json.loads((second / "exports" / "manifest.json").read_text(encoding="utf-8"))
    u8_files = [f["file"] for f in manifest["files"] if f["profile"] == u8.name and f["kind"] == "customers"]
    rows = pd.concat([read_load_file(second / f, u8)["customer"] for f in u8_files], ignore_index=True)
    name = rows.set_index("cCusCode").loc[new_key, "cCusName"]
    assert "Northwind Fixed Trading" in name and name != old_name
