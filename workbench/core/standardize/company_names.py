"""Company names: display name, name core for matching, and the parts split off.

Steps for one name: mojibake repair, NFKC (full-width → half-width), traditional → simplified
(OpenCC), bracket styles folded to ``()``; then the parts are split off, each into its own column:

- region words in brackets anywhere (``ABC科技(上海)有限公司``) or leading (``上海ABC科技有限公司``),
- the branch marker with its place, in a canonical form that every script shares
  (``…有限公司北京分公司`` and ``… Co., Ltd. Beijing Branch`` → ``北京市分公司``; a nested branch
  ``…有限公司上海分公司浦东营业部`` → ``上海市分公司/浦东营业部``; a branch in brackets
  ``…有限公司(上海分公司)`` counts too),
- the legal form at the end (``有限责任公司`` → ``有限公司``; ``Co., Ltd.`` / ``Co. Ltd`` → ``Co. Ltd.``;
  ``GmbH``, ``Inc.`` …; several in a row such as ``集团`` + ``有限公司``).

A leading region word is split off only when a trade name (字号) remains after it (``Yuncheng
Chemical``: ``Yuncheng`` is the trade name, not the city 运城), and a second leading region only
when it lies inside the first (``广东省广州市…``).

What remains is the *name core*: lower-case, without spaces and punctuation for Chinese names (so
``上海ＡＢＣ科技有限公司`` and ``ABC科技(上海)有限公司`` both give ``abc科技``). The tables of legal
forms, region words and branch markers are the reviewable CSV files in ``data/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.core.standardize.base import (
    BRACKETS,
    CJK_RE,
    LATIN_RE,
    CleanText,
    KeywordFinder,
    Reference,
    clean_text,
    is_blank,
    join_rules,
    latin_tokens,
    rejected,
    resolve_reference,
    result_from_records,
    script_of,
)
from workbench.core.standardize.person_names import compile_test_patterns, match_test_pattern, pinyin_of
from workbench.project.settings.standardize import StandardizeSettings

EXTRAS = ("display", "core", "legal_form", "branch", "region", "pinyin", "script")
INTERNAL = ("__entity", "__test", "__industry")

_PUNCT_RE = re.compile(r"[\s\-_.,;:!?'\"“”‘’`~@#$%^&*+=|\\/<>()（）\[\]{}、，。；：！？·]+")
_LATIN_PUNCT_RE = re.compile(r"[^0-9a-z\u00c0-\u024f\u3400-\u9fff]+")


@dataclass
class CompanyParser:
    """The reference tables a company name is parsed with, as lookup structures.

    Every look-up is a dict or set probe on the name's ends or tokens (no regex alternation over a
    table), so a name costs a few microseconds however long the tables grow.
    """

    legal_cjk: dict[str, str]  # variant → canonical
    legal_cjk_lengths: list[int]
    legal_latin: dict[str, str]  # lower-case tokens joined by " " → canonical
    legal_latin_max: int
    branch_markers: list[str]
    branch_tuple: tuple[str, ...]  # lower-case, for one str.endswith call
    branch_canonical: dict[str, str]  # lower-case marker → canonical marker
    regions: dict[str, str]  # lower-case word → canonical
    regions_cjk: dict[str, str]  # the Chinese words only
    region_cjk_lengths: list[int]
    region_latin_max: int
    region_adcode: dict[str, str]  # canonical region → its administrative code
    province_regions: frozenset[str]  # canonical regions of province level
    company_words: KeywordFinder
    industries: KeywordFinder
    industry_of: dict[str, str]
    tests: list[tuple[re.Pattern[str], str]]
    min_core_after_region: int
    generic_cjk: tuple[str, ...] = ()  # industry and company words, longest first
    generic_latin: frozenset[str] = frozenset()  # their Latin tokens, lower-case


def build_company_parser(reference: Reference, settings: StandardizeSettings) -> CompanyParser:
    """Build the look-up structures from the legal-form, region, branch, company-word and industry tables."""
    legal = reference.table("legal_forms")
    legal_cjk: dict[str, str] = {}
    legal_latin: dict[str, str] = {}
    for variant, canonical, script in zip(legal["variant"], legal["canonical"], legal["script"], strict=True):
        if script == "latin":
            legal_latin.setdefault(_token_key(variant), canonical)
        else:
            legal_cjk.setdefault(variant, canonical)
    regions = reference.table("region_words")
    region_map: dict[str, str] = {}
    for word, canonical in zip(regions["word"], regions["canonical"], strict=True):
        region_map.setdefault(word.lower(), canonical)
    cjk_region_lengths = sorted({len(w) for w in region_map if script_of(w) != "latin"}, reverse=True)
    latin_region_max = max((w.count(" ") + 1 for w in region_map if script_of(w) == "latin"), default=0)
    branch_table = reference.table("branch_markers")
    markers = sorted(branch_table["marker"].tolist(), key=len, reverse=True)
    canon = branch_table["canonical"] if "canonical" in branch_table.columns else branch_table["marker"]
    branch_canonical: dict[str, str] = {}
    for marker, canonical in zip(branch_table["marker"], canon, strict=True):
        branch_canonical.setdefault(marker.lower(), canonical or marker)
    adcodes: dict[str, str] = {}
    provinces: set[str] = set()
    for canonical, level, adcode in zip(
        regions["canonical"], regions["level"], regions["adcode"], strict=True
    ):
        adcodes.setdefault(canonical, adcode)
        if level == "province":
            provinces.add(canonical)
    industry = reference.table("industry_keywords")
    generic = [*industry["keyword"], *reference.table("company_words")["word"]]
    return CompanyParser(
        legal_cjk=legal_cjk,
        legal_cjk_lengths=sorted({len(v) for v in legal_cjk}, reverse=True),
        legal_latin=legal_latin,
        legal_latin_max=max((k.count(" ") + 1 for k in legal_latin), default=0),
        branch_markers=markers,
        branch_tuple=tuple(m.lower() for m in markers),
        branch_canonical=branch_canonical,
        regions=region_map,
        regions_cjk={w: c for w, c in region_map.items() if script_of(w) != "latin"},
        region_cjk_lengths=cjk_region_lengths,
        region_latin_max=latin_region_max,
        region_adcode=adcodes,
        province_regions=frozenset(provinces),
        company_words=KeywordFinder(reference.table("company_words")["word"]),
        industries=KeywordFinder(industry["keyword"]),
        industry_of={k.lower(): v for k, v in zip(industry["keyword"], industry["industry"], strict=True)},
        tests=compile_test_patterns(reference, "name"),
        min_core_after_region=settings.min_core_after_region,
        generic_cjk=tuple(sorted({w for w in generic if script_of(w) != "latin"}, key=len, reverse=True)),
        generic_latin=frozenset(
            m.group(0).lower() for w in generic if script_of(w) == "latin" for m in latin_tokens(w)
        ),
    )


def _token_key(text: str) -> str:
    return " ".join(m.group(0).lower() for m in latin_tokens(text))


def standardize_company_names(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference: Reference | None = None,
) -> pd.DataFrame:
    """Standardize company names.

    Args:
        values: distinct raw company names.
        settings: the `standardize:` settings.
        reference: the reference tables (legal forms, region words, branch markers, …).

    Returns:
        The result frame with the extras ``display``, ``core``, ``legal_form``, ``branch``,
        ``region``, ``pinyin`` (of the core) and ``script``, and the internal ``__entity``,
        ``__test`` and ``__industry`` (industry by name keyword, for the fill rules).
    """
    settings, reference = resolve_reference(settings, reference)
    parser = build_company_parser(reference, settings)
    records = [standardize_company_name(v, parser, settings) for v in values.tolist()]
    return result_from_records(records, values, (*EXTRAS, *INTERNAL))


def standardize_company_name(
    raw: Any, parser: CompanyParser, settings: StandardizeSettings
) -> dict[str, Any]:
    """Standardize one company name (see :func:`standardize_company_names`)."""
    if is_blank(raw):
        return {}
    cleaned = clean_text(str(raw), settings=settings)
    if cleaned.text is None:
        return rejected("mojibake")
    text, rules = fold_company_text(cleaned)
    return company_result(text, rules, cleaned.mojibake, parse_company_name(text, parser), parser)


def fold_company_text(cleaned: CleanText) -> tuple[str, list[str]]:
    """The cleaned name with bracket styles folded, and the rules applied so far."""
    rules = list(cleaned.rules)
    text = _fold_brackets(cleaned.text or "")
    if text != cleaned.text:
        rules.append("brackets")
    return text, rules


def company_result(
    text: str, rules: list[str], mojibake: bool, parts: dict[str, Any], parser: CompanyParser
) -> dict[str, Any]:
    """The result row of a company name from its parsed parts."""
    test = match_test_pattern(text, parser.tests)
    if not parts["core"]:
        return rejected("no_name_core", __test=test)
    return {
        "value": text,
        "valid": True,
        "issue": "mojibake_repaired" if mojibake else None,
        "rule": join_rules(*rules),
        "display": _display(text, parts["script"]),
        "core": parts["core"],
        "legal_form": parts["legal_form"],
        "branch": parts["branch"],
        "region": parts["region"],
        "pinyin": pinyin_of(parts["core"]),
        "script": parts["script"],
        "__entity": "company" if parts["has_company_word"] else None,
        "__test": test,
        "__industry": _industry(text, parser),
    }


def _fold_brackets(text: str) -> str:
    text = text.translate(BRACKETS)
    if "(" not in text and ")" not in text:
        return text
    # no spaces inside brackets, none around them in Chinese text
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+\)", ")", text)
    text = re.sub(r"(?<=[\u3400-\u9fff])\s*\(", "(", text)
    text = re.sub(r"\)\s*(?=[\u3400-\u9fff])", ")", text)
    return text


def _display(text: str, script: str | None) -> str:
    if script in ("cjk", "mixed"):
        # Chinese company names are written with full-width brackets
        return text.replace("(", "（").replace(")", "）")
    return text


def parse_company_name(text: str, parser: CompanyParser) -> dict[str, Any]:
    """Split a cleaned company name into core, legal form, branch and region.

    Returns:
        A dict with ``core``, ``legal_form`` (canonical, parts joined by a space), ``legal_form_text``
        (as written), ``branch`` (canonical, see the module docstring), ``region`` (canonical),
        ``script`` and ``has_company_word``.
    """
    regions: list[str] = []
    rest = _take_bracket_regions(_unwrap_branch_brackets(text, parser), parser, regions)
    rest, branch = _split_branch(rest, parser)
    forms_text: list[str] = []
    forms: list[str] = []
    for _ in range(3):
        found = _strip_legal(rest, parser)
        if found is None:
            break
        rest, written, canonical = found
        forms_text.insert(0, written)
        forms.insert(0, canonical)
    rest = _take_bracket_regions(rest, parser, regions)
    rest = _take_leading_regions(rest, parser, regions)
    script = script_of(rest) or script_of(text)
    core = _core(rest, script)
    return {
        "core": core or None,
        "legal_form": " ".join(forms) or None,
        "legal_form_text": " ".join(forms_text) or None,
        "branch": branch,
        "region": regions[0] if regions else None,
        "script": script,
        "has_company_word": bool(
            forms or branch or parser.company_words.find(text) or parser.industries.find(text)
        ),
    }


def _marker_spans(text: str, parser: CompanyParser) -> list[tuple[int, int, str]]:
    """Every branch marker in `text`, left to right: (start, end, canonical marker).

    Chinese markers match anywhere, Latin markers as whole words (case-insensitive); at one
    position the longest marker wins.
    """
    low = text.lower()
    spans: list[tuple[int, int, str]] = []
    pos = 0
    while pos < len(low):
        hit = None
        for marker in parser.branch_tuple:  # longest first
            if low.startswith(marker, pos) and (
                not marker[:1].isascii() or (_word_edge(low, pos - 1) and _word_edge(low, pos + len(marker)))
            ):
                hit = marker
                break
        if hit is None:
            pos += 1
            continue
        spans.append((pos, pos + len(hit), parser.branch_canonical.get(hit, hit)))
        pos += len(hit)
    return spans


def _word_edge(text: str, i: int) -> bool:
    return i < 0 or i >= len(text) or not text[i].isalnum()


def _unwrap_branch_brackets(text: str, parser: CompanyParser) -> str:
    """``…有限公司(上海分公司)`` → ``…有限公司上海分公司``: a trailing bracket that holds the branch."""
    if not text.endswith(")") or "(" not in text:
        return text
    start = text.rindex("(")
    inner = text[start + 1 : -1].strip()
    if inner and inner.lower().endswith(parser.branch_tuple):
        sep = " " if LATIN_RE.search(text[start - 1 : start]) else ""
        return text[:start].rstrip() + sep + inner
    return text


def _split_branch(rest: str, parser: CompanyParser) -> tuple[str, str | None]:
    """(the name without its branch part, the canonical branch) when the name ends in a branch marker.

    The branch part starts after the parent's legal form (``…有限公司|上海分公司浦东营业部``) or, without
    one, at the place before the first marker (``华瑞科技|上海分公司``).
    """
    if not rest.lower().endswith(parser.branch_tuple):
        return rest, None
    spans = _marker_spans(rest, parser)
    if not spans:
        return rest, None
    first = spans[0][0]
    head = rest[:first]
    cut = _last_legal_end(head, parser)
    if cut is None:
        cut = first - len(_trailing_region(head, parser))
    if cut <= 0:
        return rest, None
    return rest[:cut].strip(" ,"), _canonical_branch(rest[cut:].strip(" ,"), parser)


def _canonical_branch(branch: str, parser: CompanyParser) -> str | None:
    """``上海分公司`` / ``Shanghai Branch`` → ``上海市分公司``; nested parts joined by ``/``."""
    parts = []
    pos = 0
    for start, end, canonical in _marker_spans(branch, parser):
        place = branch[pos:start].strip(" ,()")
        parts.append(_canonical_place(place, parser) + canonical)
        pos = end
    return "/".join(parts) or None


def _canonical_place(place: str, parser: CompanyParser) -> str:
    if not place:
        return ""
    key = " ".join(place.lower().split())
    return parser.regions.get(key) or _LATIN_PUNCT_RE.sub("", key)


def _take_leading_regions(rest: str, parser: CompanyParser, regions: list[str]) -> str:
    """Split off up to two leading region words (``广东省广州市…``), see the module docstring."""
    first: str | None = None
    for _ in range(2):
        lead = _leading_region(rest, parser)
        if lead is None:
            break
        length, canonical = lead
        remaining = rest[length:].strip(" ,")
        if len(_PUNCT_RE.sub("", remaining)) < parser.min_core_after_region:
            break
        if not _has_trade_name(remaining, parser):
            break
        if first is None:
            regions.append(canonical)
        elif _inside(canonical, first, parser):
            regions[-1] = canonical  # the more specific place (广州市 in 广东省广州市…)
        else:
            break
        first = canonical
        rest = remaining
    return rest


def _inside(region: str, outer: str, parser: CompanyParser) -> bool:
    """True when `region` is a place inside the province `outer` (by administrative code)."""
    code, outer_code = parser.region_adcode.get(region, ""), parser.region_adcode.get(outer, "")
    return (
        outer in parser.province_regions
        and len(code) == 6
        and len(outer_code) == 6
        and code != outer_code
        and code[:2] == outer_code[:2]
    )


def _has_trade_name(text: str, parser: CompanyParser) -> bool:
    """True when `text` holds more than industry and company words (a 字号 / trade name)."""
    if CJK_RE.search(text):
        compact = _PUNCT_RE.sub("", text)
        for word in parser.generic_cjk:
            if word in compact:
                compact = compact.replace(word, "")
        return len(compact) >= 2
    tokens = [m.group(0).lower() for m in latin_tokens(text)]
    return any(t not in parser.generic_latin for t in tokens)


_GAP_RE = re.compile(r"[\s.,]*")
_BRACKET_RE = re.compile(r"\s*\(\s*([^()]{1,24}?)\s*\)\s*")


def _take_bracket_regions(text: str, parser: CompanyParser, regions: list[str]) -> str:
    if "(" not in text:
        return text

    def take(match: re.Match[str]) -> str:
        canonical = parser.regions.get(match.group(1).lower())
        if canonical is None:
            return match.group(0)
        regions.append(canonical)
        return " "

    return " ".join(_BRACKET_RE.sub(take, text).split())


def _strip_legal(rest: str, parser: CompanyParser) -> tuple[str, str, str] | None:
    """(rest without the legal form at its end, the form as written, its canonical form) or None."""
    trimmed = rest.rstrip(" .,")
    for n in parser.legal_cjk_lengths:
        tail = trimmed[-n:]
        if len(trimmed) >= n and tail in parser.legal_cjk:
            return trimmed[:-n].rstrip(" ,"), tail, parser.legal_cjk[tail]
    if not parser.legal_latin or not LATIN_RE.search(trimmed[-30:]):
        return None
    tokens = latin_tokens(trimmed)
    for n in range(min(parser.legal_latin_max, len(tokens)), 0, -1):
        group = tokens[-n:]
        key = " ".join(m.group(0).lower() for m in group)
        canonical = parser.legal_latin.get(key)
        if canonical is None:
            continue
        gaps = [trimmed[a.end() : b.start()] for a, b in zip(group, group[1:], strict=False)]
        if all(_GAP_RE.fullmatch(g) for g in gaps) and _GAP_RE.fullmatch(trimmed[group[-1].end() :]):
            start = group[0].start()
            return trimmed[:start].rstrip(" ,"), trimmed[start:], canonical
    return None


def _last_legal_end(text: str, parser: CompanyParser) -> int | None:
    """End of the last legal form inside `text` (a branch's parent name ends there), if any."""
    best: int | None = None
    for variant in parser.legal_cjk:
        pos = text.rfind(variant)
        if pos > 0 and (best is None or pos + len(variant) > best):
            best = pos + len(variant)
    if best is None and LATIN_RE.search(text):
        tokens = latin_tokens(text)
        for i in range(len(tokens)):
            for n in range(min(parser.legal_latin_max, len(tokens) - i), 0, -1):
                group = tokens[i : i + n]
                if i > 0 and " ".join(m.group(0).lower() for m in group) in parser.legal_latin:
                    end = group[-1].end()
                    while end < len(text) and text[end] == ".":
                        end += 1
                    best = end
                    break
    return best


def _leading_region(text: str, parser: CompanyParser) -> tuple[int, str] | None:
    """(length, canonical) of a region word at the start of `text`, longest first."""
    if CJK_RE.match(text):
        for n in parser.region_cjk_lengths:
            head = text[:n]
            if len(text) > n and head in parser.regions_cjk:
                return n, parser.regions_cjk[head]
        return None
    if parser.region_latin_max and text[:1].isascii() and text[:1].isalpha():
        tokens = latin_tokens(text[:60])
        for n in range(min(parser.region_latin_max, len(tokens)), 0, -1):
            group = tokens[:n]
            if group[0].start() != 0:
                break
            canonical = parser.regions.get(" ".join(m.group(0).lower() for m in group))
            if canonical and all(
                text[a.end() : b.start()].isspace() for a, b in zip(group, group[1:], strict=False)
            ):
                return group[-1].end(), canonical
    return None


def _trailing_region(text: str, parser: CompanyParser) -> str:
    """A region word at the end of `text` (as written), or ""."""
    for n in parser.region_cjk_lengths:
        tail = text[-n:]
        if len(text) >= n and tail in parser.regions:
            return tail
    tokens = latin_tokens(text)
    if tokens and tokens[-1].group(0).lower() in parser.regions:
        return text[tokens[-1].start() :]
    return ""


def _core(rest: str, script: str | None) -> str:
    lowered = rest.lower()
    if script == "latin":
        return " ".join(_LATIN_PUNCT_RE.sub(" ", lowered).split())
    return _LATIN_PUNCT_RE.sub("", lowered)


def _industry(text: str, parser: CompanyParser) -> str | None:
    word = parser.industries.find(text)
    return parser.industry_of.get(word.lower()) if word else None
