"""Foreign data on a config `init` wrote: no silent degradation (issue 10, item 6).

The `en_small` fixture: a US CRM (MM/DD dates, SSNs, customer IDs such as `11` and `555`) and an
Australian contact list (DD/MM dates, street number / street / suburb in three columns). Audit and
standardize run in process on the config `init` writes; the assertions read what they computed.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from stdnum.us import ssn

from workbench.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "projects"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("foreign")
    shutil.copytree(FIXTURES / "en_small", root / "exports")
    assert main(["init", str(root / "exports"), "--out", str(root / "p")]) == 0
    config = str(root / "p" / "workbench.yaml")
    assert main(["run", "--config", config, "--stages", "audit,standardize", "--no-notebooks"]) == 0
    (run_dir,) = list((root / "p" / "output" / "runs").iterdir())
    return run_dir


def _rows(run: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(run / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_source_s_own_key_made_of_one_repeated_digit_is_no_test_record(run):
    rows = dict(_rows(run, "SELECT customer_id, is_test FROM std_customers WHERE _source = 'crm_us'"))
    assert rows["11"] is False and rows["555"] is False
    # the test records that are found are counted by reason and source
    metrics = json.loads((run / "metrics" / "standardize.json").read_text(encoding="utf-8"))
    flagged = sum(1 for v in rows.values() if v)
    assert metrics["test_records"] == flagged == sum(metrics["test_records_by_source"].values())


def test_dates_follow_the_region_of_each_source(run):
    for source, day_first in (("crm_us", False), ("au_contacts", True)):
        pairs = _rows(run, f"SELECT created_date_raw, created_date FROM std_customers WHERE _source = '{source}' "
                           "AND created_date_raw LIKE '__/__/____'")
        assert pairs, source
        for raw, value in pairs:
            a, b, year = (int(x) for x in raw.split("/"))
            day, month = (a, b) if day_first else (b, a)
            assert value == dt.date(year, month, day), (source, raw, value)
    ambiguous = _rows(run, "SELECT count(*) FROM std_customers WHERE _source = 'crm_us' AND "
                           "created_date_raw LIKE '__/__/____' AND CAST(substr(created_date_raw, 4, 2) AS INT) <= 12")
    assert ambiguous[0][0] > 0  # some US dates would swap silently under day-first


def test_person_ids_are_checked_with_their_country_s_checksum(run):
    rows = _rows(run, "SELECT person_id_raw, person_id, person_id_valid FROM std_customers "
                      "WHERE _source = 'crm_us' AND person_id_raw IS NOT NULL")
    assert rows
    for raw, value, valid in rows:
        expected = ssn.is_valid(raw)
        assert valid is expected, raw
        assert (value == ssn.compact(raw)) if expected else value is None, raw
    assert any(not v for _, _, v in rows)  # the fixture plants invalid SSNs
    rejected = _rows(run, "SELECT count(*) FROM change_log WHERE rule LIKE 'reject_us_ssn%'")[0][0]
    assert rejected == sum(1 for _, _, v in rows if not v)


def test_an_address_is_built_from_three_columns_and_the_parts_stay(run):
    rows = _rows(run, "SELECT street_number, street, suburb, address FROM std_customers WHERE _source = 'au_contacts'")
    assert rows
    for number, street, suburb, address in rows:
        parts = [p for p in (number, street, suburb) if p]
        assert parts and all(p.split()[0] in address for p in parts), (parts, address)
