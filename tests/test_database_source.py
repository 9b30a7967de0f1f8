"""A source read from PostgreSQL next to a CSV source: audit → standardize → match on a real server.

The test starts its own PostgreSQL cluster (Debian's binaries under /usr/lib/postgresql, password
authentication, Unix socket only), loads the `crm_us` fixture rows into a table of a legacy
schema, and replaces that source of the `init`-written config of `en_small` with the table.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.project.config import load_config
from workbench.runner import run_project

FIXTURES = Path(__file__).parent / "fixtures" / "projects"
PASSWORD = "Wb-s3cret-7f3a9c"  # must never appear under the run folder
PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))

pytestmark = pytest.mark.skipif(not PG_BINS, reason="PostgreSQL server binaries not installed (.ci/run installs them)")


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """A running cluster with role `migrator` and database `legacy`; yields the connection URL."""
    import psycopg

    bindir = PG_BINS[-1].parent
    root = Path(tempfile.mkdtemp(prefix="wb-pg-", dir="/tmp"))
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    pwfile = root / "pw"
    pwfile.write_text("super-" + PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        _as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                         f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"]),
        **run,
    )
    subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                         "-o", f"-k {sock} -p {port} -c listen_addresses=''", "start"]),
        **run,
    )
    try:
        admin = f"postgresql://postgres:super-{PASSWORD}@/postgres?host={sock}&port={port}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE migrator LOGIN PASSWORD '{PASSWORD}'")
            conn.execute("CREATE DATABASE legacy OWNER migrator")
        yield f"postgresql://migrator:{PASSWORD}@/legacy?host={sock}&port={port}"
    finally:
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _load_crm_table(url: str) -> int:
    """crm_us.csv into legacy.customers (text columns, plus a typed credit limit); returns its rows."""
    import psycopg

    with open(FIXTURES / "en_small" / "crm_us.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    cols = ", ".join(f'"{h}" text' for h in header)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS erp")
        conn.execute("DROP TABLE IF EXISTS erp.customers")
        conn.execute(f'CREATE TABLE erp.customers ({cols}, "Credit Limit" numeric(12,2))')
        marks = ", ".join(["%s"] * (len(header) + 1))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO erp.customers VALUES ({marks})",
                [[v or None for v in r] + [1000 * (i + 1) + 0.5] for i, r in enumerate(body)],
            )
    return len(body)


def _project(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(FIXTURES / "en_small", tmp_path / "exports")
    (tmp_path / "exports" / "crm_us.csv").unlink()  # that source lives in the database
    (tmp_path / "exports" / "orders.csv").unlink()  # the orders of crm_us: not needed here
    monkeypatch.chdir(tmp_path)
    assert main(["init", "exports/", "--out", "project"]) == 0
    config_path = tmp_path / "project" / "workbench.yaml"
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    (crm,) = yaml.safe_load(_init_crm_source(tmp_path))["sources"]
    crm.pop("path"), crm.pop("encoding", None), crm.pop("header_row", None)
    crm.update(format="postgres", database={"connection_env": "LEGACY_ERP_URL", "table": "erp.customers"})
    raw["sources"] = [s for s in raw["sources"] if s["role"] == "customers"] + [crm]
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config_path


def _init_crm_source(tmp_path: Path) -> str:
    """The source entry `init` writes for crm_us.csv (the columns the table has)."""
    scratch = tmp_path / "crm_init"
    scratch.mkdir()
    shutil.copy(FIXTURES / "en_small" / "crm_us.csv", scratch / "crm_us.csv")
    assert main(["init", str(scratch / "crm_us.csv"), "--out", str(scratch / "p")]) == 0
    return (scratch / "p" / "workbench.yaml").read_text(encoding="utf-8")


def test_database_source_runs_audit_standardize_match_and_balances(postgres, tmp_path, monkeypatch):
    table_rows = _load_crm_table(postgres)
    config_path = _project(tmp_path, monkeypatch)
    monkeypatch.setenv("LEGACY_ERP_URL", postgres)
    assert main(["check", "--config", str(config_path), "--headers"]) == 0

    result = run_project(config_path, stages=["audit", "standardize", "match"], notebooks=False,
                         progress=lambda _: None)
    con = duckdb.connect(str(result.run_dir / "warehouse.duckdb"), read_only=True)
    try:
        summary = {r[0]: r[1:] for r in con.execute(
            "SELECT source, file, file_rows, staged_rows, quarantined_rows, balanced FROM ingest_summary"
        ).fetchall()}
        staged = dict(con.execute("SELECT _source, count(*) FROM std_customers GROUP BY 1").fetchall())
        crosswalk = dict(con.execute("SELECT source, count(*) FROM crosswalk GROUP BY 1").fetchall())
        credit = con.execute('SELECT DISTINCT "Credit Limit" FROM stg_crm_us ORDER BY 1 LIMIT 1').fetchone()
    finally:
        con.close()
    file, file_rows, staged_rows, quarantined, balanced = summary["crm_us"]
    assert file == "postgres:erp.customers ($LEGACY_ERP_URL)"
    assert file_rows == table_rows and staged_rows + quarantined == table_rows and balanced
    assert all(s[-1] for s in summary.values())
    assert crosswalk == staged and staged["crm_us"] == staged_rows
    assert credit == ("1000.50",)

    # the password is nowhere in the run: not in a file, not in the database
    leaks = [p for p in result.run_dir.rglob("*") if p.is_file() and PASSWORD.encode() in p.read_bytes()]
    assert leaks == []


def test_database_source_errors_name_the_source_not_the_connection(postgres, tmp_path, monkeypatch):
    _load_crm_table(postgres)
    config_path = _project(tmp_path, monkeypatch)
    monkeypatch.delenv("LEGACY_ERP_URL", raising=False)
    with pytest.raises(WorkbenchError, match="LEGACY_ERP_URL is not set"):
        load_config(config_path)
    monkeypatch.setenv("LEGACY_ERP_URL", postgres.replace(PASSWORD, "wrong-password"))
    assert main(["check", "--config", str(config_path), "--headers"]) == 2
    monkeypatch.setenv("LEGACY_ERP_URL", postgres)
    raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    raw["sources"][-1]["database"]["table"] = "erp.no_such_table"
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from workbench.core.ingest import check_headers

    with pytest.raises(WorkbenchError) as err:
        check_headers(load_config(config_path))
    message = str(err.value)
    assert "source 'crm_us' (postgres:erp.no_such_table ($LEGACY_ERP_URL))" in message
    assert "no_such_table" in message and PASSWORD not in message
