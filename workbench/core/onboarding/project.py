"""``workbench init``: a project config (and mapping scaffolds) from a folder of legacy exports.

:func:`init_project` reads each file's header and a sample (:mod:`~workbench.core.onboarding.sample`),
guesses per column the canonical field and kind from the header words and the values
(:mod:`~workbench.core.onboarding.guess`), picks each source's ID column, tells activity files
(dates, amounts and a customer key with repeats that matches a customer file's IDs) from customer
files, guesses each source's region (a country column, else the phones, else Chinese text) and date
order, and writes a commented ``workbench.yaml`` that :func:`~workbench.project.config.load_config`
accepts (:mod:`~workbench.core.onboarding.writer`). It then ingests every source once into a scratch
database, to check the config reads the files and to collect the distinct legacy codes of the code,
status and flag fields, and writes the mapping scaffolds of the target profiles
(:func:`workbench.core.mapping.scaffold.write_mapping_scaffolds`).
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.core.onboarding.evidence import (
    ValueTests,
    phone_region_shares,
    phone_regions,
    profile_column,
    shipped_value_tests,
)
from workbench.core.onboarding.guess import (
    ColumnGuess,
    agree_kinds,
    choose_id_column,
    dedupe_fields,
    field_name_from_header,
    guess_column,
    key_overlap,
    repeating_keys,
)
from workbench.core.onboarding.headers import HeaderWords, shipped_header_words
from workbench.core.onboarding.sample import FileSample, discover_inputs, read_sample
from workbench.core.onboarding.writer import ProjectPlan, SourcePlan, render_config
from workbench.engine.files import write_text_atomic
from workbench.errors import SourceError, WorkbenchError
from workbench.project.config import (
    NAME_PATTERN,
    RESERVED_SOURCE_NAMES,
    ProjectConfig,
    load_config,
    parse_config,
)

log = logging.getLogger(__name__)

CODE_KINDS = ("code", "status", "flag")
MAX_LEGACY_CODES = 1000
"""A code field with more distinct values than this is not listed in the value mapping scaffold."""
_CJK_RE = re.compile(r"[\u3400-\u9fff]")


@dataclass
class InitResult:
    """What ``init`` wrote and guessed."""

    config_path: Path
    config: ProjectConfig
    sources: list[SourcePlan]
    language: str
    default_region: str
    profiles: list[str]
    scaffolds: list[Path] = field(default_factory=list)
    legacy_values: dict[str, list[str]] = field(default_factory=dict)
    file_rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def guesses(self) -> dict[str, list[ColumnGuess]]:
        """Every column guess, by source name."""
        return {s.name: s.guesses for s in self.sources}

    def summary_lines(self) -> list[str]:
        """What to print: one line per source, the files written, the problems."""
        out = [f"wrote {self.config_path}"]
        for s in self.sources:
            placed = sum(1 for g in s.guesses if g.placed)
            low = sum(1 for g in s.guesses if g.placed and g.confidence < 0.5)
            rows = self.file_rows.get(s.name)
            rows_text = f", {rows} rows" if rows is not None else ""
            out.append(
                f"  {s.name} ({s.role}, {s.path}{rows_text}): {placed} of {len(s.guesses)} columns placed, "
                f"{low} with low confidence; ID column {s.id_guess.header!r}"
            )
        out += [f"wrote {p}" for p in self.scaffolds]
        out += [f"problem: {p}" for p in self.problems]
        out += [f"note: {n}" for n in self.notes]
        out.append(
            f"next: review {self.config_path.name}, then workbench check --config {self.config_path} --headers"
        )
        return out


@dataclass
class _Draft:
    sample: FileSample
    region: str
    region_reason: str
    guesses: list[ColumnGuess]
    role: str = "customers"
    customer_source: _Draft | None = None
    customer_source_reason: str = ""
    id_guess: ColumnGuess | None = None
    id_reason: str = ""
    name: str = ""


def init_project(
    out_dir: Path | str,
    inputs: Sequence[Path | str],
    *,
    targets: Sequence[str] | None = None,
    language: str | None = None,
    region: str | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> InitResult:
    """Write ``<out_dir>/workbench.yaml`` (and the mapping scaffolds) for the legacy exports `inputs`.

    Args:
        out_dir: the project folder (created when missing); source paths are written relative to it.
        inputs: CSV, Excel or Parquet files, or folders of them.
        targets: target profile names; default the export section's defaults.
        language: ``zh`` or ``en`` for the reports; default guessed from the headers.
        region: the project's default region (ISO 3166); default guessed from the data.
        name: the project name; default from the folder name.
        overwrite: replace an existing ``workbench.yaml`` (the scaffolds are never overwritten).

    Returns:
        The config written, every guess with its confidence, the scaffolds and what went wrong.

    Raises:
        WorkbenchError: the config exists (without `overwrite`), or no input can be read.
    """
    out = Path(out_dir).expanduser().resolve()
    config_path = out / "workbench.yaml"
    if config_path.exists() and not overwrite:
        raise WorkbenchError(
            f"{config_path} exists already; pass --force to replace it, or choose another --out"
        )
    if language not in (None, "zh", "en"):
        raise WorkbenchError(f"language {language!r} is not supported; use zh or en")
    if region is not None and not re.fullmatch(r"[A-Z]{2}", region):
        raise WorkbenchError(f"region {region!r} must be an ISO 3166 country code such as CN, US or AU")
    words, tests = shipped_header_words(), shipped_value_tests()
    problems: list[str] = []
    drafts = _read_drafts(discover_inputs(inputs), words, tests, region, problems)
    _decide_roles(drafts, words, tests)
    _name_sources(drafts)
    kind_notes = agree_kinds([d.guesses for d in drafts if d.role == "customers"])
    default_region = region or _project_region(drafts)
    lang, lang_reason = (language, "given") if language else _guess_language(drafts)
    profiles = list(targets) if targets else _default_profiles()
    plan = ProjectPlan(
        name=name or f"{out.name} customer migration",
        language=lang,
        language_comment=lang_reason,
        default_region=default_region,
        region_comment="given" if region else _region_comment(drafts, default_region),
        sources=[_source_plan(d, out, default_region, tests) for d in drafts],
        profiles=profiles,
        profiles_comment="given" if targets else "default targets; change to the ERPs you load into",
        files=len(drafts),
    )
    text = render_config(plan)
    config = _checked_config(text, config_path)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(config_path, text)
    config = load_config(config_path)
    result = InitResult(config_path, config, plan.sources, lang, default_region, profiles, problems=problems)
    result.notes += kind_notes
    result.legacy_values, result.file_rows = _legacy_values(config, result.problems)
    result.scaffolds = _write_scaffolds(config, result.legacy_values, result.problems)
    return result


# --------------------------------------------------------------------------------------------
# reading and guessing


def _read_drafts(
    files: list[Path], words: HeaderWords, tests: ValueTests, region: str | None, problems: list[str]
) -> list[_Draft]:
    drafts = []
    for path in files:
        try:
            sample = read_sample(path, words.score)
        except SourceError as exc:
            problems.append(f"{path}: not used: {exc}")
            continue
        duplicates = sorted({h for h in sample.headers if h and sample.headers.count(h) > 1})
        if duplicates:
            problems.append(
                f"{path}: the header has duplicate column names {duplicates}; rename them in the file "
                "so each header is unique (the ingest refuses duplicate headers)"
            )
        source_region, reason = (region, "given") if region else _guess_region(sample, words, tests)
        drafts.append(
            _Draft(
                sample,
                source_region,
                reason,
                _guess_columns(sample, words, tests, source_region, "customers"),
            )
        )
    if not drafts:
        raise WorkbenchError("no input file could be read:\n" + "\n".join(f"  - {p}" for p in problems))
    return drafts


def _guess_columns(
    sample: FileSample, words: HeaderWords, tests: ValueTests, region: str, role: str
) -> list[ColumnGuess]:
    guesses = []
    for position, header in enumerate(sample.headers, start=1):
        profile = profile_column(sample.column(position), region, tests)
        if not header:
            guesses.append(ColumnGuess(position, header, None, None, 0.0, ["no header"], profile=profile))
            continue
        guess = guess_column(position, header, profile, words.matches(header, role))
        guess.profile = profile
        guesses.append(guess)
    return guesses


def _guess_region(sample: FileSample, words: HeaderWords, tests: ValueTests) -> tuple[str, str]:
    """The country of a file's records: its country column, else its phones, else Chinese text."""
    import pandas as pd

    from workbench.core.standardize.addresses import standardize_countries

    kinds = {
        i: (words.matches(h)[0].kind if words.matches(h) else None) for i, h in enumerate(sample.headers, 1)
    }
    for position, kind in kinds.items():
        if kind != "country":
            continue
        values = [v.strip() for v in sample.column(position) if v.strip()]
        if not values:
            continue
        codes = standardize_countries(pd.Series(values, dtype=object), reference=tests.reference)["value"]
        counted = Counter(c for c in codes if c)
        if counted:
            code, n = counted.most_common(1)[0]
            return (
                code,
                f"country column {sample.headers[position - 1]!r}: {n} of {len(values)} values are {code}",
            )
    texts = [*sample.headers, *(v for r in sample.rows[:50] for v in r)]
    has_cjk = any(_CJK_RE.search(t) for t in texts)
    phones = [v for p, k in kinds.items() if k == "phone" for v in sample.column(p) if v.strip()]
    if phones:
        region, share = _phone_region(phones, has_cjk)
        if region is not None:
            return region, f"{share:.0%} of the sampled phone numbers are valid {region} numbers"
    if has_cjk:
        return "CN", "Chinese text, no country column or readable phones"
    return "US", "no country column, phones or Chinese text: assumed US; set region: if wrong"


CJK_SCRIPT_REGIONS = frozenset({"CN", "HK", "MO", "TW", "JP", "KR", "KP", "SG"})
"""Regions whose exports hold CJK text; a file without it is not taken for one of them on phones alone
(a ten-digit number such as 2127365000 is valid in China as well as in the US)."""


def _phone_region(phones: list[str], has_cjk: bool) -> tuple[str | None, float]:
    """The region most sampled phone numbers are valid in (ties: script of the file, then the
    regions the numbers belong to)."""
    import phonenumbers

    shares = phone_region_shares(phones, sorted(phonenumbers.SUPPORTED_REGIONS))
    if not shares:
        return None, 0.0
    top = max(shares.values())
    if top < 0.5:
        return None, top
    tied = [r for r, s in sorted(shares.items()) if s >= top - 0.05]
    fitting = [r for r in tied if (r in CJK_SCRIPT_REGIONS) == has_cjk]
    tied = fitting or tied
    if len(tied) == 1:
        return tied[0], shares[tied[0]]
    # numbering plans shared by several regions (+1, +7 …): the regions the numbers belong to decide
    owners = phone_regions(phones, tied[0])
    owned = [r for r, _ in owners.most_common() if r in tied]
    best = owned[0] if owned else tied[0]
    return best, shares[best]


def _decide_roles(drafts: list[_Draft], words: HeaderWords, tests: ValueTests) -> None:
    """Choose every source's ID column; a file of dated amounts whose repeating key matches another
    file's IDs is an activity source of that file."""
    for d in drafts:
        d.id_guess, d.id_reason = choose_id_column(d.guesses)
    for d in drafts:
        kinds = {g.kind for g in d.guesses}
        if "date" not in kinds or not kinds & {"amount", "number"}:
            continue
        best = _best_customer_key(d, drafts)
        if best is None or best[0] < 0.2:
            continue
        overlap, customers, key = best
        if sum(1 for x in drafts if x.role == "customers" and x is not d) == 0:
            continue
        d.role, d.customer_source = "activity", customers
        d.customer_source_reason = (
            f"{overlap:.0%} of the {key.header!r} values are IDs of {customers.sample.path.name}"
        )
        d.guesses = _guess_columns(d.sample, words, tests, d.region, "activity")
        d.id_guess = next(g for g in d.guesses if g.position == key.position)
        d.id_reason = f"customer key with repeats ({d.customer_source_reason})"
    for d in drafts:
        assert d.id_guess is not None
        g = d.id_guess
        if g.field != "customer_id" or g.kind != "id":
            g.reasons.append(f"chosen as the ID column (was {g.field or 'not placed'})")
            g.confidence = max(g.confidence, 0.3)
        g.field, g.kind = "customer_id", "id"
        dedupe_fields(d.guesses, g.position)
        if d.role == "activity" and not any(x.kind == "date" for x in d.guesses):  # pragma: no cover
            d.role, d.customer_source = "customers", None


def _best_customer_key(d: _Draft, drafts: list[_Draft]) -> tuple[float, _Draft, ColumnGuess] | None:
    """The repeating key column of `d` whose values overlap most with another customer file's IDs."""
    best: tuple[float, _Draft, ColumnGuess] | None = None
    for key in repeating_keys(d.guesses):
        for other in drafts:
            if other is d or other.role != "customers" or other.id_guess is None:
                continue
            ids = {v.strip() for v in other.sample.column(other.id_guess.position) if v.strip()}
            overlap = key_overlap(d.sample.column(key.position), ids)
            if best is None or overlap > best[0]:
                best = (overlap, other, key)
    return best


def _name_sources(drafts: list[_Draft]) -> None:
    taken: set[str] = set()
    for d in drafts:
        base = field_name_from_header(d.sample.path.stem, 0)
        base = base if re.fullmatch(NAME_PATTERN, base) else "source"
        if base in RESERVED_SOURCE_NAMES:
            base = f"{base}_src"
        name, n = base[:36], 2
        while name in taken:
            name, n = f"{base[:36]}_{n}", n + 1
        d.name = name
        taken.add(name)


def _project_region(drafts: list[_Draft]) -> str:
    votes: Counter[str] = Counter()
    for d in drafts:
        votes[d.region] += max(1, len(d.sample.rows))
    return votes.most_common(1)[0][0]


def _region_comment(drafts: list[_Draft], region: str) -> str:
    agreeing = [d.name for d in drafts if d.region == region]
    return (
        f"guessed from {', '.join(agreeing)} ({next(d.region_reason for d in drafts if d.region == region)})"
    )


def _guess_language(drafts: list[_Draft]) -> tuple[str, str]:
    headers = [h for d in drafts for h in d.sample.headers if h]
    cjk = sum(1 for h in headers if _CJK_RE.search(h))
    if headers and cjk / len(headers) >= 0.3:
        return "zh", f"{cjk} of {len(headers)} headers are Chinese"
    return "en", f"{len(headers) - cjk} of {len(headers)} headers are not Chinese"


def _default_profiles() -> list[str]:
    from workbench.project.settings import ExportSettings

    return list(ExportSettings().profiles)


# --------------------------------------------------------------------------------------------
# the plan of one source


def _source_plan(d: _Draft, out: Path, default_region: str, tests: ValueTests) -> SourcePlan:
    from workbench.core.standardize.regional import country_conventions

    sample = d.sample
    assert d.id_guess is not None
    plan = SourcePlan(
        name=d.name,
        label=sample.path.name,
        path=_relative(sample.path, out),
        format=sample.format,
        guesses=d.guesses,
        id_guess=d.id_guess,
        id_reason=d.id_reason,
        role=d.role,
        customer_source=d.customer_source.name if d.customer_source else None,
        customer_source_reason=d.customer_source_reason,
        encoding_comment=f"detected {sample.encoding} ({sample.encoding_reason})" if sample.encoding else "",
        delimiter=sample.delimiter,
        sheet=sample.sheet,
        other_sheets=sample.other_sheets,
        header_row=sample.header_row,
        header_comment=f"confidence {sample.header_confidence:.2f}" + "".join(f"; {n}" for n in sample.notes),
        notes=[],
    )
    if d.region != default_region:
        plan.region, plan.region_comment = d.region, d.region_reason
    orders = {
        g.profile.date_order for g in d.guesses if g.kind == "date" and g.profile and g.profile.date_order
    }
    example = next(
        (
            g.profile.date_order_example
            for g in d.guesses
            if g.kind == "date" and g.profile and g.profile.date_order
        ),
        "",
    )
    convention = country_conventions(tests.reference).get(d.region)
    region_day_first = True if convention is None else convention.day_first
    if len(orders) == 1:
        day_first = orders.pop() == "dmy"
        if day_first != region_day_first:
            plan.day_first = day_first
            plan.day_first_comment = (
                f"the dates read {'day' if day_first else 'month'} first (e.g. {example})"
            )
    elif len(orders) > 1:
        plan.notes.append("date columns disagree on day/month order; set day_first on the source")
    plan.combine = _combine(d.guesses)
    return plan


def _combine(guesses: list[ColumnGuess]) -> dict[str, list[str]]:
    """``address: [street_number, street, suburb]`` when a source splits a field over columns."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for g in guesses:
        if g.field is not None and g.part_of and ":" in g.part_of:
            name, order = g.part_of.split(":", 1)
            groups.setdefault(name, []).append((int(order) if order.isdigit() else 99, g.field))
    fields = {g.field for g in guesses}
    return {
        name: [f for _, f in sorted(parts)]
        for name, parts in groups.items()
        if len(parts) >= 2 and name not in fields
    }


def _relative(path: Path, out: Path) -> str:
    try:
        return Path(os.path.relpath(path, out)).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def _checked_config(text: str, config_path: Path) -> ProjectConfig:
    """Validate the generated text before it is written (a failure here is a bug of init)."""
    raw = yaml.safe_load(text)
    return parse_config(raw, config_path, check_files=True)


# --------------------------------------------------------------------------------------------
# after writing: read every source once, write the scaffolds


def _legacy_values(config: ProjectConfig, problems: list[str]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Ingest every source into a scratch database: file rows per source, and per code / status /
    flag field of the customer sources its distinct values (at most :data:`MAX_LEGACY_CODES`)."""
    from workbench.core.ingest import ingest_source
    from workbench.engine.catalog import staged
    from workbench.engine.connection import connect
    from workbench.engine.sql import ident

    values: dict[str, set[str]] = {}
    rows: dict[str, int] = {}
    con = connect()
    try:
        for spec in config.sources:
            try:
                result = ingest_source(config, spec, con)
            except WorkbenchError as exc:
                problems.append(f"source {spec.name!r} does not ingest with this config: {exc}")
                continue
            rows[spec.name] = result.file_rows
            if result.quarantined_rows:
                problems.append(
                    f"source {spec.name!r}: {result.quarantined_rows} of {result.file_rows} rows would be "
                    "quarantined (see the audit stage)"
                )
            if spec.role != "customers":
                continue
            for column in spec.columns.values():
                if column.kind.value not in CODE_KINDS or column.field == spec.id_field:
                    continue
                found = con.execute(
                    f"SELECT DISTINCT trim({ident(column.field)}) FROM {ident(staged(spec.name))} "
                    f"WHERE trim({ident(column.field)}) <> '' LIMIT {MAX_LEGACY_CODES + 1}"
                ).fetchall()
                if len(found) <= MAX_LEGACY_CODES:
                    values.setdefault(column.field, set()).update(str(r[0]) for r in found)
    finally:
        con.close()
    return {f: sorted(v) for f, v in sorted(values.items())}, rows


def _write_scaffolds(config: ProjectConfig, legacy: dict[str, list[str]], problems: list[str]) -> list[Path]:
    try:
        from workbench.core.mapping.scaffold import write_mapping_scaffolds
    except ImportError:  # pragma: no cover - the mapping package ships it
        problems.append("the mapping scaffolds were not written (workbench.core.mapping.scaffold is missing)")
        return []
    from workbench.project.paths import ProjectPaths

    target = ProjectPaths(config).mapping_dir
    target.mkdir(parents=True, exist_ok=True)
    try:
        return write_mapping_scaffolds(config, target, legacy)
    except WorkbenchError as exc:
        problems.append(f"the mapping scaffolds were not written: {exc}")
        return []
