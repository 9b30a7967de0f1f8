"""Synthetic ``std_customers`` data and a tiny project for the linkage tests (seeded, no files read).

The records look like the standardize stage's output (docs/architecture.md): Chinese companies in
two sources, with duplicates across and within sources (typos, changed mobile, a romanised name),
and group members (a branch with its own USCC sharing the head office's switchboard).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pandas as pd
from pypinyin import lazy_pinyin
from stdnum.cn import uscc as uscc_mod

from workbench.project.config import parse_config
from workbench.project.context import RunContext
from workbench.project.paths import RunPaths

CHARS = "华瑞恒通达盛源鑫宏泰嘉信安康博远隆昌锦顺丰佳祥和永新兴利德明光凯旭辰晨阳星海天诚"
INDUSTRY = ["科技", "贸易", "实业", "电子", "物流", "食品", "机械", "建材"]
CITIES = [("上海市", "上海市", "浦东新区"), ("广东省", "深圳市", "南山区"), ("浙江省", "杭州市", "西湖区")]
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"

CONFIG = {
    "project": {"name": "linkage test", "seed": 7},
    "output": {"dir": "output"},
    "sources": [
        {
            "name": name,
            "path": f"{name}.csv",
            "id_column": "id",
            "columns": {
                "id": {"field": "customer_id", "kind": "id"},
                "name": {"field": "customer_name", "kind": "company_name"},
                "uscc": {"field": "uscc", "kind": "tax_id"},
                "mobile": {"field": "mobile", "kind": "phone"},
                "email": {"field": "email", "kind": "email"},
                "address": {"field": "address", "kind": "address"},
                "contact": {"field": "contact_name", "kind": "person_name"},
            },
        }
        for name in ("erp", "crm")
    ],
}


def make_uscc(rng: random.Random) -> str:
    body = (
        "9131"
        + "".join(rng.choice("0123456789") for _ in range(4))
        + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    )
    return body + uscc_mod.calc_check_digit(body)


def _entity(rng: random.Random, i: int) -> dict:
    core = "".join(rng.sample(CHARS, 2)) + rng.choice(INDUSTRY)
    prov, city, district = rng.choice(CITIES)
    detail = f"{rng.choice(['世纪大道', '科技园路', '文三路', '人民路'])}{rng.randint(1, 999)}号"
    mobile = "+861" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))
    contact = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
    return {
        "entity": f"E{i:04d}",
        "group": f"G{i:04d}",
        "core": core,
        "legal_form": "有限公司",
        "branch": None,
        "region": None,
        "uscc": make_uscc(rng),
        "mobile": mobile,
        "email": f"{''.join(lazy_pinyin(contact))}{i}@{''.join(lazy_pinyin(core))[:8]}.com",
        "prov": prov,
        "city": city,
        "district": district,
        "detail": detail,
        "contact": contact,
        "script": "cjk",
        "defects": "",
    }


def _typo(rng: random.Random, text: str) -> str:
    pos = rng.randrange(len(text))
    return text[:pos] + rng.choice(CHARS) + text[pos + 1 :]


def _row(e: dict, source: str, row_number: int, source_id: str | None) -> dict:
    core = e["core"]
    pinyin = "".join(lazy_pinyin(core)) if e["script"] == "cjk" else core.lower().replace(" ", "")
    name = core + (e["legal_form"] or "") + (e["branch"] or "")
    if e["script"] != "cjk":
        name = core + " Co., Ltd."
    address = f"{e['prov']}{e['city']}{e['district']}{e['detail']}" if e["detail"] else None
    email = e["email"]
    mobile = e["mobile"]
    rec = {
        "record_key": f"{source}:{row_number}",
        "_source": source,
        "_row_number": row_number,
        "source_id": source_id,
        "customer_id": source_id,
        "customer_name": name,
        "customer_name_core": core,
        "customer_name_pinyin": pinyin,
        "customer_name_legal_form": e["legal_form"] if e["script"] == "cjk" else "co_ltd",
        "customer_name_branch": e["branch"],
        "customer_name_region": e["region"],
        "customer_name_script": e["script"],
        "uscc": e["uscc"],
        "uscc_valid": None if e["uscc"] is None else True,
        "mobile": mobile,
        "mobile_e164": mobile,
        "mobile_all": mobile,
        "mobile_last8": mobile[-8:] if mobile else None,
        "email": email,
        "email_local": email.split("@")[0] if email else None,
        "email_domain": email.split("@")[1] if email else None,
        "address": address,
        "address_province": e["prov"] if address else None,
        "address_city": e["city"] if address else None,
        "address_district": e["district"] if address else None,
        "address_detail": e["detail"] if address else None,
        "contact_name": e["contact"],
        "contact_name_pinyin": "".join(lazy_pinyin(e["contact"])) if e["contact"] else None,
    }
    rec["_row_hash"] = hashlib.md5("\x1f".join(str(v) for v in rec.values()).encode()).hexdigest()
    return rec


def make_std(n_entities: int = 60, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A std_customers frame and its ground truth (``record_key, entity_id, group_id, script, defects``).

    Every entity is in ``erp``; about half have a duplicate in ``crm`` (some with a typo in the name,
    a changed mobile, no e-mail or a romanised name), a few a second copy in ``erp``, and every tenth
    has a branch (its own USCC, same core and switchboard, different address) in ``erp``.
    """
    rng = random.Random(seed)
    rows: list[dict] = []
    truth: list[dict] = []
    counters = {"erp": 1, "crm": 1}

    def emit(e: dict, source: str) -> None:
        counters[source] += 1
        n = counters[source]
        rec = _row(e, source, n, f"{source.upper()}{n:05d}")
        rows.append(rec)
        truth.append(
            {
                "record_key": rec["record_key"],
                "entity_id": e["entity"],
                "group_id": e["group"],
                "script": e["script"],
                "defects": e["defects"],
            }
        )

    for i in range(n_entities):
        e = _entity(rng, i)
        emit(e, "erp")
        if i % 2 == 0:
            d = dict(e)
            variant = (i // 2) % 5
            if variant == 1:
                d["core"] = _typo(rng, d["core"])
                d["defects"] = "name_typo"
            elif variant == 2:
                d["mobile"] = "+8619" + "".join(rng.choice("0123456789") for _ in range(9))
                d["defects"] = "mobile_changed"
            elif variant == 3:
                d["email"] = None
                d["detail"] = None
                d["defects"] = "address_missing"
            elif variant == 4:
                d["core"] = "".join(lazy_pinyin(e["core"])).title()
                d["script"] = "latin"
                d["uscc"] = None
            emit(d, "crm")
        if i % 7 == 3:
            d = dict(e)
            d["uscc"] = None
            d["defects"] = "within_source_copy"
            emit(d, "erp")
        if i % 10 == 5:
            b = dict(e)
            b["entity"] = e["entity"] + "B"
            b["branch"] = "上海分公司"
            b["uscc"] = make_uscc(rng)
            b["email"] = None
            b["detail"] = "张江路" + str(rng.randint(1, 99)) + "号"
            b["contact"] = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))
            emit(b, "erp")
    return pd.DataFrame(rows), pd.DataFrame(truth)


def make_context(tmp_path: Path, match: dict | None = None) -> RunContext:
    """A run of the synthetic project in `tmp_path` (source files are not needed by the match stage)."""
    raw = dict(CONFIG)
    if match:
        raw = {**raw, "match": match}
    config_path = tmp_path / "workbench.yaml"
    config = parse_config(raw, config_path, check_files=False)
    return RunContext(config=config, paths=RunPaths(tmp_path / "output" / "runs" / "r1").ensure())


def write_std(ctx: RunContext, std: pd.DataFrame) -> None:
    """Store `std` as the run's std_customers table."""
    with ctx.connect() as con:
        con.register("__std", std)
        con.execute("CREATE OR REPLACE TABLE std_customers AS SELECT * FROM __std")
        con.unregister("__std")
