"""Tests of the demo's hard variant (generate_demo(hard=True)) on a demo of 600 customers."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pypinyin import lazy_pinyin
from python_calamine import CalamineWorkbook
from stdnum.cn import ric

from workbench.demo import DEFECT_TAGS, generate_demo
from workbench.demo.hard_rows import MEMBERS_COLUMNS
from workbench.demo.rates import HARD_TAGS, DemoError, HardRates
from workbench.project.config import load_config

N = 600
AS_OF = dt.date(2026, 11, 1)
FILES = (
    "erp_customers.csv", "crm_accounts.xlsx", "ledger.xlsx", "members.csv", "transactions.csv",
    "new_customers.csv", "ground_truth.csv", "entities.csv", "workbench.yaml",
)  # fmt: skip


@pytest.fixture(scope="module")
def hard(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hard")
    generate_demo(out, customers=N, seed=42, as_of=AS_OF, hard=True)
    return out


@pytest.fixture(scope="module")
def truth(hard) -> pd.DataFrame:
    return pd.read_csv(hard / "ground_truth.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def entities(hard) -> pd.DataFrame:
    return pd.read_csv(hard / "entities.csv", dtype=str, keep_default_na=False).set_index("entity_id")


def _sheet(path: Path, sheet: str, header_row: int) -> pd.DataFrame:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    head = [str(h) for h in rows[header_row - 1]]
    return pd.DataFrame([[("" if v is None else str(v)) for v in r] for r in rows[header_row:]], columns=head)


@pytest.fixture(scope="module")
def rows(hard, truth) -> dict[str, pd.DataFrame]:
    """Every customer file as text, one row per ground-truth row, with its truth columns."""
    erp = pd.read_csv(
        hard / "erp_customers.csv",
        encoding="gb18030",
        encoding_errors="replace",
        dtype=str,
        keep_default_na=False,
        on_bad_lines="skip",
    )
    files = {
        "erp": (erp, "客户编码"),
        "crm": (_sheet(hard / "crm_accounts.xlsx", "Accounts", 1), "Account ID"),
        "ledger": (_sheet(hard / "ledger.xlsx", "客户台账", 4), "序号"),
        "members": (
            pd.read_csv(hard / "members.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False),
            "会员编号",
        ),
        "new": (pd.read_csv(hard / "new_customers.csv", dtype=str, keep_default_na=False), "客户编码"),
    }
    out = {}
    for source, (frame, key) in files.items():
        part = truth[truth.source == source]
        out[source] = frame.merge(part, left_on=key, right_on="source_id", how="inner")
    return out


def tagged(frame: pd.DataFrame, tag: str) -> pd.DataFrame:
    return frame[frame.defects.str.split(";").apply(lambda tags: tag in tags)]


def test_same_seed_gives_identical_bytes_and_another_seed_other_data(hard, tmp_path):
    generate_demo(tmp_path / "again", customers=N, seed=42, as_of=AS_OF, hard=True)
    generate_demo(tmp_path / "other", customers=N, seed=7, as_of=AS_OF, hard=True)
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (hard / name).read_bytes(), name
    for name in ("members.csv", "ground_truth.csv", "entities.csv"):
        assert (tmp_path / "other" / name).read_bytes() != (hard / name).read_bytes(), name


def test_bytes_do_not_depend_on_the_process_hash_seed(hard, tmp_path):
    code = (
        "import datetime as dt, sys; from workbench.demo import generate_demo; "
        f"generate_demo(sys.argv[1], customers={N}, seed=42, as_of=dt.date(2026, 11, 1), hard=True)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4711"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, timeout=120)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (hard / name).read_bytes(), name


def test_every_hard_case_is_planted_with_its_tag(truth):
    tags = set(truth.defects[truth.defects != ""].str.split(";").explode())
    assert set(HARD_TAGS) <= tags
    assert tags <= set(DEFECT_TAGS)
    order = {t: i for i, t in enumerate(DEFECT_TAGS)}
    for cell in truth.defects[truth.defects != ""]:
        listed = cell.split(";")
        assert listed == sorted(set(listed), key=order.__getitem__)
    assert {"household", "branch", "subsidiary", "sister", "parent"} <= set(truth.relation)


def test_ground_truth_covers_every_row_of_every_file_once(hard, truth):
    assert not truth.duplicated(["source", "file_row"]).any()
    assert not truth.duplicated(["source", "source_id"]).any()
    with (hard / "members.csv").open(encoding="utf-8-sig", newline="") as fh:
        members = list(csv.reader(fh))
    assert members[0] == list(MEMBERS_COLUMNS)
    part = truth[truth.source == "members"]
    assert part.source_id.tolist() == [r[0] for r in members[1:]]
    assert part.file_row.astype(int).tolist() == list(range(2, len(members) + 1))
    assert set(truth.source) == {"erp", "crm", "ledger", "members", "new"}


def test_every_file_row_has_its_truth_row(rows, truth):
    counts = truth.source.value_counts()
    for source, frame in rows.items():
        skipped = 1 if source == "erp" else 0  # the row with a cell too many (read here with on_bad_lines=skip)
        assert len(frame) == counts[source] - skipped, source


def test_household_members_share_an_id_but_are_different_people(rows, entities):
    m = rows["members"]
    shared = tagged(m, "shared_id")
    assert len(shared) >= 5
    owner = entities.reset_index().set_index("id_number").entity_id
    for _, r in shared.iterrows():
        assert r.证件号码 != entities.id_number[r.entity_id]
        other = owner[r.证件号码]
        assert other != r.entity_id and entities.group_id[other] == r.group_id != ""
        assert entities.address[other] == entities.address[r.entity_id]  # one home
    # one ID, several people: rows of different entities under one ID number
    per_id = m[m.证件号码 != ""].groupby("证件号码").entity_id.nunique()
    assert (per_id > 1).sum() >= 5
    households = entities[entities.relation == "household"].groupby("group_id")
    assert households.ngroups >= 10 and (households.address.nunique() == 1).all()
    assert (households.size() >= 2).all()


def test_resident_ids_are_valid_and_carry_the_birth_date(entities, rows):
    people = entities[entities.type == "individual"]
    assert people.id_number.is_unique and people.id_number.map(ric.is_valid).all()
    assert (people.id_number.str[6:14] == people.birth_date.str.replace("-", "")).all()
    assert ((people.id_number.str[16].astype(int) % 2 == 1) == (people.gender == "男")).all()
    m = rows["members"]
    mistyped = tagged(m, "id_typo")
    assert len(mistyped) >= 1
    for _, r in mistyped.iterrows():
        own = entities.id_number[r.entity_id]
        assert sum(a != b for a, b in zip(r.证件号码, own, strict=True)) == 1
    clean = m[~m.defects.str.contains("id_typo|shared_id")]
    assert (clean.证件号码 == clean.entity_id.map(entities.id_number)).all()


def test_swapped_names_and_street_lines(rows, entities):
    m = rows["members"]
    swapped = tagged(m, "name_swap")
    assert len(swapped) >= 1
    assert (swapped.姓 == swapped.entity_id.map(entities.given_name)).all()
    assert (swapped.名 == swapped.entity_id.map(entities.surname)).all()
    plain = m[~m.defects.str.contains("name_swap")]
    assert (plain.姓 == plain.entity_id.map(entities.surname)).all()
    lines = tagged(m, "street_swap")
    assert len(lines) >= 1
    for _, r in lines.iterrows():
        assert entities.address[r.entity_id].endswith(r.地址2 + r.地址1)
    for _, r in m[~m.defects.str.contains("street_swap")].iterrows():
        assert entities.address[r.entity_id].endswith(r.地址1 + r.地址2)


def test_trade_name_forms(rows, entities):
    ledger = rows["ledger"]
    only = tagged(ledger, "brand_only")
    assert len(only) >= 3
    brand = {e: n for e, n in zip(entities.index, entities.short_name, strict=True)}
    for _, r in only.iterrows():
        assert len(r.客户简称) in (2, 3) and brand[r.entity_id].startswith(r.客户简称)
    crm = rows["crm"]
    dropped = tagged(crm, "legal_form_dropped")
    assert len(dropped) >= 3
    assert (
        not dropped["Account Name"].str.contains("Co., Ltd.|有限公司|有限责任公司|股份公司", regex=True).any()
    )
    roman = dropped[dropped.defects.str.contains("romanised_name")]
    assert len(roman) >= 1 and roman["Account Name"].str.fullmatch(r"[A-Za-z ()&.,'-]+").all()
    changed = 0
    name_tags = {"fullwidth", "legal_form_variant", "typo", "name_traditional", "region_in_brackets",
                 "mojibake", "brand_only", "legal_form_dropped", "gufen_variant", "branch_marker_dropped"}  # fmt: skip
    for source, col in (
        ("erp", "客户名称"),
        ("crm", "Account Name"),
        ("ledger", "客户简称"),
        ("new", "客户名称"),
    ):
        frame = rows[source]
        for tag in ("brand_homophone", "brand_typo"):
            for _, r in tagged(frame, tag).iterrows():
                if name_tags & set(r.defects.split(";")):  # another change of the name: not comparable
                    continue
                true = entities.name[r.entity_id] if source != "ledger" else entities.short_name[r.entity_id]
                cell = r[col]
                diff = [i for i, (a, b) in enumerate(zip(cell, true, strict=True)) if a != b]
                assert len(cell) == len(true) and len(diff) == 1, (cell, true)
                i = diff[0]
                at = true.find(entities.short_name[r.entity_id][:2])  # the 字号 (two or three characters)
                assert 0 <= at <= i < at + 3, (cell, true)  # the change is in the trade name
                if tag == "brand_homophone":
                    assert lazy_pinyin(cell[i]) == lazy_pinyin(true[i])
                changed += 1
    assert changed >= 5


def test_gufen_and_branch_markers(rows, entities):
    erp, ledger = rows["erp"], rows["ledger"]
    gufen = pd.concat([tagged(erp, "gufen_variant"), tagged(rows["crm"], "gufen_variant")])
    assert len(gufen) >= 2
    assert (gufen.entity_id.map(entities.name).str.contains("股份有限公司")).all()
    cells = gufen.客户名称.where(gufen.source == "erp", gufen["Account Name"])
    assert not cells.str.contains("股份有限公司").any()
    short = tagged(ledger, "gufen_variant")
    assert len(short) >= 1 and short.客户简称.str.endswith("股份").all()
    parent = entities.parent_entity_id
    marker = pd.concat([tagged(erp, "branch_marker_dropped").assign(cell=lambda d: d.客户名称),
                        tagged(ledger, "branch_marker_dropped").assign(cell=lambda d: d.客户简称)])  # fmt: skip
    assert len(marker) >= 1
    for _, r in marker.iterrows():
        assert entities.relation[r.entity_id] == "branch"
        top = r.entity_id
        while parent[top]:
            top = parent[top]
        want = entities.short_name[top] if r.source == "ledger" else entities.name[top]
        assert r.cell == want and "分公司" not in r.cell


def test_nested_branches_carry_their_parents_name(rows, entities):
    nested = entities[
        entities.relation.eq("branch") & entities.parent_entity_id.map(entities.relation).eq("branch")
    ]
    assert len(nested) >= 2
    for _, e in nested.iterrows():
        up = entities.loc[e.parent_entity_id]
        assert e["name"].startswith(up["name"]) and e["name"][-3:] in ("营业部", "办事处", "经营部")
        assert e.city == up.city and e.english_name.startswith(up.english_name)
    flagged = pd.concat([tagged(rows[s], "nested_branch") for s in ("erp", "crm", "ledger")])
    assert set(flagged.entity_id) <= set(nested.index) and len(flagged) >= 1


def test_moved_customers_give_old_address_and_numbers(rows, entities):
    moved = tagged(rows["erp"], "moved")
    assert len(moved) >= 2
    for _, r in moved.iterrows():
        e = entities.loc[r.entity_id]
        assert r.客户名称 == e["name"] or r.defects != "moved"
        assert r.地址 != e.address and r.地址[:2] == e.address[:2]  # moved within the province
        assert (r.手机 == "" and e.mobile == "") or r.手机 != e.mobile
        assert (r.电话 == "" and e.phone == "") or r.电话 != e.phone
        if r.电话:
            assert r.电话.split("-")[0] == e.phone.split("-")[0]  # same city: same area code
    assert len(tagged(rows["crm"], "moved")) + len(tagged(rows["ledger"], "moved")) >= 1


def test_lookalikes_share_a_switchboard_or_a_building(rows, entities):
    by_phone = entities[entities.phone != ""].groupby("phone").size()
    erp = rows["erp"]
    phones = tagged(erp, "shared_phone")
    assert len(phones) >= 5
    assert (phones.entity_id.map(entities.phone).map(by_phone) >= 2).all()
    companies = phones[phones.entity_id.map(entities.type) == "company"]
    assert (companies.group_id != "").all() and len(companies) >= 3
    homes = phones[phones.entity_id.map(entities.relation) == "household"]
    assert len(homes) >= 1
    building = tagged(erp, "shared_building")
    assert len(building) >= 3
    key = entities.address.str.extract(r"^(.*?号)")[0]
    for _, r in building.iterrows():
        same = entities[(key == key[r.entity_id]) & (entities.group_id == r.group_id)]
        assert len(same) >= 2  # another member of the group in the same building
    # a member that shares the parent's switchboard or building is in the parent's city
    subs = entities[entities.relation.isin(["branch", "subsidiary"])]
    parent_phone = subs.parent_entity_id.map(entities.phone)
    sharing = subs[(subs.phone == parent_phone) & (subs.phone != "")]
    assert len(sharing) >= 3 and (sharing.city == sharing.parent_entity_id.map(entities.city)).all()


def test_hard_config_is_valid_and_ingest_stages_every_row(hard, truth):
    from workbench.core.ingest import ingest_sources
    from workbench.engine.connection import connect

    config = load_config(hard / "workbench.yaml")
    assert [s.name for s in config.sources] == ["erp", "crm", "ledger", "members", "transactions"]
    assert set(config.source("members").columns) == set(MEMBERS_COLUMNS)
    assert {"households", "lookalikes", "name_forms"} <= set(config.match.hard_cases)
    con = connect()
    summary = ingest_sources(config, con)
    assert summary.balanced.all()
    staged = con.sql("SELECT customer_id FROM stg_members ORDER BY _row_number").fetchall()
    assert [r[0] for r in staged] == truth[truth.source == "members"].source_id.tolist()
    assert con.sql("SELECT count(*) FROM quarantine").fetchall()[0][0] == 2


def test_hard_rates_are_checked():
    with pytest.raises(DemoError, match="moved"):
        HardRates(moved=2.0)
