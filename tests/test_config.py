"""The project config loader: valid files load; every problem of a bad file is reported at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workbench.errors import ConfigError
from workbench.project.config import Kind, load_config

GOOD = """
project: {name: Test migration, language: en, default_region: DE, seed: 7}
output: {dir: out}
sources:
  - name: erp
    path: erp.csv
    encoding: auto
    id_column: Kundennummer
    columns:
      Kundennummer: {field: customer_id, kind: id}
      Name: {field: customer_name, kind: company_name}
      Telefon: {field: phone, kind: phone}
      Notiz: remark
  - name: crm
    path: crm.xlsx
    sheet: Accounts
    header_row: 3
    id_column: ID
    columns:
      ID: {field: crm_id, kind: id}
      Company: {field: customer_name, kind: company_name}
  - name: orders
    path: orders.parquet
    role: activity
    customer_source: erp
    id_column: Kunde
    columns:
      Kunde: {field: customer_id, kind: id}
      Datum: {field: order_date, kind: date}
      Betrag: {field: amount, kind: amount}
"""


def write_project(tmp_path: Path, text: str, files=("erp.csv", "crm.xlsx", "orders.parquet")) -> Path:
    for f in files:
        (tmp_path / f).write_bytes(b"x")
    path = tmp_path / "workbench.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_config_loads_with_resolved_paths(tmp_path):
    config = load_config(write_project(tmp_path, GOOD))
    assert [s.name for s in config.sources] == ["erp", "crm", "orders"]
    erp = config.source("erp")
    assert erp.file_format == "csv" and config.source("crm").file_format == "xlsx"
    assert config.source_path(erp) == (tmp_path / "erp.csv").resolve()
    assert config.output_dir == (tmp_path / "out").resolve()
    assert erp.columns["Notiz"].field == "remark" and erp.columns["Notiz"].kind is Kind.TEXT
    assert erp.id_field == "customer_id"
    assert [s.name for s in config.activity_sources] == ["orders"]
    assert config.field_kinds()["customer_name"] is Kind.COMPANY_NAME
    assert config.project.default_region == "DE"


def test_every_problem_is_reported_at_once(tmp_path):
    bad = GOOD.replace("language: en", "langauge: en").replace("kind: phone", "kind: phon")
    bad = bad.replace("id_column: Kundennummer", "id_column: Kundenummer")
    bad = bad.replace("customer_source: erp", "customer_source: erpp")
    bad = bad.replace("path: crm.xlsx", "path: crm_missing.xlsx")
    with pytest.raises(ConfigError) as info:
        load_config(write_project(tmp_path, bad))
    text = str(info.value)
    assert "project.langauge" in text and "Did you mean 'language'" in text
    assert "'phon' is not allowed" in text and "Did you mean 'phone'" in text
    assert "id_column" in text and "Did you mean 'Kundennummer'" in text
    assert "customer_source" in text and "Did you mean 'erp'" in text
    assert "crm_missing.xlsx" in text
    assert len(info.value.problems) >= 5


def test_kind_conflict_and_duplicate_fields(tmp_path):
    bad = GOOD.replace(
        "Company: {field: customer_name, kind: company_name}",
        "Company: {field: customer_name, kind: person_name}",
    )
    bad = bad.replace("Notiz: remark", "Notiz: phone")
    with pytest.raises(ConfigError) as info:
        load_config(write_project(tmp_path, bad))
    text = str(info.value)
    assert "one field has one kind in all sources" in text
    assert "map to the field 'phone'" in text


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "workbench.yaml"
    path.write_text("project: {name: x\nsources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "line" in str(info.value) and "invalid YAML" in str(info.value)


def test_missing_file_and_bad_names(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = GOOD.replace("name: erp\n", "name: Old ERP\n").replace(
        "customer_source: erp", "customer_source: crm"
    )
    with pytest.raises(ConfigError) as info:
        load_config(write_project(tmp_path, bad))
    assert "'Old ERP' is not a valid name" in str(info.value) and "'old_erp'" in str(info.value)


def test_activity_source_needs_date_and_customer_source(tmp_path):
    bad = GOOD.replace("    customer_source: erp\n", "").replace("kind: date", "kind: text")
    with pytest.raises(ConfigError) as info:
        load_config(write_project(tmp_path, bad))
    text = str(info.value)
    assert "must name the customer source" in text and "needs a column of kind `date`" in text


def test_check_files_can_be_skipped(tmp_path):
    path = write_project(tmp_path, GOOD, files=())
    with pytest.raises(ConfigError, match="file not found"):
        load_config(path)
    assert load_config(path, check_files=False).project.name == "Test migration"


def test_config_reference_doc_is_current():
    from workbench.devtools.config_reference import main

    assert main(["--check"]) == 0, "run: python -m workbench.devtools.config_reference"
