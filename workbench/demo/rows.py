"""Source rows of the demo: how each legacy system wrote the true customers down, defects included.

This module owns turning the entity table (:mod:`.entities`) into the rows of every source file
(old ERP, CRM, hand-kept ledger, customers entered after go-live) and the transactions, and
recording for every row which entity it is and which defects were planted on it. Files are written
by :mod:`.writers`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from workbench.demo import variants as var
from workbench.demo.entities import Table
from workbench.demo.rand import choose, join, pick, pick_n, where
from workbench.demo.rates import DEFECT_TAGS, DemoRates
from workbench.demo.reference import Reference

# defects that remove or replace what links a row to its customer; at most
# `DemoRates.max_destructive` of them on one row, so every row stays linkable in principle
DESTRUCTIVE = (
    "typo",
    "phone_missing",
    "phone_placeholder",
    "mobile_changed",
    "email_missing",
    "uscc_missing",
    "address_changed",
    "address_missing",
)

ERP_COLUMNS = (
    "客户编码", "客户名称", "客户简称", "客户类别", "地区编码", "信用等级", "统一社会信用代码", "联系人",
    "手机", "电话", "电子邮箱", "地址", "邮政编码", "状态", "建档日期", "黑名单", "VIP", "上级客户编码",
)  # fmt: skip
CRM_COLUMNS = (
    "Account ID", "Account Name", "Contact Name", "Mobile", "Email", "Street Address", "City", "Province",
    "Tax ID", "Account Type", "Status", "Last Modified",
)  # fmt: skip
LEDGER_COLUMNS = ("序号", "客户简称", "联系人", "联系电话", "地址", "应收余额", "备注")
TRANSACTION_COLUMNS = ("单据号", "客户编码", "单据日期", "金额", "单据类型")
CLASS_CODES = {"company": "01", "individual": "02", "foreign": "03", "test": "09"}


@dataclass
class Frame:
    """The rows of one source file, plus what the ground truth needs to know about each row."""

    source: str
    ent: np.ndarray  # entity index of each row
    columns: dict[str, np.ndarray]  # header → cell values, in file order
    first_row: int  # file row (as a person sees it) of the first data row
    script: np.ndarray
    tags: dict[str, np.ndarray] = field(default_factory=dict)
    quarantine: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.ent.size)

    def tag(self, name: str, mask: np.ndarray) -> None:
        if name not in DEFECT_TAGS:
            raise KeyError(f"unknown defect tag {name!r}")
        self.tags[name] = self.tags.get(name, np.zeros(self.size, dtype=bool)) | mask

    def reorder(self, order: np.ndarray) -> None:
        self.ent = self.ent[order]
        self.script = self.script[order]
        self.columns = {k: v[order] for k, v in self.columns.items()}
        self.tags = {k: v[order] for k, v in self.tags.items()}
        if self.quarantine is not None:
            self.quarantine = self.quarantine[order]


@dataclass
class Activity:
    """Transactions drawn per entity (before the ERP gives the entities their codes)."""

    ent: np.ndarray
    date: np.ndarray  # datetime64[D]
    amount: np.ndarray
    kind: np.ndarray


# --------------------------------------------------------------------------------------------
# activity


def draw_activity(rng: np.random.Generator, t: Table, rates: DemoRates, as_of: dt.date) -> Activity:
    """Transactions of the ERP's customers; sets the entities' created date, last activity and revenue.

    Active customers trade in the last 12 months; dormant ones only more than 24 months ago;
    deregistered and revoked ones stopped more than a year ago or never traded.
    """
    n = t["kind"].size
    end = np.datetime64(as_of, "D")
    status, kind = t["status"], t["kind"]
    trading = t["in_erp"] & (kind != "test")
    never = trading & np.isin(status, ["deregistered", "revoked"]) & (rng.random(n) < rates.never_active)
    trading &= ~never
    lam = np.where(kind == "individual", 1.0, 2.0)
    recent = np.where(trading & (status == "active"), 1 + rng.poisson(lam), 0)
    older = np.where(trading & (status == "active"), rng.poisson(lam * 0.5), 0)
    stopped = np.where(trading & (status != "active"), 1 + rng.poisson(1.5, size=n), 0)
    days = 365 * 6
    parts = []
    for count, lo, hi in (
        (recent, 0, 364),  # days before as_of
        (older, 365, days),
        (np.where(status == "dormant", stopped, 0), 731, days),
        (np.where(status != "dormant", stopped, 0), 400, days),
    ):
        ent = np.repeat(np.arange(n), count)
        back = rng.integers(lo, hi + 1, size=ent.size)
        parts.append((ent, end - back.astype("timedelta64[D]")))
    ent = np.concatenate([p[0] for p in parts])
    date = np.concatenate([p[1] for p in parts])
    scale = np.where(kind == "individual", 1500.0, 20000.0) * np.where(t["vip"], 4.0, 1.0)
    amount = np.round(rng.lognormal(0.0, 1.0, size=ent.size) * scale[ent], 2)
    tx_kind = choose(rng, ["销售", "收款"], ent.size, p=[0.7, 0.3])
    order = np.lexsort((rng.random(ent.size), ent, date))
    act = Activity(ent=ent[order], date=date[order], amount=amount[order], kind=tx_kind[order])
    # created before the first transaction; last activity and revenue of the last 12 months
    first = np.full(n, end)
    np.minimum.at(first, act.ent, act.date)
    gap = rng.integers(0, 181, size=n).astype("timedelta64[D]")
    t["created"] = np.minimum(t["created"], first - gap)
    last = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    if act.ent.size:
        lastv = np.full(n, np.datetime64("1900-01-01"), dtype="datetime64[D]")
        np.maximum.at(lastv, act.ent, act.date)
        last = np.where(lastv > np.datetime64("1900-01-01"), lastv, last)
    t["last_activity"] = last
    sale12 = (act.kind == "销售") & (act.date > end - np.timedelta64(365, "D"))
    t["revenue"] = np.round(np.bincount(act.ent[sale12], weights=act.amount[sale12], minlength=n), 2)
    return act


# --------------------------------------------------------------------------------------------
# shared defect planting


def _plan(
    rng: np.random.Generator, eligible: dict[str, np.ndarray], rate: dict[str, float], limit: int
) -> dict[str, np.ndarray]:
    """Draw the defect masks; tags in one exclusive group never share a row; destructive ones are capped."""
    groups = (
        ("phone_multi", "phone_placeholder", "phone_missing", "mobile_changed"),
        ("email_typo", "email_case", "email_missing"),
        ("uscc_bad_check", "uscc_missing"),
        ("address_format", "address_changed", "address_missing"),
    )
    masks: dict[str, np.ndarray] = {}
    taken = {g: np.zeros(next(iter(eligible.values())).size, dtype=bool) for g in groups}
    for tag in DEFECT_TAGS:
        if tag not in eligible:
            continue
        group = next((g for g in groups if tag in g), None)
        ok = eligible[tag] & (~taken[group] if group else True)
        masks[tag] = pick(rng, ok, rate.get(tag, 0.0))
        if group:
            taken[group] |= masks[tag]
    destructive = [tg for tg in DESTRUCTIVE if tg in masks]
    if destructive:
        stack = np.stack([masks[tg] for tg in destructive])
        keep = np.cumsum(stack, axis=0) <= limit
        for i, tg in enumerate(destructive):
            masks[tg] &= keep[i]
    return masks


def _rates(rates: DemoRates, boost: float = 1.0, **override: float) -> dict[str, float]:
    out = {tag: min(1.0, getattr(rates, tag) * boost) for tag in DEFECT_TAGS if hasattr(rates, tag)}
    out.update(override)
    return out


def _vary_name(
    rng: np.random.Generator,
    t: Table,
    fr: Frame,
    col: str,
    masks: dict[str, np.ndarray],
    *,
    english: np.ndarray,
    ref: Reference,
    keep_tail: np.ndarray | None = None,
) -> None:
    """Plant the name defects of `masks` on column `col` (zh or English names).

    A typo never touches the last `keep_tail` characters (default: the legal form and branch
    suffix of Chinese names, 6 characters of English ones).
    """
    e = fr.ent
    names = fr.columns[col]
    if keep_tail is None:
        legal_len = np.char.str_len(t["n_legal"][e].astype(str)) + np.char.str_len(
            t["n_suffix"][e].astype(str)
        )
        keep_tail = np.where(english, 6, legal_len)
    if "region_in_brackets" in masks:
        m = masks["region_in_brackets"]
        style = where(t["n_style"][e] == "prefix", "bracket", "prefix")
        from workbench.demo.entities import assemble_name

        redone = assemble_name(
            style[m],
            t["n_region"][e][m],
            t["brand"][e][m],
            t["n_middle"][e][m],
            t["n_legal"][e][m],
            t["n_suffix"][e][m],
        )
        names[m] = redone
        fr.tag("region_in_brackets", m)
    if "legal_form_variant" in masks:
        m = masks["legal_form_variant"]
        zh = m & ~english
        names[zh] = var.replace_once(names[zh], t["n_legal"][e][zh], t["n_legal_variant"][e][zh])
        en = m & english
        legal_en = where(t["kind"][e] == "foreign", t["f_legal"][e], t["n_legal_en"][e])[en]
        table = ref.words["legal_form_variants_en"]
        draw = rng.random(int(en.sum()))
        new = np.array(
            [table[lf][int(d * len(table[lf]))] for lf, d in zip(legal_en, draw, strict=True)], dtype=object
        )
        names[en] = var.replace_once(names[en], legal_en, new)
        fr.tag("legal_form_variant", m)
    if "typo" in masks:
        m = masks["typo"]
        k = int(m.sum())
        names[m] = var.make_typo(names[m], rng.integers(0, 3, size=k), rng.random(k), keep_tail=keep_tail[m])
        fr.tag("typo", m)
    if "name_traditional" in masks:
        m = masks["name_traditional"].copy()
        trad = var.to_traditional(names[m])
        ok = (trad != names[m]) & var.encodable(trad, "gbk")
        idx = np.flatnonzero(m)
        names[idx[ok]] = trad[ok]
        m[idx[~ok]] = False
        fr.tag("name_traditional", m)


def _vary_mobile(
    rng: np.random.Generator,
    t: Table,
    fr: Frame,
    col: str,
    masks: dict[str, np.ndarray],
    ref: Reference,
    *,
    landline_col: str | None = None,
) -> None:
    e = fr.ent
    cells = fr.columns[col]
    if "mobile_changed" in masks:
        m = masks["mobile_changed"]
        cells[m] = t["mobile_old"][e][m]
        fr.tag("mobile_changed", m)
    if "phone_multi" in masks:
        m = masks["phone_multi"]
        k = int(m.sum())
        phone = t["phone"][e][m]
        style = rng.integers(0, 3, size=k)
        second = where((style == 1) & (phone != ""), phone, t["mobile_2"][e][m])
        sep = np.array([";", "/", "，"], dtype=object)[style]
        cells[m] = join(cells[m], sep, second)
        fr.tag("phone_multi", m)
    if "phone_placeholder" in masks:
        m = masks["phone_placeholder"]
        cells[m] = var.placeholder_phones(rng, ref.words["phone_placeholders"], int(m.sum()))
        fr.tag("phone_placeholder", m)
    if "phone_missing" in masks:
        m = masks["phone_missing"]
        cells[m] = ""
        fr.tag("phone_missing", m)
    if "phone_format" in masks:
        m = masks["phone_format"].copy()
        for other in ("phone_multi", "phone_placeholder", "phone_missing"):
            if other in masks:
                m &= ~masks[other]
        mob = m & (np.char.str_len(cells.astype(str)) == 11) & np.char.isdigit(cells.astype(str))
        cells[mob] = var.format_mobile(cells[mob], rng.integers(0, 6, size=int(mob.sum())))
        changed = mob.copy()
        if landline_col is not None:
            lcells = fr.columns[landline_col]
            land = m & (lcells != "")
            lcells[land] = var.format_landline(
                lcells[land], rng.integers(0, 6, size=int(land.sum())), t["phone_ext"][e][land]
            )
            changed |= land
        else:  # a single phone column may hold a landline
            land = m & ~mob & (cells != "")
            cells[land] = var.format_landline(
                cells[land], rng.integers(0, 6, size=int(land.sum())), t["phone_ext"][e][land]
            )
            changed |= land
        fr.tag("phone_format", changed)


def _vary_email(
    rng: np.random.Generator, fr: Frame, col: str, masks: dict[str, np.ndarray], ref: Reference
) -> None:
    cells = fr.columns[col]
    if "email_typo" in masks:
        m = masks["email_typo"]
        cells[m] = var.typo_email(cells[m], ref.words["email_domain_typos"], rng.random(int(m.sum())))
        fr.tag("email_typo", m)
    if "email_case" in masks:
        m = masks["email_case"]
        cells[m] = var.case_email(cells[m], rng.random(int(m.sum())))
        fr.tag("email_case", m)
    if "email_missing" in masks:
        m = masks["email_missing"]
        cells[m] = ""
        fr.tag("email_missing", m)


def _vary_uscc(rng: np.random.Generator, fr: Frame, col: str, masks: dict[str, np.ndarray]) -> None:
    from workbench.demo.entities import USCC_ALPHABET

    cells = fr.columns[col]
    if "uscc_bad_check" in masks:
        m = masks["uscc_bad_check"]
        shift = rng.integers(1, 31, size=int(m.sum()))
        cells[m] = [
            c[:17] + USCC_ALPHABET[(USCC_ALPHABET.index(c[17]) + s) % 31]
            for c, s in zip(cells[m], shift, strict=True)
        ]
        fr.tag("uscc_bad_check", m)
    if "uscc_missing" in masks:
        m = masks["uscc_missing"]
        cells[m] = ""
        fr.tag("uscc_missing", m)


def _vary_address(
    rng: np.random.Generator, t: Table, fr: Frame, col: str, masks: dict[str, np.ndarray], *, street: bool
) -> None:
    e = fr.ent
    cells = fr.columns[col]
    if "address_changed" in masks:
        m = masks["address_changed"]
        cells[m] = (t["street_old"] if street else t["address_old"])[e][m]
        fr.tag("address_changed", m)
    if "address_format" in masks:
        m = masks["address_format"]
        style = rng.integers(0, 5, size=int(m.sum()))
        if street:
            cells[m] = var.vary_street(t["city"][e][m], cells[m], style)
        else:
            cells[m] = var.vary_address(
                t["province"][e][m], t["city"][e][m], t["street"][e][m], cells[m], style
            )
        fr.tag("address_format", m)
    if "address_missing" in masks:
        m = masks["address_missing"]
        cells[m] = ""
        fr.tag("address_missing", m)


def _fullwidth(fr: Frame, cols: tuple[str, ...], mask: np.ndarray) -> None:
    changed = np.zeros(fr.size, dtype=bool)
    for col in cols:
        cells = fr.columns[col]
        new = var.to_fullwidth(cells[mask])
        diff = new != cells[mask]
        idx = np.flatnonzero(mask)[diff]
        cells[idx] = new[diff]
        changed[idx] = True
    fr.tag("fullwidth", changed)


# --------------------------------------------------------------------------------------------
# ERP (and new customers, which use the ERP's layout)


def _erp_cells(rng: np.random.Generator, t: Table, ent: np.ndarray, ref: Reference) -> dict[str, np.ndarray]:
    k = ent.size
    kind = t["kind"][ent]
    individual = kind == "individual"
    status_words = ref.words["erp_status_words"]
    status = np.full(k, "", dtype=object)
    for s, words in status_words.items():
        m = t["status"][ent] == s
        status[m] = choose(rng, words, int(m.sum()))
    yn = rng.random(k) < 0.7
    vip = t["vip"][ent]
    return {
        "客户编码": np.full(k, "", dtype=object),
        "客户名称": t["name"][ent].copy(),
        "客户简称": where(individual & (rng.random(k) < 0.5), "", t["short_name"][ent]),
        "客户类别": np.select([kind == k_ for k_ in CLASS_CODES], list(CLASS_CODES.values()), "").astype(
            object
        ),
        "地区编码": t["legacy_region"][ent].copy(),
        "信用等级": t["credit_rating"][ent].copy(),
        "统一社会信用代码": t["uscc"][ent].copy(),
        "联系人": where(individual & (rng.random(k) < 0.4), "", t["contact_name"][ent]),
        "手机": t["mobile"][ent].copy(),
        "电话": t["phone"][ent].copy(),
        "电子邮箱": t["email"][ent].copy(),
        "地址": t["address"][ent].copy(),
        "邮政编码": t["postcode"][ent].copy(),
        "状态": status,
        "建档日期": np.full(k, "", dtype=object),
        "黑名单": where(t["blacklist"][ent], "是", "否"),
        "VIP": where(yn, where(vip, "Y", "N"), where(vip, "1", "0")),
        "上级客户编码": np.full(k, "", dtype=object),
    }


def _erp_defects(
    rng: np.random.Generator,
    t: Table,
    fr: Frame,
    rates: dict[str, float],
    ref: Reference,
    limit: int,
    created: np.ndarray,
) -> None:
    e = fr.ent
    c = fr.columns
    kind = t["kind"][e]
    company = kind == "company"
    named = company | (kind == "foreign")
    real = kind != "test"
    has = {col: c[col] != "" for col in ("手机", "电话", "电子邮箱", "统一社会信用代码")}
    mobile_ok = has["手机"] & real
    eligible = {
        "fullwidth": real,
        "legal_form_variant": named,
        "typo": real,
        "name_traditional": real & (kind != "foreign"),
        "region_in_brackets": company & (t["n_style"][e] != "none"),
        "phone_format": real & (has["手机"] | has["电话"]),
        "phone_multi": mobile_ok,
        "phone_placeholder": mobile_ok,
        "phone_missing": mobile_ok,
        "mobile_changed": mobile_ok & company | mobile_ok & (kind == "individual"),
        "email_typo": has["电子邮箱"] & real,
        "email_case": has["电子邮箱"] & real,
        "email_missing": has["电子邮箱"] & real,
        "uscc_bad_check": has["统一社会信用代码"],
        "uscc_missing": has["统一社会信用代码"],
        "address_format": real,
        "address_changed": real,
        "address_missing": real,
        "postcode_mismatch": real & (t["country"][e] == "CN"),
        "date_format": np.ones(fr.size, dtype=bool),
        "status_missing": np.ones(fr.size, dtype=bool),
    }
    masks = _plan(rng, eligible, rates, limit)
    english = kind == "foreign"
    _vary_name(rng, t, fr, "客户名称", masks, english=english, ref=ref)
    _vary_mobile(rng, t, fr, "手机", masks, ref, landline_col="电话")
    _vary_email(rng, fr, "电子邮箱", masks, ref)
    _vary_uscc(rng, fr, "统一社会信用代码", masks)
    _vary_address(rng, t, fr, "地址", masks, street=False)
    m = masks["postcode_mismatch"]
    if m.any():
        cities = ref.cities
        own = t["city_idx"][e][m]
        other = (own + rng.integers(1, cities.city.size, size=own.size)) % cities.city.size
        for _ in range(50):  # another province, not only another city
            same = cities.province[other] == cities.province[own]
            if not same.any():
                break
            other[same] = rng.integers(0, cities.city.size, size=int(same.sum()))
        c["邮政编码"][m] = cities.postcode[other]
        fr.tag("postcode_mismatch", m)
    iso = np.datetime_as_string(created, unit="D").astype(object)
    c["建档日期"] = iso
    m = masks["date_format"]
    c["建档日期"][m] = var.format_dates(created[m], rng.integers(0, 4, size=int(m.sum())))
    fr.tag("date_format", m)
    m = masks["status_missing"]
    c["状态"][m] = ""
    fr.tag("status_missing", m)
    _fullwidth(fr, ("客户名称", "地址"), masks["fullwidth"])
    fr.tag("test_record", kind == "test")


def build_erp(
    rng: np.random.Generator, t: Table, ref: Reference, rates: DemoRates, act: Activity, as_of: dt.date
) -> tuple[Frame, np.ndarray]:
    """The old ERP's rows (GBK CSV) and the ERP code of every transaction.

    Returns:
        The frame (rows ordered by code, i.e. by creation date) and the transactions' codes.
    """
    first = np.flatnonzero(t["in_erp"])
    dup = np.flatnonzero(t["dup_erp"])
    ent = np.concatenate([first, dup])
    is_dup = np.r_[np.zeros(first.size, bool), np.ones(dup.size, bool)]
    end = np.datetime64(as_of, "D")
    created = t["created"][ent].copy()
    later = created + rng.integers(30, 1500, size=ent.size).astype("timedelta64[D]")
    created = np.where(is_dup, np.minimum(later, end - np.timedelta64(1, "D")), created)
    order = np.lexsort((rng.random(ent.size), created))
    ent, is_dup, created = ent[order], is_dup[order], created[order]
    codes = np.char.add("C", np.char.zfill(np.arange(1, ent.size + 1).astype(str), 7)).astype(object)
    primary = np.full(t["kind"].size, "", dtype=object)
    primary[ent[~is_dup]] = codes[~is_dup]
    second = np.full(t["kind"].size, "", dtype=object)
    second_created = np.full(t["kind"].size, end, dtype="datetime64[D]")
    second[ent[is_dup]] = codes[is_dup]
    second_created[ent[is_dup]] = created[is_dup]

    fr = Frame("erp", ent, _erp_cells(rng, t, ent, ref), first_row=2, script=_script(t, ent))
    fr.columns["客户编码"] = codes
    par = t["parent"][ent]
    fr.columns["上级客户编码"] = where(par >= 0, primary[np.maximum(par, 0)], "")
    fr.tag("duplicate_in_source", is_dup)
    _erp_defects(rng, t, fr, _rates(rates), ref, rates.max_destructive, created)
    _plant_file_errors(rng, t, fr, rates)
    # transactions: after the second row was created, half of them go to its code
    to_second = (
        (second[act.ent] != "") & (act.date >= second_created[act.ent]) & (rng.random(act.ent.size) < 0.5)
    )
    tx_codes = where(to_second, second[act.ent], primary[act.ent])
    return fr, tx_codes


def _plant_file_errors(rng: np.random.Generator, t: Table, fr: Frame, rates: DemoRates) -> None:
    """Mojibake names (staged), one row of bad bytes and one with a cell too many (quarantined)."""
    e = fr.ent
    c = fr.columns
    clean = (t["kind"][e] == "company") & ~np.any(np.stack(list(fr.tags.values())), axis=0)
    # look at a sample of the clean rows only: the cost must not grow with the file
    sample = np.zeros(fr.size, dtype=bool)
    sample[np.flatnonzero(pick_n(rng, clean, 400))] = True
    clean &= sample
    if rates.mojibake_rows:
        cand = np.flatnonzero(clean)
        garbled = var.to_mojibake(c["客户名称"][cand])
        ok = cand[garbled != ""]
        chosen = np.sort(rng.choice(ok, size=min(rates.mojibake_rows, ok.size), replace=False))
        mask = np.zeros(fr.size, dtype=bool)
        mask[chosen] = True
        c["客户名称"][chosen] = var.to_mojibake(c["客户名称"][chosen])
        fr.tag("mojibake", mask)
        clean &= ~mask
    no_comma = clean.copy()
    for v in c.values():
        no_comma[clean] &= np.array([not ("," in x or '"' in x) for x in v[clean]], dtype=bool)
    bad = pick_n(rng, no_comma, 2)
    idx = np.flatnonzero(bad)
    fr.quarantine = np.zeros(fr.size, dtype=bool)
    if idx.size == 2:
        b, cells = idx
        # bytes invalid in GBK and GB18030, written by the file writer in place of the marker
        c["地址"][b] = c["地址"][b][:6] + BAD_BYTES_MARKER + c["地址"][b][6:]
        fr.tag("bad_bytes", bad & (np.arange(fr.size) == b))
        # an unquoted delimiter inside the address: one cell too many
        addr = c["地址"][cells]
        c["地址"][cells] = addr[: len(addr) // 2] + BAD_CELLS_MARKER + addr[len(addr) // 2 :]
        fr.tag("bad_cells", bad & (np.arange(fr.size) == cells))
        fr.quarantine = bad


BAD_BYTES_MARKER = "\x00BADBYTES\x00"
BAD_CELLS_MARKER = "\x00BADCELLS\x00"


def _script(t: Table, ent: np.ndarray) -> np.ndarray:
    return where(t["kind"][ent] == "foreign", "en", "zh")


# --------------------------------------------------------------------------------------------
# CRM


def build_crm(rng: np.random.Generator, t: Table, ref: Reference, rates: DemoRates, as_of: dt.date) -> Frame:
    """The CRM's accounts (XLSX): English headers, romanised names for part of the Chinese companies."""
    first = np.flatnonzero(t["in_crm"])
    dup = np.flatnonzero(t["dup_crm"])
    ent = np.concatenate([first, dup])
    is_dup = np.r_[np.zeros(first.size, bool), np.ones(dup.size, bool)]
    order = rng.permutation(ent.size)
    ent, is_dup = ent[order], is_dup[order]
    k = ent.size
    kind = t["kind"][ent]
    company = kind == "company"
    words = ref.words["crm_status_words"]
    status = np.full(k, "", dtype=object)
    for s, options in words.items():
        m = t["status"][ent] == s
        status[m] = choose(rng, options, int(m.sum()))
    end = np.datetime64(as_of, "D")
    start = np.maximum(t["created"][ent], end - np.timedelta64(365 * 5, "D"))
    span = (end - start).astype(int)
    modified = start + (rng.random(k) * span).astype("timedelta64[D]")
    seconds = rng.integers(8 * 3600, 19 * 3600, size=k).astype("timedelta64[s]")
    modified_at = modified.astype("datetime64[s]") + seconds
    fr = Frame(
        "crm",
        ent,
        {
            "Account ID": np.char.add("ACC", np.char.zfill(np.arange(1, k + 1).astype(str), 7)).astype(
                object
            ),
            "Account Name": t["name"][ent].copy(),
            "Contact Name": t["contact_name"][ent].copy(),
            "Mobile": where(kind == "foreign", t["phone"][ent], t["mobile"][ent]),
            "Email": t["email"][ent].copy(),
            "Street Address": t["street"][ent].copy(),
            "City": t["city"][ent].copy(),
            "Province": t["province"][ent].copy(),
            "Tax ID": t["uscc"][ent].copy(),
            "Account Type": where(kind == "individual", "Individual", "Company"),
            "Status": status,
            "Last Modified": modified_at.astype(object),
        },
        first_row=2,
        script=_script(t, ent),
    )
    fr.tag("duplicate_in_source", is_dup)
    real = kind != "test"
    c = fr.columns
    has = {col: c[col] != "" for col in ("Mobile", "Email", "Tax ID")}
    # romanised names: the CRM keeps the English name, with city and province in English
    roman = pick(rng, company & real, rates.romanised_name)
    c["Account Name"][roman] = t["english_name"][ent][roman]
    c["City"][roman] = t["city_en"][ent][roman]
    c["Province"][roman] = t["province_en"][ent][roman]
    fr.script = where(roman, "en", fr.script)
    fr.tag("romanised_name", roman)
    mobile_ok = has["Mobile"] & real & (kind != "foreign")
    eligible = {
        "fullwidth": real & ~roman,
        "legal_form_variant": (company | (kind == "foreign")),
        "typo": real,
        "name_traditional": real & ~roman & (kind != "foreign"),
        "region_in_brackets": company & ~roman & (t["n_style"][ent] != "none"),
        "phone_format": real & has["Mobile"],
        "phone_multi": mobile_ok,
        "phone_placeholder": mobile_ok,
        "phone_missing": mobile_ok,
        "mobile_changed": mobile_ok,
        "email_typo": has["Email"] & real,
        "email_case": has["Email"] & real,
        "email_missing": has["Email"] & real,
        "uscc_bad_check": has["Tax ID"],
        "uscc_missing": has["Tax ID"],
        "address_format": real & (kind != "foreign"),
        "address_changed": real,
        "address_missing": real,
        "date_format": np.ones(k, dtype=bool),
    }
    masks = _plan(rng, eligible, _rates(rates, uscc_missing=rates.crm_uscc_missing), rates.max_destructive)
    english = roman | (kind == "foreign")
    _vary_name(rng, t, fr, "Account Name", masks, english=english, ref=ref)
    _vary_mobile(rng, t, fr, "Mobile", masks, ref)
    _vary_email(rng, fr, "Email", masks, ref)
    _vary_uscc(rng, fr, "Tax ID", masks)
    _vary_address(rng, t, fr, "Street Address", masks, street=True)
    m = masks["date_format"]
    text = np.array(
        [f"{d.year}/{d.month}/{d.day} {d:%H:%M}" for d in modified_at[m].astype(object)], dtype=object
    )
    c["Last Modified"][m] = text
    fr.tag("date_format", m)
    _fullwidth(fr, ("Account Name", "Street Address"), masks["fullwidth"])
    fr.tag("test_record", kind == "test")
    fr.reorder(np.argsort(c["Account ID"].astype(str), kind="stable"))
    return fr


# --------------------------------------------------------------------------------------------
# ledger


def build_ledger(rng: np.random.Generator, t: Table, ref: Reference, rates: DemoRates) -> Frame:
    """The hand-kept ledger (XLSX with title rows): short names, one phone column, balances."""
    first = np.flatnonzero(t["in_ledger"])
    dup = np.flatnonzero(t["dup_ledger"])
    ent = np.concatenate([first, dup])
    is_dup = np.r_[np.zeros(first.size, bool), np.ones(dup.size, bool)]
    order = rng.permutation(ent.size)
    ent, is_dup = ent[order], is_dup[order]
    k = ent.size
    kind = t["kind"][ent]
    named = kind != "individual"
    use_mobile = (t["mobile"][ent] != "") & ((rng.random(k) < 0.6) | (t["phone"][ent] == ""))
    remarks = ref.words["ledger_remarks"]
    remark = choose(rng, remarks["normal"], k)
    remark = where(t["status"][ent] == "dormant", choose(rng, remarks["dormant"], k), remark)
    remark = where(t["vip"][ent], choose(rng, remarks["vip"], k), remark)
    remark = where(t["blacklist"][ent], choose(rng, remarks["blacklist"], k), remark)
    balance = np.round(rng.lognormal(0, 1.2, size=k) * 8000 * np.where(rng.random(k) < 0.1, -0.2, 1.0), 2)
    balance = np.where(rng.random(k) < 0.05, np.nan, balance)
    width = max(4, len(str(k)))
    fr = Frame(
        "ledger",
        ent,
        {
            "序号": np.char.add("L", np.char.zfill(np.arange(1, k + 1).astype(str), width)).astype(object),
            "客户简称": t["short_name"][ent].copy(),
            "联系人": t["contact_name"][ent].copy(),
            "联系电话": where(use_mobile, t["mobile"][ent], t["phone"][ent]),
            "地址": t["address"][ent].copy(),
            "应收余额": balance.astype(object),
            "备注": remark,
        },
        first_row=5,
        script=where(named, "short", "zh"),
    )
    fr.tag("duplicate_in_source", is_dup)
    fr.tag("short_name", named)
    c = fr.columns
    phone_ok = c["联系电话"] != ""
    mobile_ok = use_mobile & phone_ok
    eligible = {
        "fullwidth": np.ones(k, dtype=bool),
        "typo": np.ones(k, dtype=bool),
        "name_traditional": kind != "foreign",
        "phone_format": phone_ok,
        "phone_multi": mobile_ok,
        "phone_missing": phone_ok,
        "mobile_changed": mobile_ok,
        "address_format": np.ones(k, dtype=bool),
        "address_changed": np.ones(k, dtype=bool),
        "address_missing": np.ones(k, dtype=bool),
    }
    # the ledger holds little else to link a row by: one destructive defect at most
    masks = _plan(rng, eligible, _rates(rates), max(rates.max_destructive - 1, 1))
    english = kind == "foreign"
    # a short name has no legal form to protect
    _vary_name(rng, t, fr, "客户简称", masks, english=english, ref=ref, keep_tail=np.zeros(k, dtype=int))
    _vary_mobile(rng, t, fr, "联系电话", masks, ref)
    _vary_address(rng, t, fr, "地址", masks, street=False)
    _fullwidth(fr, ("地址",), masks["fullwidth"])
    return fr


# --------------------------------------------------------------------------------------------
# customers entered after go-live


def build_new(rng: np.random.Generator, t: Table, ref: Reference, rates: DemoRates, as_of: dt.date) -> Frame:
    """new_customers.csv: copies of existing customers (with variations) and really new ones."""
    new_ent = np.flatnonzero(t["origin"] == "new")
    n_rows = round(new_ent.size / max(1e-9, 1 - rates.new_copy_share))
    n_copy = max(1, n_rows - new_ent.size)
    source_ok = (t["origin"] == "legacy") & (t["kind"] != "test")
    copies = np.flatnonzero(pick_n(rng, source_ok, n_copy))
    ent = np.concatenate([copies, new_ent])
    ent = ent[rng.permutation(ent.size)]
    k = ent.size
    fr = Frame("new", ent, _erp_cells(rng, t, ent, ref), first_row=2, script=_script(t, ent))
    fr.columns["客户编码"] = np.char.add("N", np.char.zfill(np.arange(1, k + 1).astype(str), 6)).astype(
        object
    )
    end = np.datetime64(as_of, "D")
    created = end + rng.integers(1, 91, size=k).astype("timedelta64[D]")
    # copies are typed again by someone else: more variation than in the ERP
    _erp_defects(rng, t, fr, _rates(rates, boost=3.0), ref, rates.max_destructive, created)
    return fr


# --------------------------------------------------------------------------------------------
# transactions


def transaction_columns(act: Activity, codes: np.ndarray) -> dict[str, np.ndarray]:
    """The rows of transactions.csv, ordered by date and document number."""
    k = act.ent.size
    prefix = where(act.kind == "销售", "XS", "SK")
    years = act.date.astype("datetime64[Y]").astype(int) + 1970
    number = np.char.zfill(np.arange(1, k + 1).astype(str), 7).astype(object)
    return {
        "单据号": join(prefix, years.astype(str).astype(object), number),
        "客户编码": codes,
        "单据日期": np.datetime_as_string(act.date, unit="D").astype(object),
        "金额": np.char.mod("%.2f", act.amount).astype(object),
        "单据类型": act.kind,
    }


# the shared defect planting, for the hard variant's sources (:mod:`.hard_rows`)
plan_defects = _plan
rates_for = _rates
vary_mobile = _vary_mobile
vary_email = _vary_email
