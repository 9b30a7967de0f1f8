"""The true customers of the demo (the entities), before any source writes them down.

This module owns the entity table: one row per real-world customer, with its true name, short
name, English name, USCC, contact data, address, group membership, status and flags, and in which
legacy sources it appears. Sources and their defects are built from it in :mod:`.rows`.

Everything is drawn vectorised from one ``numpy.random.Generator``. Distinct entities never share
a mobile, an e-mail, a USCC or a full address, except group members that share a switchboard or a
building on purpose; so any two entities differ in several fields and the linkage has a fair truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pypinyin import lazy_pinyin

from workbench.demo import hard_entities as hx
from workbench.demo.rand import choose, digits, fill_pattern, join, pick, pick_n, unique_ints, where
from workbench.demo.rates import DemoError, DemoRates, HardRates
from workbench.demo.reference import Reference

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)])
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])  # GB 11714
ORG_BODY_LETTERS = "ABCDEFGHJKLMNPQRTUWXY"  # letters of an org code body that a USCC can hold
MOBILE_PLACEHOLDERS = (13800000000, 13800138000, 13888888888, 13900000000)

Table = dict[str, np.ndarray]


@dataclass(frozen=True)
class Population:
    """How many entities of each kind."""

    standalone: int
    groups: int
    members: np.ndarray  # members per group
    individuals: int
    foreign: int
    test: int
    new_company: int
    new_individual: int
    new_foreign: int
    households: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # sizes (hard variant)

    @property
    def legacy(self) -> int:
        return (
            self.standalone
            + self.groups
            + int(self.members.sum())
            + self.individuals
            + self.foreign
            + self.test
        )

    @property
    def total(self) -> int:
        return self.legacy + self.new_company + self.new_individual + self.new_foreign


def plan_population(
    rng: np.random.Generator, customers: int, rates: DemoRates, hard: HardRates | None = None
) -> Population:
    """Split `customers` into kinds, groups (and households, in the hard variant) and the entities only
    new_customers.csv holds."""
    if customers < 50:
        raise DemoError(f"customers = {customers}: the demo needs at least 50 customers")
    n_ind = max(3, round(customers * rates.individual_share))
    n_for = max(2, round(customers * rates.foreign_share))
    n_test = max(3, round(customers * rates.test_share))
    n_cn = customers - n_ind - n_for - n_test
    n_groups = max(2, round(n_cn * rates.group_share))
    members = rng.integers(1, 5, size=n_groups)
    while n_groups > 2 and n_groups + members.sum() > 0.35 * n_cn:
        n_groups -= 1
        members = members[:n_groups]
    n_new_rows = max(10, round(customers * rates.new_customer_share))
    n_new = n_new_rows - round(n_new_rows * rates.new_copy_share)
    n_new_ind = round(n_new * 0.2)
    n_new_for = round(n_new * 0.05)
    households = np.zeros(0, dtype=int)
    if hard is not None:
        households = hx.household_sizes(rng, n_ind, hard.household_share)
    return Population(
        standalone=n_cn - n_groups - int(members.sum()),
        groups=n_groups,
        members=members,
        individuals=n_ind,
        foreign=n_for,
        test=n_test,
        new_company=n_new - n_new_ind - n_new_for,
        new_individual=n_new_ind,
        new_foreign=n_new_for,
        households=households,
    )


def build_entities(
    rng: np.random.Generator,
    pop: Population,
    ref: Reference,
    rates: DemoRates,
    as_of: dt.date,
    hard: HardRates | None = None,
) -> Table:
    """Draw every entity of the population (legacy customers first, then the new-only ones).

    With `hard` (the hard variant) the look-alike cases of :mod:`.hard_entities` are added; without it
    nothing of them is drawn, so the default demo stays as it was.

    Returns:
        Column name → array (one element per entity); see the module docstring.
    """
    n = pop.total
    kind = np.empty(n, dtype=object)
    relation = np.full(n, "", dtype=object)
    group = np.full(n, -1)
    parent = np.full(n, -1)
    origin = np.full(n, "legacy", dtype=object)
    pos = 0

    def block(size: int, k: str, org: str = "legacy") -> slice:
        nonlocal pos
        s = slice(pos, pos + size)
        kind[s] = k
        origin[s] = org
        pos += size
        return s

    block(pop.standalone, "company")
    group_rows = block(pop.groups + int(pop.members.sum()), "company")
    # within the group block: each parent is followed by its members
    sizes = pop.members + 1
    starts = group_rows.start + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gid = np.repeat(np.arange(pop.groups), sizes)
    group[group_rows] = gid
    parent_of_row = np.repeat(starts, sizes)
    is_head = np.arange(group_rows.start, group_rows.stop) == parent_of_row
    member_rel = choose(rng, ["branch", "subsidiary", "sister"], int((~is_head).sum()), p=[0.4, 0.4, 0.2])
    member_rel[:3] = ["branch", "subsidiary", "sister"][: min(3, member_rel.size)]
    rel = np.full(is_head.size, "parent", dtype=object)
    rel[~is_head] = member_rel
    relation[group_rows] = rel
    parent[group_rows] = np.where(is_head, -1, parent_of_row)
    nested = np.zeros(n, dtype=bool)
    if hard is not None:
        nested = hx.nest_branches(rng, relation, parent, group, hard.nested_branch)
    individuals = block(pop.individuals, "individual")
    household = np.full(n, -1)
    hx.place_households(relation, parent, household, individuals.start, pop.households)
    block(pop.foreign, "foreign")
    block(pop.test, "test")
    block(pop.new_company, "company", "new")
    block(pop.new_individual, "individual", "new")
    block(pop.new_foreign, "foreign", "new")

    t: Table = {
        "entity_id": np.char.add("E", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object),
        "kind": kind,
        "origin": origin,
        "group": group,
        "relation": relation,
        "parent": parent,
        "root": hx.root_of(parent),  # the group head (or household head); the parent but for sub-branches
        "nested": nested,
        "household": household,
    }
    t["group_id"] = where(
        group >= 0,
        np.char.add("G", np.char.zfill((group + 1).astype(str), 5)).astype(object),
        where(household >= 0, np.char.add("H", np.char.zfill((household + 1).astype(str), 5)).astype(object), ""),
    )
    t["parent_entity_id"] = where(parent >= 0, t["entity_id"][np.maximum(parent, 0)], "")
    t["customer_type"] = where(kind == "individual", "B2C", "B2B")
    _draw_places(rng, t, ref, hard)
    _draw_names(rng, t, ref, hard)
    _draw_uscc(rng, t, ref)
    _draw_contacts(rng, t, ref, hard)
    _draw_addresses(rng, t, ref, hard)
    if hard is not None:
        hx.name_nested_branches(rng, t)
        hx.draw_people(rng, t, ref, np.datetime64(as_of, "D"))
    _draw_status(rng, t, rates)
    _draw_presence(rng, t, rates, hard)
    _draw_dates(rng, t, as_of)
    return t


# --------------------------------------------------------------------------------------------
# places


def _draw_places(rng: np.random.Generator, t: Table, ref: Reference, hard: HardRates | None = None) -> None:
    n = t["kind"].size
    c = ref.cities
    city = rng.choice(c.city.size, size=n, p=c.weight)
    rel, par = t["relation"], t["parent"]
    # a branch sits in another city than its parent; a sister in the same one
    branch = rel == "branch"
    shift = rng.integers(1, c.city.size, size=n)
    city = np.where(branch, (city[np.maximum(par, 0)] + shift) % c.city.size, city)
    city = np.where(rel == "sister", city[np.maximum(par, 0)], city)
    if hard is not None:
        city = hx.local_cities(rng, t, city, hard)
    t["city_idx"] = city
    # foreign entities: a country and a city in it
    countries = list(ref.foreign)
    weights = [ref.foreign[k]["weight"] for k in countries]
    foreign = t["kind"] == "foreign"
    t["country"] = where(foreign, choose(rng, countries, n, p=weights), "CN")
    t["fcity"] = rng.integers(0, 1 << 30, size=n)  # index into the country's city list (mod len)


# --------------------------------------------------------------------------------------------
# names


class Brands:
    """Brand (字号) codes: two different characters, or (for large demos) three characters.

    Codes below ``pairs`` are pairs, the rest triples, so a million companies still find brands.
    """

    def __init__(self, ref: Reference):
        self.chars = np.array(ref.brand_chars, dtype=object)
        self.pinyin = np.array([lazy_pinyin(ch)[0] for ch in ref.brand_chars], dtype=object)
        k = self.chars.size
        self.k = k
        self.pairs = k * (k - 1)
        self.size = self.pairs + k**3

    def draw(self, rng: np.random.Generator, size: int, triple_share: float = 0.15) -> np.ndarray:
        triple = rng.random(size) < triple_share
        return np.where(
            triple, self.pairs + rng.integers(0, self.k**3, size=size), rng.integers(0, self.pairs, size=size)
        )

    def text(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chinese brand and its capitalised pinyin (华瑞, Huarui) for every code."""
        k = self.k
        pair = codes < self.pairs
        p = np.where(pair, codes, 0)
        a, b = p // (k - 1), p % (k - 1)
        b = b + (b >= a)  # the second character differs from the first
        tri = np.where(pair, 0, codes - self.pairs)
        a = np.where(pair, a, tri // (k * k))
        b = np.where(pair, b, tri // k % k)
        c = tri % k
        zh = join(self.chars[a], self.chars[b], where(pair, "", self.chars[c]))
        en = join(self.pinyin[a], self.pinyin[b], where(pair, "", self.pinyin[c]))
        return zh, np.array([x.capitalize() for x in en], dtype=object)


def assemble_name(
    style: np.ndarray,
    region: np.ndarray,
    brand: np.ndarray,
    middle: np.ndarray,
    legal: np.ndarray,
    suffix: np.ndarray,
) -> np.ndarray:
    """Chinese company names from their parts: style ``prefix`` (上海华瑞科技有限公司), ``bracket``
    (华瑞(上海)科技有限公司) or ``none`` (华瑞科技有限公司), then the suffix (北京分公司)."""
    prefix = join(region, brand, middle, legal, suffix)
    bracket = join(brand, "(", region, ")", middle, legal, suffix)
    plain = join(brand, middle, legal, suffix)
    return where(style == "prefix", prefix, where(style == "bracket", bracket, plain))


def _draw_names(rng: np.random.Generator, t: Table, ref: Reference, hard: HardRates | None = None) -> None:
    n = t["kind"].size
    kind, rel, par = t["kind"], t["relation"], t["root"]
    c = ref.cities
    w = ref.words
    ind_zh = np.array([i[0] for i in w["industries"]], dtype=object)
    ind_en = np.array([i[1] for i in w["industries"]], dtype=object)
    brands = Brands(ref)
    company = kind == "company"
    head = rel == "parent"
    member = (t["group"] >= 0) & ~head
    p = np.maximum(par, 0)

    brand = brands.draw(rng, n)
    # every group has its own brand
    n_head = int(head.sum())
    brand[head] = unique_ints(rng, 0, brands.pairs if n_head <= brands.pairs // 2 else brands.size, n_head)
    brand = np.where(member, brand[p], brand)
    industry = rng.integers(0, ind_zh.size, size=n)
    # a group head of its subsidiaries' own trade (hard variant): 康成科技股份有限公司, 康成科技(上海)有限公司
    trade = hx.trade_heads(rng, head, hard.same_trade_group) if hard is not None else np.zeros(n, dtype=bool)
    industry = np.where((rel == "subsidiary") & trade[p], industry[p], industry)
    group_head = head & ~trade
    lf = ref.words["legal_forms"]
    legal_idx = rng.choice(len(lf), size=n, p=[x["share"] for x in lf])
    legal = np.array([x["zh"] for x in lf], dtype=object)[legal_idx]
    legal_en = np.array([x["en"] for x in lf], dtype=object)[legal_idx]
    legal_var = np.array([x["variant_zh"] for x in lf], dtype=object)[legal_idx]
    glf = ref.words["group_legal_form"]
    sub_or_sister = (rel == "subsidiary") | (rel == "sister")
    legal = where(group_head, glf["zh"], where(sub_or_sister, "有限公司", legal))
    legal_en = where(group_head, glf["en"], where(sub_or_sister, "Co., Ltd.", legal_en))
    legal_var = where(group_head, glf["variant_zh"], where(sub_or_sister, "有限责任公司", legal_var))
    style = choose(rng, ["prefix", "bracket", "none"], n, p=[0.6, 0.25, 0.15])
    style = where(head, choose(rng, ["prefix", "none"], n), style)
    style = where(rel == "subsidiary", choose(rng, ["bracket", "prefix"], n, p=[0.7, 0.3]), style)
    style = where(rel == "sister", choose(rng, ["prefix", "none"], n, p=[0.6, 0.4]), style)
    region_zh = c.city_short[t["city_idx"]]
    region_en = c.city_en[t["city_idx"]]
    middle = where(group_head, "", ind_zh[industry])
    middle_en = where(group_head, "", ind_en[industry])
    suffix = np.full(n, "", dtype=object)
    suffix_en = np.full(n, "", dtype=object)
    # a branch carries its parent's whole name, then the branch city and 分公司
    branch = rel == "branch"
    for arr in (legal, legal_en, legal_var, style, middle, middle_en):
        arr[branch] = arr[p[branch]]
    branch_city = c.city_short[t["city_idx"]]
    suffix = where(branch, join(branch_city, "分公司"), suffix)
    suffix_en = where(branch, join(" ", c.city_en[t["city_idx"]], " Branch"), suffix_en)
    nested = t["nested"]  # a sub-branch: its office is named once its district is drawn
    suffix = where(nested, join(suffix, hx.NESTED_MARK), suffix)
    suffix_en = where(nested, join(suffix_en, hx.NESTED_MARK), suffix_en)
    region_zh = where(branch, region_zh[p], region_zh)
    region_en = where(branch, region_en[p], region_en)

    brand_zh, brand_en = brands.text(brand)
    name = assemble_name(style, region_zh, brand_zh, middle, legal, suffix)
    for _ in range(50):  # names must not repeat: redraw a part of the repeated ones, redo only those
        rep = company & repeated(name)
        if not rep.any():
            break
        alone = rep & ((rel == "") | head)
        brand[alone] = brands.draw(rng, int(alone.sum()))
        follows = member & alone[p]  # the members of a group whose head got another brand
        brand[follows] = brand[p[follows]]
        own = rep & sub_or_sister  # subsidiaries / sisters of one group: another industry
        industry[own] = rng.integers(0, ind_zh.size, size=int(own.sum()))
        middle[own], middle_en[own] = ind_zh[industry[own]], ind_en[industry[own]]
        twin = rep & branch & _duplicated(name)  # two branches of one group in one city
        t["city_idx"][twin] = (t["city_idx"][twin] + 1) % c.city.size
        suffix[twin] = join(c.city_short[t["city_idx"][twin]], "分公司")
        suffix_en[twin] = join(" ", c.city_en[t["city_idx"][twin]], " Branch")
        redo = np.flatnonzero(alone | follows | own | twin)
        brand_zh[redo], brand_en[redo] = brands.text(brand[redo])
        name[redo] = assemble_name(
            style[redo], region_zh[redo], brand_zh[redo], middle[redo], legal[redo], suffix[redo]
        )
    else:  # pragma: no cover - the name space is far larger than any demo
        raise DemoError("could not draw distinct company names; lower `customers`")
    branch_city = c.city_short[t["city_idx"]]

    t["brand"] = where(company, brand_zh, "")
    t["brand_en"] = where(company, brand_en, "")
    t["n_style"], t["n_region"], t["n_middle"], t["n_suffix"] = style, region_zh, middle, suffix
    t["n_legal"], t["n_legal_variant"], t["n_legal_en"] = legal, legal_var, legal_en
    t["industry_idx"] = industry
    en_region = where(style == "none", "", join(region_en, " "))
    en_name = where(
        style == "bracket",
        join(brand_en, " (", region_en, ") ", middle_en, " ", legal_en, suffix_en),
        join(en_region, brand_en, " ", middle_en, " ", legal_en, suffix_en),
    )
    en_name = np.array([" ".join(s.split()) for s in en_name], dtype=object)
    short = where(group_head, join(brand_zh, "集团"), join(brand_zh, middle))
    short = where(branch, join(brand_zh, branch_city, "分公司"), short)
    short = where(nested, join(short, hx.NESTED_MARK), short)

    # people: individuals, and the contacts of companies
    parts = _person_names(rng, ref, n)
    person, person_py = parts[0], parts[1]
    if hard is not None:
        person, person_py = hx.split_person_names(rng, t, ref, parts, hard)
    contact, contact_py = _person_names(rng, ref, n)[:2]
    individual = kind == "individual"
    t["person_py"] = where(individual, person_py, contact_py)

    # foreign companies
    f_name, f_short, f_contact = _foreign_names(rng, t, ref)
    foreign = kind == "foreign"

    test = kind == "test"
    tn = ref.words["test_names"]
    test_name = np.array([f"{tn[i % len(tn)]}{i + 1:02d}" for i in range(int(test.sum()))], dtype=object)
    names = where(company, name, "")
    names = where(individual, person, names)
    names = where(foreign, f_name, names)
    names[test] = test_name
    t["name"] = names
    t["short_name"] = where(company, short, where(foreign, f_short, names))
    t["english_name"] = where(company, en_name, where(foreign, f_name, ""))
    t["contact_name"] = where(individual, person, where(foreign, f_contact, contact))
    t["contact_name"] = where(test, _cycle(["测试", "张三", "test", ""], test), t["contact_name"])


def repeated(values: np.ndarray) -> np.ndarray:
    """True for every element whose value occurs more than once."""
    return pd.Series(values, copy=False).duplicated(keep=False).to_numpy()


def _cycle(options: list[str], mask: np.ndarray) -> np.ndarray:
    """`options` in turn over the rows of `mask` (the k-th marked row gets option k mod len)."""
    k = np.cumsum(mask) - 1
    return np.array(options, dtype=object)[np.maximum(k, 0) % len(options)]


def _duplicated(values: np.ndarray) -> np.ndarray:
    """True for every element that equals an earlier one."""
    return pd.Series(values, copy=False).duplicated().to_numpy()


def _person_names(rng: np.random.Generator, ref: Reference, n: int) -> tuple[np.ndarray, ...]:
    """Chinese person names (surname + one or two given characters) and their pinyin; then the
    surname, the given name and the pinyin of each."""
    sur = np.array(ref.surnames, dtype=object)
    giv = np.array(ref.given_chars, dtype=object)
    sur_py = np.array(["".join(lazy_pinyin(s)) for s in ref.surnames], dtype=object)
    giv_py = np.array([lazy_pinyin(g)[0] for g in ref.given_chars], dtype=object)
    s = rng.integers(0, sur.size, size=n)
    g1 = rng.integers(0, giv.size, size=n)
    g2 = rng.integers(0, giv.size, size=n)
    two = rng.random(n) < 0.6
    given = join(giv[g1], where(two, giv[g2], ""))
    given_py = join(giv_py[g1], where(two, giv_py[g2], ""))
    return join(sur[s], given), join(sur_py[s], given_py), sur[s], given, sur_py[s], given_py


def _foreign_names(
    rng: np.random.Generator, t: Table, ref: Reference
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = t["kind"].size
    name = np.full(n, "", dtype=object)
    short = np.full(n, "", dtype=object)
    contact = np.full(n, "", dtype=object)
    t["f_legal"] = np.full(n, "", dtype=object)
    foreign = t["kind"] == "foreign"
    for code, spec in ref.foreign.items():  # a handful of countries, each vectorised
        rows = np.flatnonzero(foreign & (t["country"] == code))
        if not rows.size:
            continue
        k = rows.size
        stem = choose(rng, spec["stems"], k)
        stem2 = choose(rng, spec["stems"], k)
        ind = choose(rng, spec["industries"], k)
        legal = choose(rng, spec["legal_forms"], k)
        two = rng.random(k) < 0.4
        city = t["fcity"][rows] % len(spec["cities"])
        for _ in range(10):  # a few redraws; a huge demo may keep some names repeated in one city
            base = where(two & (stem != stem2), join(stem, " & ", stem2), stem)
            full = join(base, " ", ind, " ", legal)
            # a name may repeat in another city (a big demo has more firms than names)
            rep = repeated(join(full, "|", city.astype(str).astype(object)))
            if not rep.any():
                break
            m = int(rep.sum())
            stem[rep], stem2[rep], ind[rep] = (
                choose(rng, spec[key], m) for key in ("stems", "stems", "industries")
            )
            two[rep] = True
        name[rows] = full
        short[rows] = join(stem, " ", ind)
        contact[rows] = join(choose(rng, spec["first_names"], k), " ", choose(rng, spec["stems"], k))
        t["f_legal"][rows] = legal
    return name, short, contact


# --------------------------------------------------------------------------------------------
# USCC


def uscc_check_chars(body: np.ndarray) -> np.ndarray:
    """GB 32100 check characters for an (n, 17) array of symbol values (0–30)."""
    total = (body * USCC_WEIGHTS).sum(axis=1)
    return (31 - total % 31) % 31


def _draw_uscc(rng: np.random.Generator, t: Table, ref: Reference) -> None:
    n = t["kind"].size
    has = t["kind"] == "company"
    k = int(has.sum())
    alphabet = np.array(list(USCC_ALPHABET))
    value_of = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
    c = ref.cities
    # registering authority: a district of the entity's city
    city = t["city_idx"][has]
    dist = c.district_start[city] + (rng.random(k) * c.district_count[city]).astype(int)
    t["district_idx"] = np.zeros(n, dtype=int)
    t["district_idx"][has] = dist
    region = np.array([[value_of[d] for d in code] for code in c.district_adcode])[dist]  # (k, 6)
    # GB 11714 symbol value (0–35) → USCC symbol value (0–30); I, O, S, V, Z never occur
    to_uscc_value = np.array([value_of.get(ch, -1) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"])
    codes = np.empty(0, dtype=object)
    for _ in range(20):
        # organization code (GB 11714): newer ones start with MA, older ones are digits
        letters_ok = np.array([ord(ch) - 55 for ch in ORG_BODY_LETTERS])  # values 10–35
        alnum = np.concatenate([np.arange(10), letters_ok])
        body = rng.integers(0, 10, size=(k, 8))
        ma = rng.random(k) < 0.6
        body[ma, 0], body[ma, 1] = ord("M") - 55, ord("A") - 55
        body[ma, 2:] = alnum[rng.integers(0, alnum.size, size=(int(ma.sum()), 6))]
        c9 = 11 - (body * ORG_WEIGHTS).sum(axis=1) % 11
        check9 = np.where(c9 == 10, ord("X") - 55, np.where(c9 == 11, 0, c9))
        org = np.concatenate([body, check9[:, None]], axis=1)  # values 0–35
        org_vals = to_uscc_value[org]
        head = np.tile([value_of["9"], value_of["1"]], (k, 1))
        full = np.concatenate([head, region, org_vals], axis=1)
        check = uscc_check_chars(full)
        allv = np.concatenate([full, check[:, None]], axis=1)
        codes = np.ascontiguousarray(alphabet[allv]).view("<U18").ravel().astype(object)
        if not _duplicated(codes).any():
            break
    else:  # pragma: no cover
        raise DemoError("could not draw distinct USCCs")
    t["uscc"] = np.full(n, "", dtype=object)
    t["uscc"][has] = codes


# --------------------------------------------------------------------------------------------
# contact data


def _mobiles(rng: np.random.Generator, ref: Reference, size: int) -> np.ndarray:
    prefixes = np.array(ref.words["mobile_prefixes"], dtype=np.int64)
    banned = []
    for ph in MOBILE_PLACEHOLDERS:
        where_p = np.flatnonzero(prefixes == ph // 10**8)
        if where_p.size:
            banned.append(int(where_p[0]) * 10**8 + ph % 10**8)
    v = unique_ints(rng, 0, prefixes.size * 10**8, size, exclude=banned)
    return join(
        prefixes[v // 10**8].astype(str).astype(object),
        np.char.zfill((v % 10**8).astype(str), 8).astype(object),
    )


def _draw_contacts(rng: np.random.Generator, t: Table, ref: Reference, hard: HardRates | None = None) -> None:
    n = t["kind"].size
    kind, rel, par = t["kind"], t["relation"], t["root"]
    p = np.maximum(par, 0)
    c = ref.cities
    pool = _mobiles(rng, ref, 3 * n)
    company, individual, foreign, test = (kind == k for k in ("company", "individual", "foreign", "test"))
    has_mobile = individual | (company & (rng.random(n) < 0.95))
    t["mobile"] = where(has_mobile, pool[:n], "")
    t["mobile_old"] = pool[n : 2 * n]  # for mobile_changed
    t["mobile_2"] = pool[2 * n :]  # a second number (phone_multi)
    # switchboard: area code + 8 digits, unique
    local = unique_ints(rng, 20_000_000, 90_000_000, n).astype(str).astype(object)
    area = c.area_code[t["city_idx"]]
    has_phone = (company & (rng.random(n) < 0.9)) | (individual & (rng.random(n) < 0.15))
    phone = where(has_phone, join(area, "-", local), "")
    # a sister shares the parent's switchboard or its building (at least one of each)
    sister = np.flatnonzero(rel == "sister")
    share_phone = np.zeros(n, dtype=bool)
    share_phone[sister] = rng.random(sister.size) < 0.5
    if sister.size >= 2:
        share_phone[sister[0]], share_phone[sister[1]] = True, False
    if hard is not None:
        # a household's home landline is known; members in the parent's city share more
        heads = (rel == "household") & (t["parent"] < 0)
        phone = where(heads & (phone == ""), join(area, "-", local), phone)
        share_phone |= hx.more_shared_phones(rng, t, hard)
        t["phone_old"] = hx.old_phones(rng, t, ref)
    phone = where(share_phone & (phone[p] != ""), phone[p], phone)
    t["share_phone"] = share_phone
    t["share_building"] = (rel == "sister") & ~share_phone
    if hard is not None:
        t["share_building"] |= hx.more_shared_buildings(rng, t, hard)
    t["phone"] = phone
    t["phone_ext"] = digits(rng, n, 3, first_min=1)
    # foreign phones
    fphone = np.full(n, "", dtype=object)
    for code, spec in ref.foreign.items():
        rows = np.flatnonzero(foreign & (t["country"] == code))
        cities = spec["cities"]
        for ci, city in enumerate(cities):
            sel = rows[t["fcity"][rows] % len(cities) == ci]
            if sel.size:
                loc = fill_pattern(rng, city["local"], sel.size)
                fphone[sel] = [spec["phone"].format(area=city["area"], local=x) for x in loc]
    t["phone"] = where(foreign, fphone, t["phone"])
    # test records: the classic dummy numbers
    t["mobile"] = where(test, _cycle(["11111111111", "13800000000", "", "12345678901"], test), t["mobile"])
    t["phone"] = where(test, "", t["phone"])
    _draw_emails(rng, t, ref)


def _draw_emails(rng: np.random.Generator, t: Table, ref: Reference) -> None:
    n = t["kind"].size
    kind, rel, par = t["kind"], t["relation"], t["root"]
    p = np.maximum(par, 0)
    w = ref.words
    company, individual, foreign, test = (kind == k for k in ("company", "individual", "foreign", "test"))
    ind_py = np.array(["".join(lazy_pinyin(i[0])) for i in w["industries"]], dtype=object)
    free = choose(rng, w["free_mail"], n, p=[0.35, 0.2, 0.1, 0.1, 0.08, 0.05, 0.07, 0.05])
    qq = rng.integers(100_000, 3_000_000_000, size=n).astype(str).astype(object)
    py = t["person_py"]
    num = rng.integers(1, 1000, size=n).astype(str).astype(object)
    personal_local = where(rng.random(n) < 0.5, join(py, num), py)
    personal = where(free == "qq.com", join(qq, "@qq.com"), join(personal_local, "@", free))
    # a company domain: brand pinyin + industry pinyin; group members share the head's domain
    tld = choose(rng, [".com", ".com.cn", ".cn"], n, p=[0.6, 0.3, 0.1])
    domain = join(np.char.lower(t["brand_en"].astype(str)).astype(object), ind_py[t["industry_idx"]], tld)
    domain = where(
        rel == "parent", join(np.char.lower(t["brand_en"].astype(str)).astype(object), "group", tld), domain
    )
    member = (t["group"] >= 0) & (rel != "parent")
    domain = where(member, domain[p], domain)
    local = where(rng.random(n) < 0.5, choose(rng, w["company_mail_locals"], n), py)
    corporate = join(local, "@", domain)
    use_corp = company & ((rng.random(n) < 0.55) | member | (rel == "parent"))
    email = where(use_corp, corporate, personal)
    # foreign companies: info@stem-industry.tld
    for code, spec in ref.foreign.items():
        rows = np.flatnonzero(foreign & (t["country"] == code))
        if rows.size:
            base = np.char.lower(
                np.char.replace(np.char.replace(t["short_name"][rows].astype(str), " & ", ""), " ", "")
            )
            email[rows] = join(
                choose(rng, ["info", "sales", "contact", "office"], rows.size),
                "@",
                base.astype(object),
                "." + spec["mail_tld"],
            )
    email = where(test, join("test", np.arange(n).astype(str).astype(object), "@test.com"), email)
    has = ~((individual | company) & (rng.random(n) < 0.1))
    email = where(has, email, "")
    # distinct entities never share an e-mail: number the repeats
    for _ in range(20):
        dup = _duplicated(email) & (email != "")
        if not dup.any():
            break
        at = np.char.find(email[dup].astype(str), "@")
        extra = rng.integers(2, 100, size=int(dup.sum())).astype(str)
        email[dup] = [e[:i] + x + e[i:] for e, i, x in zip(email[dup], at, extra, strict=True)]
    t["email"] = email


# --------------------------------------------------------------------------------------------
# addresses


def _street_parts(rng: np.random.Generator, ref: Reference, n: int) -> dict[str, np.ndarray]:
    w = ref.words
    road = join(choose(rng, w["road_stems"], n), choose(rng, w["road_suffixes"], n))
    num = (rng.pareto(1.2, size=n) * 20 + 1).astype(int).clip(1, 1999).astype(str).astype(object)
    bname = join(choose(rng, w["road_stems"], n), choose(rng, w["building_words"], n))
    floor = rng.integers(1, 31, size=n)
    room = floor * 100 + rng.integers(1, 21, size=n)
    res = join(choose(rng, w["road_stems"], n), choose(rng, w["residential_words"], n))
    bldg = rng.integers(1, 41, size=n).astype(str).astype(object)
    unit = rng.integers(1, 7, size=n).astype(str).astype(object)
    return {
        "road": road,
        "num": num,
        "office": join(bname, floor.astype(str).astype(object), "楼", room.astype(str).astype(object), "室"),
        "office_floor": join(bname, (floor % 30 + 1).astype(str).astype(object), "楼"),
        "home": join(res, bldg, "栋", unit, "单元", room.astype(str).astype(object), "室"),
    }


def _draw_addresses(rng: np.random.Generator, t: Table, ref: Reference, hard: HardRates | None = None) -> None:
    n = t["kind"].size
    c = ref.cities
    kind, par = t["kind"], t["root"]
    p = np.maximum(par, 0)
    city = t["city_idx"]
    company, individual, foreign = (kind == k for k in ("company", "individual", "foreign"))
    no_district = ~company  # companies got a district with their USCC
    dist = c.district_start[city] + (rng.random(n) * c.district_count[city]).astype(int)
    t["district_idx"] = np.where(no_district, dist, t["district_idx"])
    with_office = company & (rng.random(n) < 0.6)

    def build(
        dist_idx: np.ndarray, parts: dict[str, np.ndarray], rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full address and street line of `rows` (district `dist_idx` of each)."""
        extra = where(
            with_office[rows], parts["office"][rows], where(individual[rows], parts["home"][rows], "")
        )
        street = join(c.district[dist_idx], parts["road"][rows], parts["num"][rows], "号", extra)
        cty = city[rows]
        head = where(c.is_municipality[cty], c.city[cty], join(c.province[cty], c.city[cty]))
        return join(head, street), street

    parts = _street_parts(rng, ref, n)
    # a sister in the parent's building: same road and number, another floor
    share = t["share_building"]
    for key in ("road", "num"):
        parts[key] = where(share, parts[key][p], parts[key])
    parts["office"] = where(share, parts["office_floor"][p], parts["office"])
    with_office = with_office | share
    t["district_idx"] = np.where(share, t["district_idx"][p], t["district_idx"])
    # a household lives at its head's home (hard variant)
    home = (t["relation"] == "household") & (t["parent"] >= 0)
    if home.any():
        for key in ("road", "num", "home"):
            parts[key] = where(home, parts[key][p], parts[key])
        t["district_idx"] = np.where(home, t["district_idx"][p], t["district_idx"])
    address, street = build(t["district_idx"], parts, np.arange(n))
    for _ in range(20):  # distinct entities never share an address: another house number, redo only those
        dup = np.flatnonzero(_duplicated(address) & ~share & ~foreign & ~home)
        if not dup.size:
            break
        parts["num"][dup] = rng.integers(1, 2000, size=dup.size).astype(str).astype(object)
        address[dup], street[dup] = build(t["district_idx"][dup], parts, dup)
    # the two street lines of a member system: district, road and number; then building and room
    t["line1"] = join(c.district[t["district_idx"]], parts["road"], parts["num"], "号")
    t["line2"] = where(individual, parts["home"], where(with_office, parts["office"], ""))
    t["address"], t["street"] = address, street
    if hard is not None:
        hx.separate_floors(t, share)
        address, street = t["address"], t["street"]
    old = _street_parts(rng, ref, n)
    old_dist = c.district_start[city] + (rng.random(n) * c.district_count[city]).astype(int)
    old_address, old_street = build(old_dist, old, np.arange(n))
    postcode = join(np.array([x[:4] for x in c.postcode], dtype=object)[city], digits(rng, n, 2))
    t["province"], t["city"], t["district"] = c.province[city], c.city[city], c.district[t["district_idx"]]
    t["address"], t["street"], t["postcode"] = address, street, postcode
    t["address_old"], t["street_old"] = old_address, old_street
    t["province_en"], t["city_en"] = c.province_en[city], c.city_en[city]
    t["legacy_region"] = c.legacy_region[city]
    # foreign addresses in their country's format
    for code, spec in ref.foreign.items():
        rows = np.flatnonzero(foreign & (t["country"] == code))
        cities = spec["cities"]
        for ci, fc in enumerate(cities):
            sel = rows[t["fcity"][rows] % len(cities) == ci]
            if not sel.size:
                continue
            streets = choose(rng, spec["streets"], sel.size)
            nums = fill_pattern(rng, spec["num"], sel.size)
            for target, st, nm in (
                (t["address"], streets, nums),
                (t["address_old"], streets[::-1], nums[::-1]),
            ):
                target[sel] = [
                    spec["address"].format(
                        street=s, num=m, postcode=fc["postcode"], city=fc["city"], state=fc["state"]
                    )
                    for s, m in zip(st, nm, strict=True)
                ]
            # the street line is the address up to its first comma ("Hauptstrasse 12", "12 King Street")
            t["street"][sel] = [x.split(",")[0] for x in t["address"][sel]]
            t["street_old"][sel] = [x.split(",")[0] for x in t["address_old"][sel]]
            t["postcode"][sel] = fc["postcode"]
            t["city"][sel] = fc["city"]
            t["city_en"][sel] = fc["city"]
            t["province"][sel] = fc["state"]
            t["province_en"][sel] = fc["state"]
            t["district"][sel] = ""
            t["legacy_region"][sel] = f"99{list(ref.foreign).index(code) + 1:02d}"
    # test records differ from each other too (they are distinct records, if junk)
    junk = _cycle(["测试地址", "test", "无", "测试用地址请勿发货", "上海市测试路1号"], kind == "test")
    t["address"] = where(kind == "test", junk, t["address"])
    t["street"] = where(kind == "test", junk, t["street"])


# --------------------------------------------------------------------------------------------
# status, flags, presence, dates


def _draw_status(rng: np.random.Generator, t: Table, rates: DemoRates) -> None:
    n = t["kind"].size
    kind, rel = t["kind"], t["relation"]
    u = rng.random(n)
    org = (kind == "company") | (kind == "foreign")
    status = np.full(n, "active", dtype=object)
    status = where(org & (u < rates.deregistered), "deregistered", status)
    status = where(
        org & (u >= rates.deregistered) & (u < rates.deregistered + rates.revoked), "revoked", status
    )
    lo = rates.deregistered + rates.revoked
    status = where((kind != "test") & (u >= lo) & (u < lo + rates.dormant), "dormant", status)
    status = where((rel == "parent") | (t["origin"] == "new") | (kind == "test"), "active", status)
    t["status"] = status
    risky = (status == "revoked") | (status == "dormant")
    legacy = (t["origin"] == "legacy") & (kind != "test")
    black = pick(rng, legacy, rates.blacklist) | (legacy & risky & (rng.random(n) < rates.blacklist * 3))
    vip_rate = np.where(rel == "parent", min(1.0, rates.vip * 4), rates.vip)
    can_vip = (status == "active") & ~black & (kind != "test")
    vip = can_vip & (rng.random(n) < vip_rate)
    if not vip.any() and rates.vip > 0:
        vip = pick_n(rng, can_vip, 1)
    t["blacklist"], t["vip"] = black, vip
    rating = choose(rng, ["2", "3", "4"], n, p=[0.3, 0.5, 0.2])
    t["credit_rating"] = where(vip, "1", where(black, "5", rating))


def _draw_presence(
    rng: np.random.Generator, t: Table, rates: DemoRates, hard: HardRates | None = None
) -> None:
    n = t["kind"].size
    kind = t["kind"]
    legacy = t["origin"] == "legacy"
    u = rng.random((3, n))
    share_crm = np.select(
        [kind == "company", kind == "individual", kind == "foreign"],
        [rates.crm_share_company, rates.crm_share_individual, rates.crm_share_foreign],
        0.0,
    )
    share_ledger = np.select(
        [kind == "company", kind == "individual", kind == "foreign"],
        [rates.ledger_share_company, rates.ledger_share_individual, rates.ledger_share_foreign],
        0.0,
    )
    in_erp = legacy & ((u[0] < rates.erp_share) | (kind == "test"))
    in_crm = legacy & (u[1] < share_crm)
    in_crm |= pick_n(rng, legacy & (kind == "test"), 1)
    in_ledger = legacy & (u[2] < share_ledger)
    in_members = np.zeros(n, dtype=bool)
    if hard is not None:  # the member system: most individuals, every household member
        person = legacy & (kind == "individual")
        in_members = person & ((rng.random(n) < hard.members_share) | (t["relation"] == "household"))
        t["dup_members"] = pick(rng, in_members, hard.members_duplicate)
    t["in_members"] = in_members
    in_erp |= legacy & ~in_crm & ~in_ledger & ~in_members
    # every kind of cross-source case exists: a company only in the CRM and the ledger, too
    t["in_erp"], t["in_crm"], t["in_ledger"] = in_erp, in_crm, in_ledger
    ok = kind != "test"
    t["dup_erp"] = pick(rng, in_erp & ok, rates.erp_duplicate)
    t["dup_crm"] = pick(rng, in_crm & ok, rates.crm_duplicate)
    t["dup_ledger"] = pick(rng, in_ledger & ok, rates.ledger_duplicate)
    # dormant means old transactions only, so a dormant customer is one the ERP knows
    t["status"] = where((t["status"] == "dormant") & ~in_erp, "active", t["status"])


def _draw_dates(rng: np.random.Generator, t: Table, as_of: dt.date) -> None:
    n = t["kind"].size
    as_of64 = np.datetime64(as_of, "D")
    t["created"] = as_of64 - rng.integers(30, 365 * 14, size=n).astype("timedelta64[D]")
