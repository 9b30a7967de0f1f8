"""The deterministic demo project: legacy exports of a fictional trading company, with a ground truth.

This module owns :func:`generate_demo`, which writes into one folder:

- ``erp_customers.csv`` — the old ERP's export (GBK, CRLF, Chinese headers);
- ``crm_accounts.xlsx`` (sheet ``Accounts``) — the CRM, English headers, romanised names;
- ``ledger.xlsx`` (sheet ``客户台账``) — a hand-kept ledger with title rows, header on row 4;
- ``transactions.csv`` — receivables / sales referencing the ERP's 客户编码;
- ``new_customers.csv`` — customers entered after go-live (copies and really new ones);
- ``ground_truth.csv`` — one row per row of every customer file and of new_customers.csv: its true
  entity, group, status, flags and the planted defect tags (vocabulary: ``DEFECT_TAGS``);
- ``entities.csv`` — the true customers;
- ``workbench.yaml`` — the project config, from the template beside this module.

With ``hard=True`` (the hard variant, ``workbench demo --hard``) the entities and rows get the hard
cases of :mod:`.hard_entities` and :mod:`.hard_rows`, a fourth customer source ``members.csv`` (the
B2C member system) is written, and the config comes from ``workbench_hard.yaml``.

The same ``customers``, ``seed``, ``as_of``, rates and ``hard`` give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workbench.demo import hard_rows as hr
from workbench.demo import rows as rw
from workbench.demo.entities import Table, build_entities, plan_population
from workbench.demo.rand import where
from workbench.demo.rates import DEFECT_TAGS, HARD_DEMO_RATES, DemoError, DemoRates, HardRates
from workbench.demo.reference import load_reference
from workbench.demo.writers import write_csv, write_legacy_csv, write_xlsx
from workbench.engine.files import write_bytes_atomic, write_text_atomic

log = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parent / "workbench.yaml"
HARD_TEMPLATE_PATH = Path(__file__).resolve().parent / "workbench_hard.yaml"
MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
SUITES_DIR = Path(__file__).resolve().parent / "suites"
SOURCE_ORDER = ("erp", "crm", "ledger", "members", "new")  # members: the hard variant only
GROUND_TRUTH_COLUMNS = (
    "source", "source_id", "file_row", "entity_id", "group_id", "relation", "expected_outcome", "is_test",
    "status", "blacklist", "vip", "customer_type", "script", "defects",
)  # fmt: skip
ENTITY_COLUMNS = (
    "entity_id", "name", "short_name", "english_name", "uscc", "type", "customer_type", "group_id", "relation",
    "parent_entity_id", "status", "last_activity", "blacklist", "vip", "revenue", "is_test", "province", "city",
    "address", "postcode", "mobile", "phone", "email", "contact_name", "created_date", "sources",
)  # fmt: skip
HARD_ENTITY_COLUMNS = ("surname", "given_name", "gender", "birth_date", "id_number")  # the hard variant adds


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo` wrote."""

    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]  # file key → data rows
    entities: int
    quarantined_rows: int
    seconds: float = field(compare=False)
    timings: dict[str, float] = field(default_factory=dict, compare=False)  # phase → seconds

    @property
    def customer_rows(self) -> int:
        """Rows of the legacy customer sources (three; four in the hard variant)."""
        return sum(self.rows.get(k, 0) for k in ("erp", "crm", "ledger", "members"))

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v:,}" for k, v in self.rows.items())
        return f"{self.entities:,} entities; rows: {parts}; {self.seconds:.1f}s"


def generate_demo(
    out_dir: Path,
    *,
    customers: int = 2000,
    seed: int = 42,
    as_of: dt.date = dt.date(2026, 11, 1),
    rates: DemoRates | None = None,
    hard: bool | HardRates = False,
) -> DemoSummary:
    """Write the demo project (source files, ground truth, entities, workbench.yaml) into `out_dir`.

    Args:
        out_dir: the folder (created if missing); existing demo files are replaced.
        customers: true customers of the legacy systems (at least 50). About 1.65 customer-source rows
            each (about 1.9 in the hard variant).
        seed: seeds every random draw; the same arguments give byte-identical files.
        as_of: the reference date (go-live); transactions end here, new customers start after it.
        rates: shares and defect rates (default :class:`DemoRates`; :data:`HARD_DEMO_RATES` when hard).
        hard: the hard variant (True, or its knobs as :class:`HardRates`): look-alike groups and
            households, hard name forms, moved customers and the member system ``members.csv``.

    Returns:
        The written paths and row counts.

    Raises:
        DemoError: `customers` is too small or a rate is out of range.
    """
    started = time.perf_counter()
    hard_rates = HardRates() if hard is True else (hard or None)
    rates = rates or (HARD_DEMO_RATES if hard_rates is not None else DemoRates())
    if isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise DemoError(f"as_of = {as_of!r}: give a datetime.date, e.g. date(2026, 11, 1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ref = load_reference()
    pop = plan_population(rng, customers, rates, hard_rates)
    t = build_entities(rng, pop, ref, rates, as_of, hard_rates)
    act = rw.draw_activity(rng, t, rates, as_of)
    erp, tx_codes = rw.build_erp(rng, t, ref, rates, act, as_of)
    crm = rw.build_crm(rng, t, ref, rates, as_of)
    ledger = rw.build_ledger(rng, t, ref, rates)
    new = rw.build_new(rng, t, ref, rates, as_of)
    frames = {"erp": erp, "crm": crm, "ledger": ledger, "new": new}
    if hard_rates is not None:
        for fr in frames.values():
            hr.plant_company_cases(rng, t, fr, ref, hard_rates)
        frames = {**frames, "members": hr.build_members(rng, t, ref, rates, hard_rates, as_of)}
        hr.tag_lookalikes(t, frames)
    frames = {name: frames[name] for name in SOURCE_ORDER if name in frames}
    timings = {"draw": time.perf_counter() - started}
    log.info("demo data drawn in %.1fs", timings["draw"])

    files = {
        "erp": out_dir / "erp_customers.csv",
        "crm": out_dir / "crm_accounts.xlsx",
        "ledger": out_dir / "ledger.xlsx",
        **({"members": out_dir / "members.csv"} if "members" in frames else {}),
        "transactions": out_dir / "transactions.csv",
        "new": out_dir / "new_customers.csv",
        "ground_truth": out_dir / "ground_truth.csv",
        "entities": out_dir / "entities.csv",
        "config": out_dir / "workbench.yaml",
    }
    created = dt.datetime(as_of.year, as_of.month, as_of.day, 8, 0, 0)
    mark = time.perf_counter()
    write_legacy_csv(files["erp"], erp.columns)
    timings["write_erp"], mark = time.perf_counter() - mark, time.perf_counter()
    write_xlsx(files["crm"], "Accounts", crm.columns, created=created)
    timings["write_crm"], mark = time.perf_counter() - mark, time.perf_counter()
    write_xlsx(
        files["ledger"],
        "客户台账",
        ledger.columns,
        created=created,
        title_rows=("华瑞贸易有限公司 客户台账", f"制表日期: {as_of.year}年{as_of.month}月{as_of.day}日"),
        number_columns=("应收余额",),
    )
    timings["write_ledger"], mark = time.perf_counter() - mark, time.perf_counter()
    tx = rw.transaction_columns(act, tx_codes)
    write_csv(files["transactions"], tx)
    write_csv(files["new"], new.columns)
    if "members" in frames:  # exported from a web shop's admin pages: UTF-8 with a byte-order mark
        write_csv(files["members"], frames["members"].columns, encoding="utf-8-sig")
    write_csv(files["ground_truth"], build_ground_truth(t, frames))
    write_csv(files["entities"], build_entity_rows(t, frames))
    write_text_atomic(files["config"], render_config(seed=seed, as_of=as_of, hard=hard_rates is not None))
    # the demo's signed-off field and value mappings (so its export runs non-draft) and its suites
    install_files(MAPPINGS_DIR, out_dir / "mappings")
    install_files(SUITES_DIR, out_dir / "expectations", pattern="*.json")
    timings["write_other"] = time.perf_counter() - mark
    summary = DemoSummary(
        out_dir=out_dir.resolve(),
        files=files,
        rows={**{k: f.size for k, f in frames.items()}, "transactions": int(act.ent.size)},
        entities=int(t["kind"].size),
        quarantined_rows=int(
            sum(int(f.quarantine.sum()) for f in frames.values() if f.quarantine is not None)
        ),
        seconds=time.perf_counter() - started,
        timings=timings,
    )
    log.info("demo written to %s: %s", out_dir, summary)
    return summary


def _bool_text(values: np.ndarray) -> np.ndarray:
    return where(np.asarray(values, dtype=bool), "true", "false")


def defects_text(frame: rw.Frame) -> np.ndarray:
    """The `;`-separated defect tags of every row, in the order of ``DEFECT_TAGS``."""
    out = np.full(frame.size, "", dtype=object)
    for tag in DEFECT_TAGS:
        if tag in frame.tags:
            out = out + where(frame.tags[tag], tag + ";", "")
    return np.array([s[:-1] for s in out], dtype=object)


def build_ground_truth(t: Table, frames: dict[str, rw.Frame]) -> dict[str, np.ndarray]:
    """One row per row of every customer file and of new_customers.csv, ordered by source and row."""
    parts = []
    for name in SOURCE_ORDER:
        if name not in frames:
            continue
        fr = frames[name]
        e = fr.ent
        id_col = next(iter(fr.columns))
        quarantine = fr.quarantine if fr.quarantine is not None else np.zeros(fr.size, dtype=bool)
        parts.append(
            {
                "source": np.full(fr.size, name, dtype=object),
                "source_id": fr.columns[id_col],
                "file_row": (np.arange(fr.size) + fr.first_row).astype(str).astype(object),
                "entity_id": t["entity_id"][e],
                "group_id": t["group_id"][e],
                "relation": t["relation"][e],
                "expected_outcome": where(quarantine, "quarantine", "staged"),
                "is_test": _bool_text(t["kind"][e] == "test"),
                "status": t["status"][e],
                "blacklist": _bool_text(t["blacklist"][e]),
                "vip": _bool_text(t["vip"][e]),
                "customer_type": t["customer_type"][e],
                "script": fr.script,
                "defects": defects_text(fr),
            }
        )
    return {c: np.concatenate([p[c] for p in parts]) for c in GROUND_TRUTH_COLUMNS}


def build_entity_rows(t: Table, frames: dict[str, rw.Frame]) -> dict[str, np.ndarray]:
    """entities.csv: the true attributes of every entity (legacy and new-only)."""
    n = t["kind"].size
    sources = np.full(n, "", dtype=object)
    for name in SOURCE_ORDER:
        if name not in frames:
            continue
        seen = np.zeros(n, dtype=bool)
        seen[frames[name].ent] = True
        sources = sources + where(seen, name + ";", "")
    last = t["last_activity"]
    hard = {}
    if "id_number" in t:  # the hard variant: the people's names, birth dates and IDs
        birth = t["birth_date"]
        hard = {
            "surname": where(t["kind"] == "individual", t["surname"], ""),
            "given_name": where(t["kind"] == "individual", t["given_name"], ""),
            "gender": t["gender"],
            "birth_date": where(np.isnat(birth), "", np.datetime_as_string(birth, unit="D").astype(object)),
            "id_number": t["id_number"],
        }
    return {
        "entity_id": t["entity_id"],
        "name": t["name"],
        "short_name": t["short_name"],
        "english_name": t["english_name"],
        "uscc": t["uscc"],
        "type": t["kind"],
        "customer_type": t["customer_type"],
        "group_id": t["group_id"],
        "relation": t["relation"],
        "parent_entity_id": t["parent_entity_id"],
        "status": t["status"],
        "last_activity": where(np.isnat(last), "", np.datetime_as_string(last, unit="D").astype(object)),
        "blacklist": _bool_text(t["blacklist"]),
        "vip": _bool_text(t["vip"]),
        "revenue": np.char.mod("%.2f", t["revenue"]).astype(object),
        "is_test": _bool_text(t["kind"] == "test"),
        "province": t["province"],
        "city": t["city"],
        "address": t["address"],
        "postcode": t["postcode"],
        "mobile": t["mobile"],
        "phone": t["phone"],
        "email": t["email"],
        "contact_name": t["contact_name"],
        "created_date": np.datetime_as_string(t["created"], unit="D").astype(object),
        "sources": np.array([s[:-1] for s in sources], dtype=object),
        **hard,
    }


def render_config(*, seed: int, as_of: dt.date, hard: bool = False) -> str:
    """The demo's workbench.yaml: the template (of the hard variant) with this run's seed and date."""
    template = HARD_TEMPLATE_PATH if hard else TEMPLATE_PATH
    text = template.read_text(encoding="utf-8")
    text, n_seed = re.subn(r"(?m)^(  seed: ).*$", rf"\g<1>{int(seed)}", text, count=1)
    text, n_date = re.subn(r"(?m)^(  as_of_date: ).*$", rf"\g<1>{as_of.isoformat()}", text, count=1)
    if n_seed != 1 or n_date != 1:  # pragma: no cover - guards the template
        raise DemoError(
            f"{template}: the template needs `  seed:` and `  as_of_date:` lines under project"
        )
    return text


def install_files(source: Path, dest: Path, *, pattern: str = "*.csv") -> list[Path]:
    """Copy the demo's files matching `pattern` (signed-off mappings, suites) into the demo project."""
    written = []
    for src in sorted(source.glob(pattern)):
        write_bytes_atomic(dest / src.name, src.read_bytes())
        written.append(dest / src.name)
    return written
