"""Small hand-made run tables for the phase 7/9 tests (validation, reconcile, sampling, monitoring).

Twelve source rows whose outcomes are known by construction:

=========  ======  ========================================  ===================
row        master  batch                                     expected outcome
=========  ======  ========================================  ===================
erp:2      M001    01_top_revenue (with crm:2)               loaded (primary)
crm:2      M001                                              merged
erp:3      M002    02_active (with crm:4)                    loaded (primary)
crm:4      M002                                              merged
erp:4      M003    deferred_dormant                          deferred
erp:5      M004    excluded (test record)                    excluded
erp:6/7    M005    05_other, rejected by the generic profile rejected (both)
crm:3      M006    02_active                                 loaded
crm:5      M007    05_other                                  loaded
erp:8      –       quarantine (bad bytes)                    quarantined
crm:6      –       quarantine (wrong number of cells)        quarantined
=========  ======  ========================================  ===================
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.project.config import ProjectConfig, parse_config

EXPECTED = {
    "erp:2": ("loaded", "M001"),
    "crm:2": ("merged", "M001"),
    "erp:3": ("loaded", "M002"),
    "crm:4": ("merged", "M002"),
    "erp:4": ("deferred", "M003"),
    "erp:5": ("excluded", "M004"),
    "erp:6": ("rejected", "M005"),
    "erp:7": ("rejected", "M005"),
    "crm:3": ("loaded", "M006"),
    "crm:5": ("loaded", "M007"),
    "erp:8": ("quarantined", None),
    "crm:6": ("quarantined", None),
}

GENERIC_MAPPING = """target_profile,target_field,source_field,transform,note
generic,customer_code,master_id,copy,
generic,customer_name,customer_name,copy,
generic,customer_type,customer_type,copy,
generic,tax_id,uscc,copy,
generic,mobile,mobile,copy,
generic,email,email,copy,
"""


def make_config(tmp_path: Path, **report: object) -> ProjectConfig:
    """A project with two customer sources (erp, crm), one activity source and the generic profile."""
    (tmp_path / "mappings").mkdir(parents=True, exist_ok=True)
    (tmp_path / "mappings" / "field_mapping_generic.csv").write_text(GENERIC_MAPPING, encoding="utf-8")
    (tmp_path / "mappings" / "value_mappings.csv").write_text(
        "map_name,legacy_value,target_value,note\n", encoding="utf-8"
    )
    raw = {
        "project": {"name": "测试项目", "language": "en", "seed": 7},
        "sources": [
            {
                "name": "erp",
                "path": "erp.csv",
                "id_column": "编码",
                "columns": {
                    "编码": {"field": "customer_code", "kind": "id"},
                    "名称": {"field": "customer_name", "kind": "customer_name"},
                    "手机": {"field": "mobile", "kind": "phone"},
                    "邮箱": {"field": "email", "kind": "email"},
                    "税号": {"field": "uscc", "kind": "tax_id"},
                },
            },
            {
                "name": "crm",
                "path": "crm.csv",
                "id_column": "Account ID",
                "columns": {
                    "Account ID": {"field": "account_id", "kind": "id"},
                    "Account Name": {"field": "customer_name", "kind": "customer_name"},
                    "Mobile": {"field": "mobile", "kind": "phone"},
                    "Email": {"field": "email", "kind": "email"},
                },
            },
            {
                "name": "tx",
                "path": "tx.csv",
                "role": "activity",
                "customer_source": "erp",
                "id_column": "客户编码",
                "columns": {
                    "客户编码": {"field": "customer_code", "kind": "id"},
                    "日期": {"field": "doc_date", "kind": "date"},
                    "金额": {"field": "amount", "kind": "amount"},
                },
            },
        ],
        "output": {"dir": "out"},
        "export": {"profiles": ["generic"], "mapping_dir": "mappings"},
        # the fixture's own (empty) suite folder: suites are generated from this config
        "report": {"expectations_dir": "expectations", **report},
    }
    return parse_config(raw, tmp_path / "workbench.yaml", check_files=False)


def _stg(source: str, rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df.insert(0, "_row_hash", [f"h{source}{r['_row_number']}" for r in rows])
    df.insert(0, "_file", f"{source}.csv")
    df.insert(0, "_source", source)
    cols = ["_source", "_file", "_row_number", "_row_hash"] + [c for c in df.columns if not c.startswith("_")]
    df = df[cols]
    return df.astype({c: "string" for c in cols if c != "_row_number"})


ERP = [
    {
        "_row_number": 2,
        "customer_code": "E1",
        "customer_name": "上海华瑞科技有限公司",
        "mobile": "13800138001",
        "email": "hr@huarui.cn",
        "uscc": "91310000MA1FL3XR2B",
    },
    {
        "_row_number": 3,
        "customer_code": "E2",
        "customer_name": "北京明达贸易有限公司",
        "mobile": "13912345678",
        "email": "md@qq.com",
        "uscc": "91110000600001760P",
    },
    {
        "_row_number": 4,
        "customer_code": "E3",
        "customer_name": "深圳老客户有限公司",
        "mobile": "13700000001",
        "email": None,
        "uscc": None,
    },
    {
        "_row_number": 5,
        "customer_code": "E4",
        "customer_name": "测试客户",
        "mobile": "11111111111",
        "email": "test@test.com",
        "uscc": None,
    },
    {
        "_row_number": 6,
        "customer_code": "E5",
        "customer_name": "广州超长名称" + "很长" * 40 + "有限公司",
        "mobile": "13600000005",
        "email": "gz@163.com",
        "uscc": "91440000MA5D8XYZ1X",
    },
    {
        "_row_number": 7,
        "customer_code": "E5",
        "customer_name": "广州超长名称有限公司",
        "mobile": "136-0000-0005",
        "email": "GZ@163.COM",
        "uscc": None,
    },
]
CRM = [
    {
        "_row_number": 2,
        "account_id": "C1",
        "customer_name": "Shanghai Huarui Technology Co., Ltd.",
        "mobile": "+86 138 0013 8001",
        "email": "hr@huarui.cn",
    },
    {
        "_row_number": 3,
        "account_id": "C2",
        "customer_name": "王小明",
        "mobile": "13512345678",
        "email": "wxm@qq.com",
    },
    {
        "_row_number": 4,
        "account_id": "C3",
        "customer_name": "明达贸易",
        "mobile": "13912345678",
        "email": None,
    },
    {
        "_row_number": 5,
        "account_id": "C4",
        "customer_name": "Müller GmbH",
        "mobile": "+49 30 1234567",
        "email": "info@mueller.de",
    },
]
TX = [
    {"_row_number": 2, "customer_code": "E1", "doc_date": "2026-10-01", "amount": "1000.5"},
    {"_row_number": 3, "customer_code": "E1", "doc_date": "2026-09-01", "amount": "-200"},
    {"_row_number": 4, "customer_code": "E2", "doc_date": "2026-08-15", "amount": "300"},
]
CROSSWALK = [
    ("erp", "E1", "erp:2", "M001"),
    ("crm", "C1", "crm:2", "M001"),
    ("erp", "E2", "erp:3", "M002"),
    ("crm", "C3", "crm:4", "M002"),
    ("erp", "E3", "erp:4", "M003"),
    ("erp", "E4", "erp:5", "M004"),
    ("erp", "E5", "erp:6", "M005"),
    ("erp", "E5", "erp:7", "M005"),
    ("crm", "C2", "crm:3", "M006"),
    ("crm", "C4", "crm:5", "M007"),
]
GOLDEN = [
    # master, name, type, mobile, email, uscc, sources, match_type, batch, reason
    (
        "M001",
        "上海华瑞科技有限公司",
        "B2B",
        "13800138001",
        "hr@huarui.cn",
        "91310000MA1FL3XR2B",
        "erp;crm",
        "merged",
        "01_top_revenue",
        "top revenue",
    ),
    (
        "M002",
        "北京明达贸易有限公司",
        "B2B",
        "13912345678",
        "md@qq.com",
        "91110000600001760P",
        "erp;crm",
        "reviewed",
        "02_active",
        "active",
    ),
    (
        "M003",
        "深圳老客户有限公司",
        "B2B",
        "13700000001",
        None,
        None,
        "erp",
        "single",
        "deferred_dormant",
        "no transaction for 24 months",
    ),
    ("M004", "测试客户", "B2B", None, "test@test.com", None, "erp", "single", "excluded", "test record"),
    (
        "M005",
        "广州超长名称" + "很长" * 40 + "有限公司",
        "B2B",
        "13600000005",
        "gz@163.com",
        "91440000MA5D8XYZ1X",
        "erp",
        "merged",
        "05_other",
        "other",
    ),
    ("M006", "王小明", "B2C", "13512345678", "wxm@qq.com", None, "crm", "single", "02_active", "active"),
    ("M007", "Müller GmbH", "B2B", None, "info@mueller.de", None, "crm", "single", "05_other", "other"),
]


def std_frame() -> pd.DataFrame:
    """A std_customers-shaped table: lineage, source_id, and per field raw/value/valid/issue."""
    rows = []
    for source, data, idf in (("erp", ERP, "customer_code"), ("crm", CRM, "account_id")):
        for r in data:
            rec = {
                "record_key": f"{source}:{r['_row_number']}",
                "_source": source,
                "_row_number": r["_row_number"],
                "_row_hash": f"h{source}{r['_row_number']}",
                "source_id": r[idf],
            }
            for f in ("customer_code", "account_id", "customer_name", "mobile", "email", "uscc"):
                raw = r.get(f)
                rec[f"{f}_raw"] = raw
                value = raw
                if f == "mobile" and raw:
                    digits = "".join(ch for ch in raw if ch.isdigit())
                    value = (
                        "+" + digits
                        if raw.startswith("+")
                        else ("+86" + digits if len(digits) == 11 else None)
                    )
                    if raw == "11111111111":
                        value = None
                if f == "email" and raw:
                    value = raw.lower()
                rec[f] = value
                rec[f"{f}_valid"] = None if raw is None else value is not None
                rec[f"{f}_issue"] = None if raw is None or value is not None else "invalid"
            rec["mobile_e164"] = rec["mobile"]
            rec["customer_type"] = "B2C" if r.get("customer_name") == "王小明" else "B2B"
            rec["record_status"] = "active"
            rec["is_test"] = r.get("customer_name") == "测试客户"
            rec["flags"] = "test" if rec["is_test"] else None
            rows.append(rec)
    return pd.DataFrame(rows)


def golden_frame() -> pd.DataFrame:
    g = pd.DataFrame(
        GOLDEN,
        columns=[
            "master_id",
            "customer_name",
            "customer_type",
            "mobile",
            "email",
            "uscc",
            "sources",
            "match_type",
            "_batch",
            "_reason",
        ],
    )
    g["record_status"] = "active"
    g["member_count"] = g["master_id"].map(pd.Series([c[3] for c in CROSSWALK]).value_counts())
    return g.drop(columns=["_batch", "_reason"])


def _table(con, name: str, frame: pd.DataFrame) -> None:
    con.register("__frame", frame)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM __frame")
    con.unregister("__frame")


def build_run_tables(con, *, with_exports: bool = True) -> None:
    """Create every table the phase 7 modules read, in `con` (an in-memory DuckDB)."""
    _table(con, "stg_erp", _stg("erp", ERP))
    _table(con, "stg_crm", _stg("crm", CRM))
    _table(con, "stg_tx", _stg("tx", TX))
    con.execute(
        "CREATE TABLE quarantine AS SELECT * FROM (VALUES "
        "('erp', 'erp.csv', 8, 'bad bytes for gbk', 'E9,\\xff\\xfe'), "
        "('crm', 'crm.csv', 6, 'wrong number of cells', 'C5,a,b,c')) "
        "t(source, file, row_number, reason, raw_text)"
    )
    con.execute(
        "CREATE TABLE ingest_summary AS SELECT * FROM (VALUES "
        "('erp', 'erp.csv', 'csv', 'gbk', 7, 6, 1, true), ('crm', 'crm.csv', 'csv', 'utf-8', 5, 4, 1, true), "
        "('tx', 'tx.csv', 'csv', 'utf-8', 3, 3, 0, true)) "
        "t(source, file, format, encoding, file_rows, staged_rows, quarantined_rows, balanced)"
    )
    _table(con, "std_customers", std_frame())
    cw = pd.DataFrame(CROSSWALK, columns=["source", "source_id", "record_key", "master_id"])
    cw["match_probability"] = [0.99, 0.99, 1.0, 0.95, None, None, 1.0, 1.0, None, None]
    cw["match_reason"] = ["model", "model", "uscc", "review:match", None, None, "uscc", "uscc", None, None]
    _table(con, "crosswalk", cw)
    _table(con, "golden_customers", golden_frame())
    prov = []
    for master, name, _t, mobile, email, uscc, *_ in GOLDEN:
        members = [c[2] for c in CROSSWALK if c[3] == master]
        first = sorted(members)[0] if master not in ("M001", "M002") else members[0]
        for fld, val in (("customer_name", name), ("mobile", mobile), ("email", email), ("uscc", uscc)):
            if val is not None:
                src = members[-1] if (master == "M001" and fld == "email") else first
                prov.append((master, fld, val, src, src.split(":")[0], "source_priority"))
    prov_df = pd.DataFrame(prov, columns=["master_id", "field", "value", "record_key", "source", "rule"])
    _table(con, "golden_provenance", prov_df)
    plan = pd.DataFrame([(g[0], g[8], g[9]) for g in GOLDEN], columns=["master_id", "batch", "reason"])
    order = {"01_top_revenue": 1, "02_active": 2, "05_other": 5, "deferred_dormant": 90, "excluded": 99}
    plan["batch_order"] = plan["batch"].map(order)
    plan["wave"] = 1
    _table(con, "batch_plan", plan[["master_id", "batch", "batch_order", "wave", "reason"]])
    if with_exports:
        con.execute(
            "CREATE TABLE load_rows AS SELECT * FROM (VALUES "
            "('r1', 'generic', '01_top_revenue', 'exports/generic/01.csv', 2, 'M001', 'M001'), "
            "('r1', 'generic', '02_active', 'exports/generic/02.csv', 2, 'M002', 'M002'), "
            "('r1', 'generic', '02_active', 'exports/generic/02.csv', 3, 'M006', 'M006'), "
            "('r1', 'generic', '05_other', 'exports/generic/05.csv', 2, 'M007', 'M007')) "
            "t(run_id, profile, batch, file, row_in_file, master_id, row_key)"
        )
        con.execute(
            "CREATE TABLE reject_rows AS SELECT * FROM (VALUES "
            "('generic', '05_other', 'M005', 'customer_name', 'longer than 200 characters')) "
            "t(profile, batch, master_id, field, reason)"
        )


def write_generic_load_files(root: Path, golden: pd.DataFrame, load_rows: pd.DataFrame) -> None:
    """Write the generic CSV load files named in `load_rows` with the golden values (as the export would)."""
    from workbench.core.export.load_files import write_load_file
    from workbench.core.targets.profiles import load_profile

    profile = load_profile("generic")
    for file, rows in load_rows.groupby("file"):
        g = golden.set_index("master_id").loc[rows.sort_values("row_in_file")["master_id"]].reset_index()
        frame = pd.DataFrame({f.name: [None] * len(g) for f in profile.main.fields})
        frame["customer_code"] = g["master_id"].tolist()
        frame["customer_name"] = g["customer_name"].tolist()
        frame["customer_type"] = g["customer_type"].tolist()
        frame["tax_id"] = g["uscc"].tolist()
        frame["mobile"] = g["mobile"].tolist()
        frame["email"] = g["email"].tolist()
        frame.insert(0, "master_id", g["master_id"].tolist())
        write_load_file(root / file, profile, {profile.main.id: frame})


DEMO_MAPPINGS = Path(__file__).resolve().parent.parent / "workbench" / "demo" / "mappings"


def build_demo_run(tmp_path: Path, *, customers: int = 300, through: str = "export", run_id: str = "r1"):
    """Generate the demo project and run its stages up to `through` (``golden`` or ``export``).

    Returns the :class:`~workbench.project.context.RunContext` of the run (its folder is the project's latest run).
    """
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers
    from workbench.demo import generate_demo
    from workbench.project.config import load_config
    from workbench.project.context import RunContext
    from workbench.project.paths import RunPaths

    project = tmp_path / "demo"
    if not (project / "workbench.yaml").exists():
        generate_demo(project, customers=customers, seed=42)
        text = (project / "workbench.yaml").read_text(encoding="utf-8")
        if "\nexport:" not in text:
            text += f"\nexport:\n  mapping_dir: {DEMO_MAPPINGS.as_posix()}\n"
            (project / "workbench.yaml").write_text(text, encoding="utf-8")
    config = load_config(project / "workbench.yaml")
    ctx = RunContext(config, RunPaths(config.output_dir / "runs" / run_id).ensure())
    (config.output_dir / "LATEST").write_text(run_id, encoding="utf-8")
    con = ctx.connect()
    try:
        ingest_sources(config, con)
        standardize_customers(config, con)
    finally:
        con.close()
    from workbench.core.golden.survivorship import build_golden_records
    from workbench.core.linkage.pipeline import match_customers

    match_customers(ctx)  # no chart_writer: no Splink charts
    build_golden_records(ctx)
    if through == "export":
        from workbench.core.batches.plan import build_batch_plan
        from workbench.core.export.load_files import export_load_files

        build_batch_plan(ctx)
        export_load_files(ctx, draft=True)
    return ctx


EVERY_RULE_PROFILE = Path(__file__).resolve().parent / "fixtures" / "validation" / "every_rule_profile.yaml"


def every_kind_config(tmp_path: Path, region: str = "CN") -> ProjectConfig:
    """A project whose customer source has one column of every field kind (suite builder tests)."""
    from workbench.project.config import Kind

    columns = {"ID": {"field": "customer_id", "kind": "id"}}
    columns.update(
        {f"c_{k.value}": {"field": f"f_{k.value}", "kind": k.value} for k in Kind if k.value != "id"}
    )
    raw = {
        "project": {"name": "every kind", "language": "en", "default_region": region, "seed": 1},
        "sources": [
            {"name": "main", "path": "main.csv", "id_column": "ID", "columns": columns},
            {
                "name": "second",
                "path": "second.csv",
                "id_column": "Key",
                "columns": {
                    "Key": {"field": "customer_id", "kind": "id"},
                    "Name": {"field": "f_customer_name", "kind": "customer_name"},
                },
            },
            {
                "name": "acts",
                "path": "acts.csv",
                "role": "activity",
                "customer_source": "main",
                "id_column": "Cust",
                "columns": {
                    "Cust": {"field": "customer_id", "kind": "id"},
                    "When": {"field": "f_date", "kind": "date"},
                },
            },
        ],
        "output": {"dir": "out"},
    }
    return parse_config(raw, tmp_path / "workbench.yaml", check_files=False)
