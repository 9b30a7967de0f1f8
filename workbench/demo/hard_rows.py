"""Source rows of the demo's hard variant: the hard matches and look-alike non-matches, row by row.

This module owns what ``generate_demo(hard=True)`` plants on the rows of the legacy sources after
their usual defects (:mod:`.rows`), and the member system ``members.csv``, a person source with
split names, two street lines and resident ID numbers:

- company rows (ERP, CRM, ledger, new customers): a homophone or another character in the trade
  name, 股份 dropped or kept, the legal form left out, only the trade name in the ledger, a branch
  under its parent's name, a moved customer (old address, mobile and switchboard);
- every row: the tags of the look-alikes it belongs to (shared switchboard or building, household,
  sub-branch), from the entities and the cells as written;
- members.csv: household members under one ID, swapped names and street lines, mistyped IDs.

Rows that ingest quarantines or whose name is mojibake are never touched, so the file errors of
the default demo stay as they are. Cost is proportional to the planted rows.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from workbench.demo import hard_entities as hx
from workbench.demo import rows as rw
from workbench.demo import variants as var
from workbench.demo.rand import join, pick, where
from workbench.demo.rates import DemoRates, HardRates
from workbench.demo.reference import Reference, homophones

Table = dict[str, np.ndarray]
Frame = rw.Frame

MEMBERS_COLUMNS = (
    "会员编号", "姓", "名", "性别", "出生日期", "证件号码", "手机", "电子邮箱", "省份", "城市", "地址1",
    "地址2", "注册日期",
)  # fmt: skip
# the columns of each source that hold a company's name, phones and address (moved customers)
NAME_COLUMN = {"erp": "客户名称", "crm": "Account Name", "ledger": "客户简称", "new": "客户名称"}
PHONE_COLUMNS = {
    "erp": ("手机", "电话"),
    "crm": ("Mobile",),
    "ledger": ("联系电话",),
    "new": ("手机", "电话"),
}
ADDRESS_COLUMN = {"erp": "地址", "crm": "Street Address", "ledger": "地址", "new": "地址"}
# a row already missing or replacing this much is left alone by the destructive hard cases
CHANGED = ("typo", "phone_multi", "phone_placeholder", "phone_missing", "mobile_changed", "phone_format",
           "address_format", "address_changed", "address_missing", "uscc_missing")  # fmt: skip
UNTOUCHABLE = ("mojibake", "bad_bytes", "bad_cells", "test_record")


def _tagged(fr: Frame, names: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(fr.size, dtype=bool)
    for name in names:
        if name in fr.tags:
            out |= fr.tags[name]
    return out


def _base(t: Table, fr: Frame) -> np.ndarray:
    """Rows of Chinese companies that the hard cases may change."""
    bad = _tagged(fr, UNTOUCHABLE)
    if fr.quarantine is not None:
        bad |= fr.quarantine
    return (t["kind"][fr.ent] == "company") & ~bad


# --------------------------------------------------------------------------------------------
# company rows


def plant_company_cases(
    rng: np.random.Generator, t: Table, fr: Frame, ref: Reference, hard: HardRates
) -> None:
    """Plant the company hard cases on one legacy source (or new_customers.csv) in place."""
    base = _base(t, fr)
    col = NAME_COLUMN[fr.source]
    chinese = base & (fr.script != "en")
    if fr.source != "new":
        _drop_branch_marker(rng, t, fr, col, base, hard.branch_marker_dropped)
    _gufen(rng, t, fr, col, chinese & ~_tagged(fr, ("branch_marker_dropped",)), hard.gufen_variant)
    if fr.source == "ledger":
        plain = chinese & (fr.columns[col] == t["short_name"][fr.ent]) & (t["relation"][fr.ent] != "branch")
        m = pick(rng, plain, hard.brand_only)
        fr.columns[col][m] = t["brand"][fr.ent][m]
        fr.tag("brand_only", m)
    if fr.source == "crm":
        _drop_legal_form(
            rng, t, fr, col, base & ~_tagged(fr, ("branch_marker_dropped",)), hard.legal_form_dropped
        )
    no_typo = chinese & ~_tagged(fr, ("typo", "brand_only"))
    _brand_change(rng, t, ref, fr, col, no_typo, hard.brand_homophone, homophone=True)
    no_typo &= ~_tagged(fr, ("brand_homophone",))
    _brand_change(rng, t, ref, fr, col, no_typo, hard.brand_typo, homophone=False)
    if fr.source != "new":
        _move(rng, t, fr, base & ~_tagged(fr, CHANGED), hard.moved)


def _brand_change(
    rng: np.random.Generator,
    t: Table,
    ref: Reference,
    fr: Frame,
    col: str,
    eligible: np.ndarray,
    rate: float,
    *,
    homophone: bool,
) -> None:
    """One character of the trade name replaced: by a homophone (华瑞 → 华锐) or by another character."""
    cells, brand = fr.columns[col], t["brand"][fr.ent]
    tag = "brand_homophone" if homophone else "brand_typo"
    sounds = homophones()
    others = tuple(ref.brand_chars)
    cand = np.flatnonzero(pick(rng, eligible, rate))
    draw = rng.random((2, cand.size))
    done = np.zeros(fr.size, dtype=bool)
    for j, i in enumerate(cand):
        at = cells[i].find(brand[i])
        if at < 0:
            continue
        k = int(draw[0, j] * len(brand[i]))
        old = brand[i][k]
        options = sounds.get(old, ()) if homophone else tuple(o for o in others if o != old)
        if not options:
            continue
        new = options[int(draw[1, j] * len(options))]
        cells[i] = cells[i][: at + k] + new + cells[i][at + k + 1 :]
        done[i] = True
    fr.tag(tag, done)


def _gufen(
    rng: np.random.Generator, t: Table, fr: Frame, col: str, eligible: np.ndarray, rate: float
) -> None:
    """股份 dropped from a 股份有限公司's name, or (ledger) a short name of 字号 + 股份 (康成股份)."""
    e = fr.ent
    cells = fr.columns[col]
    if fr.source == "ledger":
        ok = eligible & (t["n_legal"][e] == "股份有限公司") & (cells == t["short_name"][e])
        m = pick(rng, ok, rate)
        cells[m] = join(t["brand"][e][m], "股份")
    else:
        ok = eligible & np.array(["股份有限公司" in v for v in cells], dtype=bool)
        m = pick(rng, ok, rate)
        cells[m] = [v.replace("股份有限公司", "有限公司", 1) for v in cells[m]]
    fr.tag("gufen_variant", m)


def _drop_legal_form(
    rng: np.random.Generator, t: Table, fr: Frame, col: str, eligible: np.ndarray, rate: float
) -> None:
    """The legal form left out (Guangzhou Yuncheng Chemical; 运成化工(广州))."""
    e = fr.ent
    cells = fr.columns[col]
    legal = where(fr.script == "en", t["n_legal_en"][e], t["n_legal"][e])
    ok = eligible & np.array([bool(lf) and lf in v for v, lf in zip(cells, legal, strict=True)], dtype=bool)
    m = pick(rng, ok, rate)
    cells[m] = [" ".join(v.replace(lf, " ", 1).split()) for v, lf in zip(cells[m], legal[m], strict=True)]
    fr.tag("legal_form_dropped", m)


def _drop_branch_marker(
    rng: np.random.Generator, t: Table, fr: Frame, col: str, eligible: np.ndarray, rate: float
) -> None:
    """A branch written under its parent's name (the name without its branch suffix)."""
    e = fr.ent
    cells = fr.columns[col]
    root = np.maximum(t["root"][e], 0)
    branch = eligible & (t["relation"][e] == "branch")
    if fr.source == "ledger":
        ok = branch & (cells == t["short_name"][e])
        m = pick(rng, ok, rate)
        cells[m] = t["short_name"][root][m]
    else:
        zh = branch & (fr.script != "en") & (cells == t["name"][e])
        en = branch & (fr.script == "en") & (cells == t["english_name"][e])
        m = pick(rng, zh | en, rate)
        cells[m & zh] = t["name"][root][m & zh]
        cells[m & en] = t["english_name"][root][m & en]
    fr.tag("branch_marker_dropped", m)


def _move(rng: np.random.Generator, t: Table, fr: Frame, eligible: np.ndarray, rate: float) -> None:
    """The customer moved since this row was written: its older address, mobile and switchboard."""
    e = fr.ent
    m = pick(rng, eligible & (fr.columns[ADDRESS_COLUMN[fr.source]] != ""), rate)
    address = fr.columns[ADDRESS_COLUMN[fr.source]]
    address[m] = (t["street_old"] if fr.source == "crm" else t["address_old"])[e][m]
    for col in PHONE_COLUMNS[fr.source]:
        cells = fr.columns[col]
        is_mobile = m & (cells != "") & (cells == t["mobile"][e])
        is_phone = m & (cells != "") & (cells == t["phone"][e])
        cells[is_mobile] = t["mobile_old"][e][is_mobile]
        cells[is_phone] = t["phone_old"][e][is_phone]
    fr.tag("moved", m)


# --------------------------------------------------------------------------------------------
# the member system


def build_members(
    rng: np.random.Generator, t: Table, ref: Reference, rates: DemoRates, hard: HardRates, as_of: dt.date
) -> Frame:
    """members.csv: the B2C member system (split names, two street lines, resident ID numbers)."""
    first = np.flatnonzero(t["in_members"])
    dup = np.flatnonzero(t["dup_members"])
    ent = np.concatenate([first, dup])
    is_dup = np.r_[np.zeros(first.size, bool), np.ones(dup.size, bool)]
    order = rng.permutation(ent.size)
    ent, is_dup = ent[order], is_dup[order]
    k = ent.size
    root = np.maximum(t["root"][ent], 0)
    follower = (t["relation"][ent] == "household") & (t["parent"][ent] >= 0)
    shared = pick(rng, follower, hard.shared_id)
    end = np.datetime64(as_of, "D")
    since = np.maximum(t["created"][ent], end - np.timedelta64(365 * 8, "D"))
    registered = since + (rng.random(k) * (end - since).astype(int)).astype("timedelta64[D]")
    fr = Frame(
        "members",
        ent,
        {
            "会员编号": np.char.add("HY", np.char.zfill(np.arange(1, k + 1).astype(str), 7)).astype(object),
            "姓": t["surname"][ent].copy(),
            "名": t["given_name"][ent].copy(),
            "性别": t["gender"][ent].copy(),
            "出生日期": np.datetime_as_string(t["birth_date"][ent], unit="D").astype(object),
            "证件号码": where(shared, t["id_number"][root], t["id_number"][ent]),
            "手机": t["mobile"][ent].copy(),
            "电子邮箱": t["email"][ent].copy(),
            "省份": t["province"][ent].copy(),
            "城市": t["city"][ent].copy(),
            "地址1": t["line1"][ent].copy(),
            "地址2": t["line2"][ent].copy(),
            "注册日期": np.datetime_as_string(registered, unit="D").astype(object),
        },
        first_row=2,
        script=np.full(k, "zh", dtype=object),
    )
    fr.tag("duplicate_in_source", is_dup)
    fr.tag("shared_id", shared)
    _member_defects(rng, t, fr, ref, rates, hard)
    fr.reorder(np.argsort(fr.columns["会员编号"].astype(str), kind="stable"))
    return fr


def _member_defects(
    rng: np.random.Generator, t: Table, fr: Frame, ref: Reference, rates: DemoRates, hard: HardRates
) -> None:
    c = fr.columns
    k = fr.size
    has = {col: c[col] != "" for col in ("手机", "电子邮箱", "地址2")}
    eligible = {
        "phone_format": has["手机"],
        "phone_missing": has["手机"],
        "mobile_changed": has["手机"],
        "email_typo": has["电子邮箱"],
        "email_case": has["电子邮箱"],
        "email_missing": has["电子邮箱"],
        "date_format": np.ones(k, dtype=bool),
        "id_typo": ~fr.tags["shared_id"],
        "name_swap": np.ones(k, dtype=bool),
        "street_swap": has["地址2"],
    }
    rate = rw.rates_for(rates, id_typo=hard.id_typo, name_swap=hard.name_swap, street_swap=hard.street_swap)
    masks = rw.plan_defects(rng, eligible, rate, rates.max_destructive)
    rw.vary_mobile(rng, t, fr, "手机", masks, ref)
    rw.vary_email(rng, fr, "电子邮箱", masks, ref)
    m = masks["date_format"]
    c["出生日期"][m] = var.format_dates(t["birth_date"][fr.ent][m], rng.integers(0, 4, size=int(m.sum())))
    fr.tag("date_format", m)
    m = masks["id_typo"]
    c["证件号码"][m] = hx.mistype_ids(rng, c["证件号码"][m])
    fr.tag("id_typo", m)
    m = masks["name_swap"]
    c["姓"][m], c["名"][m] = c["名"][m].copy(), c["姓"][m].copy()
    fr.tag("name_swap", m)
    m = masks["street_swap"]
    c["地址1"][m], c["地址2"][m] = c["地址2"][m].copy(), c["地址1"][m].copy()
    fr.tag("street_swap", m)
    # a few members give the province and city in short (江苏 南京)
    short = rng.random(k) < 0.2
    cities = ref.cities
    idx = t["city_idx"][fr.ent]
    c["省份"] = where(short, cities.province_short[idx], c["省份"])
    c["城市"] = where(short, cities.city_short[idx], c["城市"])


# --------------------------------------------------------------------------------------------
# look-alike tags on every row


def tag_lookalikes(t: Table, frames: dict[str, Frame]) -> None:
    """Tag every row with the look-alike cases its entity belongs to, as its cells show them.

    ``shared_phone``: a phone cell holds a switchboard another entity also has; ``shared_building``:
    the entity's building is another group member's and the row gives the entity's own address;
    ``household`` and ``nested_branch`` from the entity.
    """
    phone = t["phone"]
    local = np.array([re.sub(r"\D", "", p.split("-", 1)[-1]) if p else "" for p in phone], dtype=object)
    shared_phone = (phone != "") & _repeated(phone)
    building = join(t["city"], "|", t["line1"])
    shared_building = (
        (t["kind"] == "company") & (t["root"] >= 0) & _repeated(where(t["kind"] == "company", building, ""))
    )
    for name, fr in frames.items():
        e = fr.ent
        cols = [c for c in PHONE_COLUMNS.get(name, ()) if c in fr.columns]
        show = np.zeros(fr.size, dtype=bool)
        for i in np.flatnonzero(shared_phone[e]):
            digits = "".join(re.sub(r"\D", "", fr.columns[c][i]) for c in cols)
            show[i] = bool(local[e[i]]) and local[e[i]] in digits
        fr.tag("shared_phone", show)
        kept = ~_tagged(fr, ("address_changed", "address_missing", "moved"))
        fr.tag("shared_building", shared_building[e] & kept)
        fr.tag("household", t["relation"][e] == "household")
        fr.tag("nested_branch", t["nested"][e])


def _repeated(values: np.ndarray) -> np.ndarray:
    from workbench.demo.entities import repeated

    return repeated(values) & (values != "")
