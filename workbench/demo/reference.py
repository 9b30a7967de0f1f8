"""Reference data of the demo generator: cities, districts, words for names, foreign countries.

This module owns reading the small data files in ``workbench/demo/data/`` (cities with their real
area codes and postcodes, word lists for Chinese names and addresses, foreign countries) and the
district table shipped with ``cpca`` (GB/T 2260 codes). Everything is returned as plain numpy
arrays so the generator can index it vectorised.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from workbench.demo.rates import DemoError

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Cities:
    """Chinese cities (one row each) and their districts (flat arrays with offsets per city)."""

    province: np.ndarray
    province_short: np.ndarray
    province_en: np.ndarray
    city: np.ndarray
    city_short: np.ndarray
    city_en: np.ndarray
    area_code: np.ndarray
    postcode: np.ndarray
    weight: np.ndarray  # probabilities, sum 1
    legacy_region: np.ndarray  # the old ERP's 地区编码 (province number + city number)
    district: np.ndarray  # flat: every district of every city
    district_adcode: np.ndarray  # flat: 6-digit GB/T 2260 code of the district
    district_start: np.ndarray  # per city: first index into the flat arrays
    district_count: np.ndarray  # per city: number of districts

    @property
    def is_municipality(self) -> np.ndarray:
        return self.province == self.city


@dataclass(frozen=True)
class Reference:
    """Every piece of reference data the generator uses."""

    cities: Cities
    words: dict[str, Any]
    foreign: dict[str, Any]
    brand_chars: list[str]
    surnames: list[str]
    given_chars: list[str]


@functools.cache
def load_reference() -> Reference:
    """Read the reference files once per process."""
    words = yaml.safe_load((DATA_DIR / "cn_words.yaml").read_text(encoding="utf-8"))
    foreign = yaml.safe_load((DATA_DIR / "foreign.yaml").read_text(encoding="utf-8"))
    return Reference(
        cities=_load_cities(),
        words=words,
        foreign=foreign["countries"],
        brand_chars=_unique_chars(words["brand_chars"]),
        surnames=_unique_chars(words["surnames"]),
        given_chars=_unique_chars(words["given_chars"]),
    )


@functools.cache
def load_hard_words() -> dict[str, Any]:
    """The word lists of the hard variant (``data/hard_words.yaml``)."""
    words: dict[str, Any] = yaml.safe_load((DATA_DIR / "hard_words.yaml").read_text(encoding="utf-8"))
    return words


@functools.cache
def homophones() -> dict[str, tuple[str, ...]]:
    """Character → the other characters of the same toneless pinyin (brand characters and the
    homophone list of ``data/hard_words.yaml``), in order of first appearance."""
    from pypinyin import lazy_pinyin

    pool = _unique_chars(load_reference().words["brand_chars"] + load_hard_words()["homophone_chars"])
    by_sound: dict[str, list[str]] = {}
    for ch in pool:
        by_sound.setdefault(lazy_pinyin(ch)[0], []).append(ch)
    return {ch: tuple(o for o in by_sound[lazy_pinyin(ch)[0]] if o != ch) for ch in pool}


def _unique_chars(text: str) -> list[str]:
    """The distinct characters of `text`, in order of first appearance."""
    return list(dict.fromkeys(text))


def _load_cities() -> Cities:
    with (DATA_DIR / "cities.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    districts = _read_districts()
    names: list[str] = []
    codes: list[str] = []
    start: list[int] = []
    count: list[int] = []
    province_numbers: dict[str, int] = {}
    city_numbers: dict[str, int] = {}
    legacy: list[str] = []
    for row in rows:
        found = sorted(d for d in districts if d[0][:4] == row["city_adcode"])
        if not found:
            raise DemoError(
                f"{DATA_DIR / 'cities.csv'}: no district of {row['city']} ({row['city_adcode']}) in cpca's "
                "GB/T 2260 table; fix its city_adcode"
            )
        start.append(len(names))
        count.append(len(found))
        codes.extend(code for code, _ in found)
        names.extend(name for _, name in found)
        p = province_numbers.setdefault(row["province"], len(province_numbers) + 1)
        c = city_numbers[row["province"]] = city_numbers.get(row["province"], 0) + 1
        legacy.append(f"{p:02d}{c:02d}")
    weight = np.array([float(r["weight"]) for r in rows])

    def col(name: str) -> np.ndarray:
        return np.array([r[name] for r in rows], dtype=object)

    return Cities(
        province=col("province"),
        province_short=col("province_short"),
        province_en=col("province_en"),
        city=col("city"),
        city_short=col("city_short"),
        city_en=col("city_en"),
        area_code=col("area_code"),
        postcode=col("postcode"),
        weight=weight / weight.sum(),
        legacy_region=np.array(legacy, dtype=object),
        district=np.array(names, dtype=object),
        district_adcode=np.array(codes, dtype=object),
        district_start=np.array(start),
        district_count=np.array(count),
    )


def _read_districts() -> list[tuple[str, str]]:
    """(6-digit code, name) of every urban district (…区) in cpca's GB/T 2260 table."""
    text = resources.files("cpca").joinpath("resources/adcodes.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        code, name = row["adcode"], row["name"]
        if code[6:].strip("0") or code[4:6] == "00" or name == "市辖区" or not name.endswith("区"):
            continue
        out.append((code[:6], name))
    return out
