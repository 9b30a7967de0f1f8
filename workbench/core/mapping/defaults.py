"""Default mapping lines: what a target profile itself says about filling its fields.

A profile field may name ``default_source`` — canonical fields or golden columns that obviously fill
it, in order of preference, joined with ``+`` — and a ``default_transform``. A candidate is a column
name (``customer_name``), ``@<kind>`` (every canonical field of that kind, in config order) or
``@<kind>.<extra>`` (that kind extra of each such field, e.g. ``@address.city`` →
``<address field>_city``). ``{region}`` in a transform is the project's default region.

:func:`default_lines` turns them into ordinary :class:`~workbench.core.mapping.transforms.MappingLine`
objects against the columns a project's golden records will have (:func:`project_columns`, from the
config alone, so every caller gets the same lines): the draft export uses them for a profile that has
no field mapping file, and the mapping scaffold writes them as the pre-filled lines of a new file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.mapping.errors import MappingError
from workbench.core.mapping.transforms import MULTI_SOURCE, MappingLine, Step, parse_transform
from workbench.core.standardize.fields import EXTRAS, RECORD_COLUMNS
from workbench.core.targets.profiles import Structure, TargetField, TargetProfile

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig

# golden columns that are not canonical fields (docs/architecture.md, golden records)
GOLDEN_COLUMNS = ("master_id", "parent_master_id", "member_count", "sources", "match_type")
DEFAULT_NOTE = "profile default"


@dataclass(frozen=True)
class ProjectColumns:
    """The columns a project's golden records have, and its canonical fields by kind (config order)."""

    columns: frozenset[str]
    by_kind: dict[str, tuple[str, ...]]
    region: str

    def resolve(self, candidate: str) -> list[str]:
        """The columns one ``default_source`` candidate stands for (empty when the project has none)."""
        candidate = candidate.strip()
        if not candidate.startswith("@"):
            return [candidate] if candidate in self.columns else []
        kind, _, extra = candidate[1:].partition(".")
        fields = self.by_kind.get(kind, ())
        names = [f"{f}_{extra}" for f in fields] if extra else list(fields)
        return [n for n in names if n in self.columns]


def project_columns(config: ProjectConfig) -> ProjectColumns:
    """The golden columns of `config`: canonical fields, their kind extras, record and golden columns."""
    kinds = config.field_kinds()
    columns = set(kinds) | set(RECORD_COLUMNS) | set(GOLDEN_COLUMNS)
    by_kind: dict[str, list[str]] = {}
    for name, kind in kinds.items():
        by_kind.setdefault(str(kind.value), []).append(name)
        columns.update(f"{name}_{extra}" for extra in EXTRAS.get(kind, ()))
    return ProjectColumns(
        columns=frozenset(columns),
        by_kind={k: tuple(v) for k, v in by_kind.items()},
        region=config.project.default_region,
    )


def resolve_default(target: TargetField, columns: ProjectColumns) -> tuple[tuple[str, ...], str] | None:
    """The sources and transform of `target`'s default line, or None when the project cannot fill it.

    Several sources are combined with ``first_nonempty`` (unless the transform starts with a
    multi-source step); a ``when:`` step on a column the project lacks drops the default.
    """
    transform = target.default_transform.strip().replace("{region}", columns.region)
    steps = parse_transform(transform) if transform else (Step("copy"),)
    if steps[0].name == "constant":
        return (), transform
    if not target.default_source:
        return None
    sources = tuple(
        dict.fromkeys(c for part in target.default_source.split("+") for c in columns.resolve(part))
    )
    if not sources:
        return None
    for s in steps:
        if s.name == "when" and (s.arg or "").split("=")[0].rstrip("!").strip() not in columns.columns:
            return None
    if len(sources) > 1 and steps[0].name not in MULTI_SOURCE:
        transform = "first_nonempty" + (f"|{transform}" if transform else "")
    elif len(sources) == 1 and steps[0].name == "first_nonempty":
        transform = "|".join(transform.split("|")[1:])
    return sources, transform


def default_lines(profile: TargetProfile, columns: ProjectColumns, *, file: str = "") -> list[MappingLine]:
    """The default mapping lines of `profile` that `columns` can fill, in the profile's field order.

    Raises:
        MappingError: a ``default_transform`` of the profile does not parse (naming the profile field).
    """
    out: list[MappingLine] = []
    problems: list[str] = []
    where = file or (str(profile.path) if profile.path else profile.name)
    for number, (structure, target) in enumerate(_fillable(profile), start=1):
        try:
            resolved = resolve_default(target, columns)
        except ValueError as exc:
            problems.append(f"{where}: {structure.id}.{target.name}.default_transform: {exc}")
            continue
        if resolved is None:
            continue
        sources, transform = resolved
        out.append(
            MappingLine(
                profile=profile.name,
                target=f"{structure.id}.{target.name}",
                structure=structure.id,
                field=target.name,
                sources=sources,
                steps=parse_transform(transform),
                transform=transform,
                note=DEFAULT_NOTE,
                file=where,
                line=number,
            )
        )
    if problems:
        raise MappingError(problems)
    return out


def _fillable(profile: TargetProfile) -> Iterable[tuple[Structure, TargetField]]:
    """Every (structure, field) that a mapping line may fill (a later structure's copy of the key is not)."""
    for s, f in profile.qualified_fields():
        if f.name == profile.key_field and s is not profile.main:
            continue
        yield s, f
