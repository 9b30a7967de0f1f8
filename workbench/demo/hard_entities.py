"""The entities of the demo's hard variant: look-alike customers that are not the same customer.

This module owns what ``generate_demo(hard=True)`` adds to the true customers (:mod:`.entities`
calls it only then, so the default demo draws exactly what it always drew):

- groups whose head is a company of its subsidiaries' own trade (康成科技股份有限公司 and
  康成科技(上海)有限公司 differ only by the region), branches and subsidiaries in the parent's city
  that share its switchboard or its building, and branches of a branch (…上海分公司浦东营业部);
- households: individuals living with another customer at one home, often with one surname, one
  landline and, in the member system, one ID number;
- people's birth dates, gender and Chinese resident ID numbers (GB 11643: area code valid in the
  birth year, birth date, sequence with the sex digit, ISO 7064 MOD 11-2 check character).

Every function draws from the generator's ``numpy.random.Generator`` and works on whole arrays.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
from pypinyin import lazy_pinyin

from workbench.demo.rand import digits, join, where
from workbench.demo.rates import HardRates
from workbench.demo.reference import Reference, load_hard_words

Table = dict[str, np.ndarray]

NESTED_MARK = "\x01"  # stands for the sub-branch's district and office word until districts are drawn
RIC_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)])
YEARS = (1930, 2012)  # birth years an area code's validity is looked up for


# --------------------------------------------------------------------------------------------
# population


def household_sizes(rng: np.random.Generator, individuals: int, share: float) -> np.ndarray:
    """Sizes (2–4) of the households that hold about `share` of the `individuals`."""
    target = int(round(individuals * share))
    sizes = rng.choice([2, 3, 4], size=max(target // 2, 1), p=[0.55, 0.3, 0.15])
    keep = np.cumsum(sizes) <= target
    return sizes[keep] if keep.any() or target < 2 else sizes[:0]


def place_households(
    relation: np.ndarray, parent: np.ndarray, household: np.ndarray, start: int, sizes: np.ndarray
) -> None:
    """Mark the first individuals (from `start`) as households of `sizes`: head first, then members."""
    if not sizes.size:
        return
    rows = np.arange(start, start + int(sizes.sum()))
    heads = start + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    head_of = np.repeat(heads, sizes)
    relation[rows] = "household"
    household[rows] = np.repeat(np.arange(sizes.size), sizes)
    parent[rows] = np.where(rows == head_of, -1, head_of)


def nest_branches(
    rng: np.random.Generator, relation: np.ndarray, parent: np.ndarray, group: np.ndarray, rate: float
) -> np.ndarray:
    """In groups with two branches or more, the second branch becomes a branch of the first.

    Returns:
        The mask of the nested branches (their `parent` now points to the first branch).
    """
    branches = np.flatnonzero(relation == "branch")
    nested = np.zeros(relation.size, dtype=bool)
    if not branches.size:
        return nested
    rank = pd.Series(group[branches]).groupby(group[branches]).cumcount().to_numpy()
    first = pd.Series(branches).groupby(group[branches]).transform("first").to_numpy()
    second = branches[(rank == 1) & (rng.random(branches.size) < rate)]
    nested[second] = True
    parent[second] = first[np.searchsorted(branches, second)]
    return nested


def root_of(parent: np.ndarray) -> np.ndarray:
    """The top of every entity's tree (a nested branch's group head); -1 for entities without a parent."""
    root = parent.copy()
    for _ in range(4):  # trees are at most three levels deep
        up = (root >= 0) & (parent[np.maximum(root, 0)] >= 0)
        if not up.any():
            break
        root = np.where(up, parent[np.maximum(root, 0)], root)
    return root


# --------------------------------------------------------------------------------------------
# places, names, contacts


def local_cities(rng: np.random.Generator, t: Table, city: np.ndarray, hard: HardRates) -> np.ndarray:
    """Cities with the hard cases: members in the parent's city, sub-branches in their branch's city,
    households at their head's."""
    rel, root, par = t["relation"], np.maximum(t["root"], 0), np.maximum(t["parent"], 0)
    member = np.isin(rel, ["branch", "subsidiary"]) & ~t["nested"]
    local = member & (rng.random(city.size) < hard.local_member)
    city = np.where(local, city[root], city)
    city = np.where(t["nested"], city[par], city)
    return np.where((rel == "household") & (t["root"] >= 0), city[root], city)


def trade_heads(rng: np.random.Generator, head: np.ndarray, rate: float) -> np.ndarray:
    """Group heads that are companies of their subsidiaries' trade, not a 集团."""
    return head & (rng.random(head.size) < rate)


def split_person_names(
    rng: np.random.Generator,
    t: Table,
    ref: Reference,
    parts: tuple[np.ndarray, ...],
    hard: HardRates,
) -> tuple[np.ndarray, np.ndarray]:
    """Store surname / given name of every individual; household members often take the head's surname.

    Args:
        parts: full name, pinyin, surname, given name, surname pinyin, given-name pinyin (per entity).

    Returns:
        The full names and their pinyin, with the household members' surnames applied.
    """
    _, _, sur, giv, sur_py, giv_py = (p.copy() for p in parts)
    rel, root = t["relation"], np.maximum(t["root"], 0)
    follower = (rel == "household") & (t["parent"] >= 0)
    same = follower & (rng.random(rel.size) < hard.household_same_surname)
    sur, sur_py = where(same, sur[root], sur), where(same, sur_py[root], sur_py)
    # a member never has the head's whole name: another given name where they would
    clash = follower & (join(sur, giv) == join(sur, giv)[root])
    chars = np.array(ref.given_chars, dtype=object)
    chars_py = np.array([lazy_pinyin(g)[0] for g in ref.given_chars], dtype=object)
    for _ in range(10):
        if not clash.any():
            break
        k = rng.integers(0, chars.size, size=int(clash.sum()))
        giv[clash], giv_py[clash] = chars[k], chars_py[k]
        clash = follower & (join(sur, giv) == join(sur, giv)[root])
    t["surname"], t["given_name"] = sur, giv
    t["surname_py"], t["given_py"] = sur_py, giv_py
    return join(sur, giv), join(sur_py, giv_py)


def more_shared_phones(rng: np.random.Generator, t: Table, hard: HardRates) -> np.ndarray:
    """Group members in the parent's city and household members who give the same switchboard."""
    rel, root = t["relation"], np.maximum(t["root"], 0)
    in_city = _in_parents_city(t)
    u = rng.random(rel.size)
    members = in_city & np.isin(rel, ["branch", "subsidiary"]) & (u < hard.share_phone)
    household = (rel == "household") & (t["parent"] >= 0) & (u < hard.household_same_phone)
    return members | (household & (root >= 0))


def more_shared_buildings(rng: np.random.Generator, t: Table, hard: HardRates) -> np.ndarray:
    """Group members in the parent's city (not sharing its switchboard) that share its building."""
    rel = t["relation"]
    candidates = _in_parents_city(t) & np.isin(rel, ["branch", "subsidiary"]) & ~t["share_phone"]
    return candidates & (rng.random(rel.size) < hard.share_building)


def _in_parents_city(t: Table) -> np.ndarray:
    root = t["root"]
    return (root >= 0) & (t["city_idx"] == t["city_idx"][np.maximum(root, 0)])


def separate_floors(t: Table, share: np.ndarray) -> None:
    """Members that share one building each get a floor of their own (address, street and line 2)."""
    address = t["address"]
    dup = share & pd.Series(address).duplicated().to_numpy()
    for _ in range(10):
        if not dup.any():
            return
        for col in ("address", "street", "line2"):
            t[col][dup] = [re.sub(r"(\d+)楼$", lambda m: f"{int(m.group(1)) + 1}楼", v) for v in t[col][dup]]
        dup = share & pd.Series(address).duplicated().to_numpy()


def old_phones(rng: np.random.Generator, t: Table, ref: Reference) -> np.ndarray:
    """A former switchboard of every entity, in its city (local numbers no current phone uses)."""
    from workbench.demo.rand import unique_ints

    n = t["kind"].size
    local = unique_ints(rng, 90_000_000, 100_000_000, n).astype(str).astype(object)
    return join(ref.cities.area_code[t["city_idx"]], "-", local)


def name_nested_branches(rng: np.random.Generator, t: Table) -> None:
    """Give every sub-branch its office: the district it sits in and 营业部 / 办事处 / 经营部."""
    nested = np.flatnonzero(t["nested"])
    if not nested.size:
        return
    offices = load_hard_words()["nested_offices"]
    pick = rng.integers(0, len(offices), size=nested.size)
    district = [re.sub(r"(新区|区)$", "", d) or d for d in t["district"][nested]]
    zh = [d + offices[k][0] for d, k in zip(district, pick, strict=True)]
    en = [
        f" {''.join(lazy_pinyin(d)).capitalize()} {offices[k][1]}"
        for d, k in zip(district, pick, strict=True)
    ]
    for col in ("name", "short_name", "n_suffix"):
        t[col][nested] = [v.replace(NESTED_MARK, z) for v, z in zip(t[col][nested], zh, strict=True)]
    t["english_name"][nested] = [
        v.replace(NESTED_MARK, e) for v, e in zip(t["english_name"][nested], en, strict=True)
    ]


# --------------------------------------------------------------------------------------------
# people: birth date, gender, resident ID


@functools.cache
def _area_years(codes: tuple[str, ...]) -> np.ndarray:
    """(len(codes), years) boolean: the area code is valid for a resident ID issued to one born that year."""
    from stdnum import numdb

    db = numdb.get("cn/loc")
    years = np.arange(YEARS[0], YEARS[1] + 1)
    out = np.zeros((len(codes), years.size), dtype=bool)
    for i, code in enumerate(codes):
        info = {k: v for _, props in db.info(code) for k, v in props.items()}
        for county in info.get("county", "").split(","):
            if not county:
                continue
            if not county.startswith("["):
                out[i] = True
                break
            start, end = county[1:].split("]")[0].split("-")
            out[i] |= (years >= int(start or YEARS[0])) & (years <= int(end or YEARS[1]))
    return out


def ric_check_chars(body: np.ndarray) -> np.ndarray:
    """GB 11643 check characters (ISO 7064 MOD 11-2) of an (n, 17) digit array."""
    value = (12 - (body * RIC_WEIGHTS).sum(axis=1) % 11) % 11
    return np.where(value == 10, "X", value.astype(str)).astype(object)


def draw_people(rng: np.random.Generator, t: Table, ref: Reference, as_of: np.datetime64) -> None:
    """Birth date, gender and resident ID of every individual (household members relative to the head)."""
    n = t["kind"].size
    person = t["kind"] == "individual"
    rel, root = t["relation"], np.maximum(t["root"], 0)
    age = rng.integers(20 * 365, 80 * 365, size=n)
    follower = (rel == "household") & (t["parent"] >= 0)
    # a household member is the head's partner (a few years apart) or child (20–35 years younger)
    child = follower & (rng.random(n) < 0.5)
    partner_age = age[root] + rng.integers(-6 * 365, 6 * 365, size=n)
    child_age = age[root] - rng.integers(20 * 365, 36 * 365, size=n)
    age = np.where(follower, np.where(child, child_age, partner_age), age)
    age = np.clip(age, 16 * 365, 95 * 365)
    birth = as_of - age.astype("timedelta64[D]")
    male = rng.random(n) < 0.5
    t["birth_date"] = np.where(person, birth, np.datetime64("NaT"))
    t["gender"] = where(person, where(male, "男", "女"), "")
    t["id_number"] = np.full(n, "", dtype=object)
    rows = np.flatnonzero(person)
    if rows.size:
        t["id_number"][rows] = _resident_ids(rng, t, ref, rows, birth[rows], male[rows])


def _resident_ids(
    rng: np.random.Generator, t: Table, ref: Reference, rows: np.ndarray, birth: np.ndarray, male: np.ndarray
) -> np.ndarray:
    c = ref.cities
    codes = tuple(c.district_adcode)
    valid = _area_years(codes)
    year = np.clip(birth.astype("datetime64[Y]").astype(int) + 1970, YEARS[0], YEARS[1]) - YEARS[0]
    city = t["city_idx"][rows]
    # born in a district of the home city whose code existed that year (else the city's own code)
    area = np.full(rows.size, -1)
    for _ in range(12):
        todo = area < 0
        if not todo.any():
            break
        cand = c.district_start[city[todo]] + (
            rng.random(int(todo.sum())) * c.district_count[city[todo]]
        ).astype(int)
        ok = valid[cand, year[todo]]
        idx = np.flatnonzero(todo)
        area[idx[ok]] = cand[ok]
    # the rest were born elsewhere: a district anywhere whose code existed that year
    for y in np.unique(year[area < 0]):
        idx = np.flatnonzero((area < 0) & (year == y))
        ok = np.flatnonzero(valid[:, y])
        area[idx] = ok[rng.integers(0, ok.size, size=idx.size)] if ok.size else 0
    area_code = np.asarray(codes, dtype=object)[area]
    date = np.char.replace(np.datetime_as_string(birth, unit="D").astype(str), "-", "").astype(object)
    out = np.empty(rows.size, dtype=object)
    todo = np.ones(rows.size, dtype=bool)
    for _ in range(20):  # the sequence (odd for men, even for women) makes the number unique
        k = int(todo.sum())
        seq = rng.integers(0, 500, size=k) * 2 + np.where(male[todo], 1, 0)
        body = join(area_code[todo], date[todo], np.char.zfill(seq.astype(str), 3).astype(object))
        digit_arr = np.array([list(b) for b in body], dtype=int).reshape(k, 17)
        out[todo] = join(body, ric_check_chars(digit_arr))
        todo = pd.Series(out).duplicated(keep="first").to_numpy()
        if not todo.any():
            break
    return out


def mistype_ids(rng: np.random.Generator, ids: np.ndarray) -> np.ndarray:
    """One digit of each ID replaced by another digit (the check character then mostly fails)."""
    pos = rng.integers(0, 17, size=ids.size)
    new = digits(rng, ids.size, 1)
    out = np.empty(ids.size, dtype=object)
    for i, (v, k, d) in enumerate(zip(ids, pos, new, strict=True)):
        d = d if d != v[k] else str((int(d) + 1) % 10)
        out[i] = v[:k] + d + v[k + 1 :]
    return out
