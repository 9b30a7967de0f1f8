"""Tests of the demo-data generator (workbench.demo) on a small demo of 300 customers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook
from stdnum.cn import uscc as stdnum_uscc

import workbench.demo
from workbench.demo import DEFECT_TAGS, DemoError, DemoRates, generate_demo
from workbench.demo.rates import HARD_TAGS
from workbench.demo.rows import CRM_COLUMNS, ERP_COLUMNS, LEDGER_COLUMNS, TRANSACTION_COLUMNS
from workbench.project.config import load_config

N = 300
DEMO_DIR = Path(workbench.demo.__file__).parent
AS_OF = dt.date(2026, 11, 1)
DEMO_FILES = (
    "erp_customers.csv",
    "crm_accounts.xlsx",
    "ledger.xlsx",
    "transactions.csv",
    "new_customers.csv",
    "ground_truth.csv",
    "entities.csv",
    "workbench.yaml",
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate_demo(out, customers=N, seed=42, as_of=AS_OF)
    return out


@pytest.fixture(scope="module")
def truth(demo) -> pd.DataFrame:
    return pd.read_csv(demo / "ground_truth.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def entities(demo) -> pd.DataFrame:
    return pd.read_csv(demo / "entities.csv", dtype=str, keep_default_na=False)


def erp_lines(demo: Path) -> list[bytes]:
    raw = (demo / "erp_customers.csv").read_bytes()
    assert raw.endswith(b"\r\n")
    return raw[:-2].split(b"\r\n")


def sheet_rows(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_same_seed_gives_identical_bytes_and_another_seed_other_data(demo, tmp_path):
    generate_demo(tmp_path / "again", customers=N, seed=42, as_of=AS_OF)
    generate_demo(tmp_path / "other", customers=N, seed=7, as_of=AS_OF)
    for name in DEMO_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (demo / name).read_bytes(), name
    for name in DEMO_FILES[:6]:
        assert (tmp_path / "other" / name).read_bytes() != (demo / name).read_bytes(), name


def test_bytes_do_not_depend_on_the_process_hash_seed(demo, tmp_path):
    code = (
        "import datetime as dt, sys; from workbench.demo import generate_demo; "
        f"generate_demo(sys.argv[1], customers={N}, seed=42, as_of=dt.date(2026, 11, 1))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, timeout=120)
    for name in DEMO_FILES:
        assert (tmp_path / name).read_bytes() == (demo / name).read_bytes(), name


def test_erp_export_is_gbk_except_the_planted_rows(demo, truth):
    lines = erp_lines(demo)
    assert lines[0].decode("gbk").split(",") == list(ERP_COLUMNS)
    erp = truth[truth.source == "erp"].set_index("file_row")
    undecodable, not_gbk = [], []
    for number, line in enumerate(lines[1:], start=2):
        try:
            line.decode("gb18030")
        except UnicodeDecodeError:
            undecodable.append(number)
        try:
            line.decode("gbk")
        except UnicodeDecodeError:
            not_gbk.append(number)
    bad = [int(r) for r in erp.index[erp.defects.str.contains("bad_bytes")]]
    mojibake = [int(r) for r in erp.index[erp.defects.str.contains("mojibake")]]
    assert undecodable == bad and len(bad) == 1
    assert sorted(not_gbk) == sorted(bad + mojibake) and len(mojibake) == 2
    assert len(lines) - 1 == len(erp)


def test_mojibake_names_repair_to_the_true_name(demo, truth, entities):
    rows = {
        r[0]: r
        for r in csv.reader(
            io.StringIO(demo.joinpath("erp_customers.csv").read_bytes().decode("gb18030", "replace"))
        )
    }
    names = entities.set_index("entity_id").name
    garbled = truth[truth.defects.str.contains("mojibake")]
    for _, g in garbled.iterrows():
        cell = rows[g.source_id][1]
        assert cell != names[g.entity_id]
        assert cell.encode("gb18030").decode("utf-8") == names[g.entity_id]


def test_planted_bad_cells_row_has_one_cell_too_many(demo, truth):
    lines = erp_lines(demo)
    row = int(truth[truth.defects.str.contains("bad_cells")].file_row.iloc[0])
    cells = next(csv.reader([lines[row - 1].decode("gb18030")]))
    assert len(cells) == len(ERP_COLUMNS) + 1
    others = [
        next(csv.reader([x.decode("gb18030", "replace")])) for i, x in enumerate(lines[1:], 2) if i != row
    ]
    assert {len(c) for c in others} == {len(ERP_COLUMNS)}


def test_excel_layouts(demo):
    crm = sheet_rows(demo / "crm_accounts.xlsx", "Accounts")
    assert crm[0] == list(CRM_COLUMNS)
    ledger = sheet_rows(demo / "ledger.xlsx", "客户台账")
    assert "客户台账" in ledger[0][0] and ledger[1][0].startswith("制表日期")
    assert all(v in ("", None) for v in ledger[2])
    assert ledger[3] == list(LEDGER_COLUMNS)
    assert str(ledger[4][0]).startswith("L")
    assert read_csv_rows(demo / "transactions.csv")[0] == list(TRANSACTION_COLUMNS)
    assert read_csv_rows(demo / "new_customers.csv")[0] == list(ERP_COLUMNS)


def test_ground_truth_covers_every_file_row_exactly_once(demo, truth):
    assert list(truth.columns) == [
        "source", "source_id", "file_row", "entity_id", "group_id", "relation", "expected_outcome", "is_test",
        "status", "blacklist", "vip", "customer_type", "script", "defects",
    ]  # fmt: skip
    assert not truth.duplicated(["source", "file_row"]).any()
    assert not truth.duplicated(["source", "source_id"]).any()
    erp = [next(csv.reader([x.decode("gb18030", "replace")]))[0] for x in erp_lines(demo)[1:]]
    crm = [r[0] for r in sheet_rows(demo / "crm_accounts.xlsx", "Accounts")[1:]]
    ledger = [r[0] for r in sheet_rows(demo / "ledger.xlsx", "客户台账")[4:]]
    new = [r[0] for r in read_csv_rows(demo / "new_customers.csv")[1:]]
    for source, ids, first in (("erp", erp, 2), ("crm", crm, 2), ("ledger", ledger, 5), ("new", new, 2)):
        part = truth[truth.source == source]
        assert part.source_id.tolist() == ids, source
        assert part.file_row.astype(int).tolist() == list(range(first, first + len(ids))), source
    assert set(truth.expected_outcome) == {"staged", "quarantine"}
    assert (truth.expected_outcome == "quarantine").sum() == 2


def test_every_defect_tag_is_planted_at_the_default_rates(truth):
    tags = truth.defects[truth.defects != ""].str.split(";").explode()
    # the hard variant's tags are planted only by generate_demo(hard=True) (tests/test_demo_hard.py)
    assert set(tags) == set(DEFECT_TAGS) - set(HARD_TAGS)
    # each row lists its tags once, in the documented order
    order = {t: i for i, t in enumerate(DEFECT_TAGS)}
    for cell in truth.defects[truth.defects != ""]:
        listed = cell.split(";")
        assert listed == sorted(set(listed), key=order.__getitem__)


def test_rows_keep_enough_to_be_linked(tmp_path):
    destructive = {"typo", "phone_missing", "phone_placeholder", "mobile_changed", "email_missing",
                   "uscc_missing", "address_changed", "address_missing"}  # fmt: skip
    rates = DemoRates(**{tag: 0.6 for tag in destructive}, crm_uscc_missing=0.6)
    generate_demo(tmp_path, customers=200, rates=rates)
    gt = pd.read_csv(tmp_path / "ground_truth.csv", dtype=str, keep_default_na=False)
    counts = gt.defects.str.split(";").apply(lambda tags: len(destructive & set(tags)))
    assert counts[gt.source != "ledger"].max() == rates.max_destructive
    assert counts[gt.source == "ledger"].max() == rates.max_destructive - 1


def test_usccs_are_valid_except_the_planted_bad_ones(demo, truth, entities):
    cities = pd.read_csv(DEMO_DIR / "data" / "cities.csv", dtype=str)
    adcode = dict(zip(cities.city, cities.city_adcode, strict=True))
    companies = entities[entities.uscc != ""]
    assert len(companies) > 200 and companies.uscc.is_unique
    assert companies.uscc.map(stdnum_uscc.is_valid).all()
    assert (companies.uscc.str[2:6] == companies.city.map(adcode)).all()  # region digits fit the city
    assert (entities[entities.type.isin(["individual", "foreign"])].uscc == "").all()
    erp = pd.read_csv(
        io.BytesIO(demo.joinpath("erp_customers.csv").read_bytes()),
        encoding="gb18030",
        encoding_errors="replace",
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
    )
    crm = pd.read_excel(
        demo / "crm_accounts.xlsx", sheet_name="Accounts", dtype=str, engine="calamine"
    ).fillna("")
    seen = pd.concat(
        [
            erp[["客户编码", "统一社会信用代码"]]
            .set_axis(["source_id", "uscc"], axis=1)
            .assign(source="erp"),
            crm[["Account ID", "Tax ID"]].set_axis(["source_id", "uscc"], axis=1).assign(source="crm"),
        ]
    ).merge(truth, on=["source", "source_id"])
    seen = seen[seen.uscc != ""]
    bad = seen.defects.str.contains("uscc_bad_check")
    assert bad.sum() >= 2
    assert seen[~bad].uscc.map(stdnum_uscc.is_valid).all()
    assert not seen[bad].uscc.map(stdnum_uscc.is_valid).any()


def test_groups_are_distinct_customers_with_their_own_uscc(entities, truth):
    groups = entities[entities.group_id != ""]
    assert set(groups.relation) == {"parent", "branch", "subsidiary", "sister"}
    for _, members in groups.groupby("group_id"):
        assert (members.relation == "parent").sum() == 1
        head = members[members.relation == "parent"].iloc[0]
        assert members.uscc.is_unique and (members.uscc != "").all()
        others = members[members.relation != "parent"]
        assert (others.parent_entity_id == head.entity_id).all()
        for _, m in others.iterrows():
            if m.relation == "branch":
                assert m["name"].startswith(head["name"]) and m["name"].endswith("分公司")
            else:
                assert m["name"] != head["name"]
            if m.relation == "sister":  # shares the switchboard or the building
                assert m.phone == head.phone or m.address.split("号")[0] == head.address.split("号")[0]
    g = truth[truth.group_id != ""]
    assert g.groupby("group_id").entity_id.nunique().gt(1).any()


def test_distinct_entities_never_share_their_identifiers(entities):
    real = entities[entities.is_test == "false"]
    for column in ("name", "mobile", "email", "address"):
        values = real[column][real[column] != ""]
        if column == "name":  # people may share a name, companies may not
            values = real[(real.type != "individual")]["name"]
        assert values.is_unique, column


def test_customer_mix(entities, truth):
    legacy = entities[entities.sources.str.contains("erp|crm|ledger")]
    assert len(legacy) == N
    share = legacy.type.value_counts(normalize=True)
    assert 0.1 < share["individual"] < 0.2 and 0.03 < share["foreign"] < 0.08
    assert set(entities.status) == {"active", "deregistered", "revoked", "dormant"}
    assert (entities.blacklist == "true").any() and (entities.vip == "true").any()
    assert set(truth.customer_type) == {"B2B", "B2C"}
    assert set(truth.script) == {"zh", "en", "short"}
    assert (truth.is_test == "true").sum() >= 3
    # the same customer in several sources, and twice in one source
    per_entity = truth[truth.source != "new"].groupby("entity_id").source
    assert (per_entity.nunique() >= 2).sum() > 50
    assert truth[truth.source != "new"].duplicated(["source", "entity_id"]).sum() >= 3


def test_romanised_crm_names_are_pinyin_of_the_brand(demo, truth, entities):
    crm = pd.read_excel(
        demo / "crm_accounts.xlsx", sheet_name="Accounts", dtype=str, engine="calamine"
    ).fillna("")
    rows = crm.merge(truth[truth.source == "crm"], left_on="Account ID", right_on="source_id")
    roman = rows[rows.defects == "romanised_name"].merge(entities, on="entity_id")
    assert len(roman) >= 5
    assert (roman["Account Name"] == roman.english_name).all()
    assert roman["Account Name"].str.fullmatch(r"[A-Za-z ().,'&-]+").all()
    assert roman["Account Name"].str.contains(r"Co\., Ltd\.").all()


def test_ledger_holds_short_names(demo, truth, entities):
    ledger = sheet_rows(demo / "ledger.xlsx", "客户台账")[4:]
    rows = truth[truth.source == "ledger"].assign(cell=[r[1] for r in ledger]).merge(entities, on="entity_id")
    plain = rows[rows.defects == "short_name"]
    assert len(plain) >= 10 and (plain.cell == plain.short_name).all()
    cn = plain[plain.type == "company"]
    assert (cn.cell.str.len() < cn["name"].str.len()).all()


def test_transactions_follow_the_status(demo, truth, entities):
    tx = pd.read_csv(demo / "transactions.csv", dtype=str)
    erp = truth[truth.source == "erp"][["source_id", "entity_id"]]
    tx = tx.merge(erp, left_on="客户编码", right_on="source_id", how="left")
    assert tx.entity_id.notna().all()  # every transaction names an ERP customer
    assert tx.单据号.is_unique
    tx["date"] = pd.to_datetime(tx.单据日期)
    last = tx.groupby("entity_id").date.max()
    status = entities.set_index("entity_id").status
    end = pd.Timestamp(AS_OF)
    active = last[status[last.index] == "active"]
    dormant = last[status[last.index] == "dormant"]
    assert (active > end - pd.Timedelta(days=365)).all() and len(active) > 100
    assert (dormant < end - pd.Timedelta(days=730)).all() and len(dormant) > 5
    assert (tx.date <= end).all()
    in_erp = entities[entities.sources.str.contains("erp")]
    assert (~in_erp.entity_id.isin(last.index)).sum() > 0  # some never traded
    revenue = (
        tx[(tx.单据类型 == "销售") & (tx.date > end - pd.Timedelta(days=365))]
        .groupby("entity_id")
        .金额.apply(lambda s: s.astype(float).sum())
    )
    stated = entities.set_index("entity_id").revenue.astype(float)
    assert np.allclose(stated[revenue.index], revenue, atol=0.05)


def test_new_customers_copy_existing_ones_or_are_new(truth, entities):
    new = truth[truth.source == "new"]
    legacy_ids = set(truth[truth.source != "new"].entity_id)
    copies = new.entity_id.isin(legacy_ids)
    assert 0.5 <= copies.mean() <= 0.7
    only_new = entities[entities.sources == "new"]
    assert set(new.entity_id[~copies]) == set(only_new.entity_id)
    assert (new.defects[copies] != "").mean() > 0.8  # typed again, with variations


def test_written_config_is_valid_and_matches_the_files(demo):
    config = load_config(demo / "workbench.yaml")
    assert [s.name for s in config.sources] == ["erp", "crm", "ledger", "transactions"]
    assert config.project.seed == 42 and config.project.as_of_date == AS_OF
    headers = {
        "erp": list(ERP_COLUMNS),
        "crm": list(CRM_COLUMNS),
        "ledger": list(LEDGER_COLUMNS),
        "transactions": list(TRANSACTION_COLUMNS),
    }
    for spec in config.sources:
        assert set(spec.columns) == set(headers[spec.name]), spec.name
    assert config.source("transactions").customer_source == "erp"
    kinds = config.field_kinds()
    assert kinds["customer_name"] == "customer_name" and kinds["short_name"] == "company_name"
    assert config.resolve(config.match.ground_truth_path) == (demo / "ground_truth.csv").resolve()


def test_demo_mappings_and_suites_are_the_demo_projects_own(demo, tmp_path):
    from workbench.project.paths import ProjectPaths

    paths = ProjectPaths(load_config(demo / "workbench.yaml"))
    assert paths.suites_dir == (demo / "expectations").resolve()
    assert {p.name for p in paths.suites_dir.glob("*.json")} >= {"source_erp.json", "standardized_customers.json"}
    assert paths.approvals.exists() and paths.field_mapping("sap_s4_cockpit_customer").exists()
    # a project that is not the demo gets none of them: no suites folder, mappings only its own
    (tmp_path / "a.csv").write_text("id,name\n1,x\n", encoding="utf-8")
    (tmp_path / "workbench.yaml").write_text(
        "project: {name: other}\nsources:\n  - {name: a, path: a.csv, id_column: id, "
        "columns: {id: {field: cid, kind: id}, name: customer_name}}\n",
        encoding="utf-8",
    )
    other = ProjectPaths(load_config(tmp_path / "workbench.yaml"))
    assert other.suites_dir is None and other.mapping_dir == (tmp_path / "mappings").resolve()


def test_ingest_stages_and_quarantines_what_the_ground_truth_expects(demo, truth):
    from workbench.core.ingest import ingest_sources
    from workbench.engine.connection import connect

    config = load_config(demo / "workbench.yaml")
    con = connect()
    summary = ingest_sources(config, con)
    assert summary.balanced.all()
    quarantined = con.sql("SELECT source, row_number FROM quarantine ORDER BY source, row_number").fetchall()
    expected = truth[truth.expected_outcome == "quarantine"]
    assert quarantined == [(s, int(r)) for s, r in zip(expected.source, expected.file_row, strict=True)]
    for source in ("erp", "crm", "ledger"):
        staged = con.sql(f"SELECT customer_id FROM stg_{source} ORDER BY _row_number").fetchall()
        part = truth[(truth.source == source) & (truth.expected_outcome == "staged")]
        assert [r[0] for r in staged] == part.source_id.tolist(), source


def test_bad_parameters_raise_a_clear_error(tmp_path):
    with pytest.raises(DemoError, match="at least 50"):
        generate_demo(tmp_path, customers=10)
    with pytest.raises(DemoError, match="typo"):
        DemoRates(typo=1.5)
    with pytest.raises(DemoError, match="as_of"):
        generate_demo(tmp_path, customers=60, as_of="2026-11-01")  # type: ignore[arg-type]


def test_rates_switch_defects_off(tmp_path):
    off = {tag: 0.0 for tag in ("typo", "email_typo", "name_traditional")}
    generate_demo(tmp_path, customers=200, rates=DemoRates(**off))
    gt = pd.read_csv(tmp_path / "ground_truth.csv", dtype=str, keep_default_na=False)
    tags = set(gt.defects.str.split(";").explode())
    assert not tags & set(off) and "phone_format" in tags


def test_readme_documents_every_defect_tag():
    readme = (DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert all(f"| `{tag}` |" in readme for tag in DEFECT_TAGS)


def test_config_template_is_valid_on_its_own():
    config = load_config(DEMO_DIR / "workbench.yaml", check_files=False)
    assert config.project.default_region == "CN" and config.output.dir == Path("output")
