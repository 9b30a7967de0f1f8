"""Target ERP profiles: what the new system's customer import expects, read from YAML data files.

This module owns the schema of a profile file and its loader. A profile describes one target
system's customer object: its structures (sheets or sub-structures such as roles, company data,
tax numbers), each structure's fields (type, length, required, allowed values) and the file
format (csv | xlsx | xml2003, encoding, header rows, data start row, sheet names).

Built-in profiles live beside this module (``<name>.yaml``); a project adds its own by listing
files under ``export.profile_paths`` in its config — no code needed. Every problem in a profile
file is reported at once, naming the file and the key (:class:`ProfileError`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.engine.files import read_data_file
from workbench.errors import WorkbenchError
from workbench.project.paths import ProjectPaths

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig

BUILTIN_DIR = Path(__file__).resolve().parent
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"


class ProfileError(WorkbenchError):
    """A target profile file is missing or invalid, or a profile name is unknown."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetField(_Strict):
    """One field (column) of a target structure."""

    name: str = Field(description="technical name as the import tool expects it, e.g. KUNNR, FNumber")
    label: str = Field("", description="caption shown in the header or template, e.g. 客户编码")
    type: Literal["string", "number", "integer", "date", "boolean"] = "string"
    length: int | None = Field(None, ge=1, description="maximum number of characters")
    decimals: int | None = Field(None, ge=0)
    required: bool = False
    allowed: list[str] | None = Field(None, description="picklist: the only values the target accepts")
    format: str | None = Field(None, description="date format the target expects (strftime), e.g. %Y%m%d")
    description: str = ""
    confirmed: bool = Field(True, description="false when the field is not confirmed by a public source")
    key: bool = Field(
        False, description="part of its sheet's key besides the profile's key field (SAP row 7 `Key`)"
    )
    default_source: str | None = Field(
        None,
        description="canonical fields (or golden columns) that obviously fill this field, in order of "
        "preference, joined with + (@kind = every field of that kind, e.g. @tax_id); used by the mapping "
        "scaffold and by a draft export without a field mapping file",
    )
    default_transform: str = Field(
        "", description="transform of the default mapping line, e.g. slice:0:40 or constant:人民币"
    )

    @property
    def caption(self) -> str:
        return self.label or self.name

    @property
    def has_default(self) -> bool:
        """Whether the profile says how to fill this field without a project mapping."""
        return bool(self.default_source) or self.default_transform.strip().startswith("constant:")


class Structure(_Strict):
    """A sheet (xlsx / xml2003) or the single table of a CSV profile."""

    id: str = Field(pattern=NAME_PATTERN, description="short id used in mappings, e.g. general, roles")
    sheet: str | None = Field(None, description="sheet name in the workbook (xlsx / xml2003)")
    label: str = ""
    technical_name: str | None = Field(
        None,
        description="the target's name of the structure, e.g. S_CUST_GEN (header row content `structure`)",
    )
    mandatory: bool = Field(True, description="false: rows are written only when they carry data")
    explode: str | None = Field(
        None, description="field whose `;`-separated value gives one row per value (e.g. BP roles)"
    )
    omit_when_empty: list[str] = Field(
        default_factory=list,
        description="optional structure: a record's row is not written when all these fields are empty",
    )
    one_of: list[list[str]] = Field(
        default_factory=list, description="groups of fields of which at least one must be filled"
    )
    fields: list[TargetField]

    def field(self, name: str) -> TargetField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


HeaderContent = Literal[
    "name",
    "label",
    "label_required",
    "label_description",
    "tech_info",
    "description",
    "key_marker",
    "structure",
    "sheet_title",
    "blank",
]


class HeaderRow(_Strict):
    """One header row of a file: which property of each field it shows.

    ``name`` technical name; ``label`` caption; ``label_required`` caption with ``*`` when
    required; ``label_description`` that, a line break and the description (SAP row 8);
    ``tech_info`` ``NAME;;;type;length;decimals`` (SAP row 6); ``description``; ``key_marker``
    ``Key`` above the key field; ``structure`` / ``sheet_title`` the structure's technical name /
    label in the first cell only; ``blank`` an empty row.
    """

    row: int = Field(ge=1, description="1-based row number in the file or sheet")
    content: HeaderContent = "label"
    hidden: bool = Field(False, description="workbook formats: the row is hidden (SAP rows 4-6)")


class InfoSheet(_Strict):
    """A sheet of a workbook that holds text, not data (SAP's Introduction and Field List)."""

    kind: Literal["introduction", "field_list", "notes"] = Field(
        description="introduction: text lines and the profile's notes; field_list: every sheet and "
        "field (mandatory marked); notes: the profile's unconfirmed facts"
    )
    sheet: str = Field(min_length=1, max_length=31)
    position: Literal["before", "after"] = "before"
    text_column: int = Field(1, ge=1, description="1-based column of the text lines")
    lines: list[str] = Field(default_factory=list, description="text lines written first")


class SourcedFact(_Strict):
    """One layout fact of a profile and where it comes from (kept with the profile)."""

    fact: str
    status: Literal["confirmed", "secondary", "inferred", "unconfirmed"] = Field(
        description="confirmed: a primary or real-code source; secondary: a web page; inferred: our "
        "reading of the sources; unconfirmed: no source found"
    )
    source: str = Field("", description="where it is from (DOMAIN.md source key, URL or repository path)")

    @property
    def needs_check(self) -> bool:
        return self.status != "confirmed"


class CodeList(_Strict):
    """A code list the target needs before the customers load (U8 客户分类, 地区分类, 币种 …).

    Its rows are the distinct values of ``from_field`` in the customer rows written; the file is
    written in the profile's own format, one per code list, and loads before the customers.
    """

    id: str = Field(pattern=NAME_PATTERN)
    label: str
    sheet: str | None = Field(None, description="sheet name (workbook formats)")
    from_field: str = Field(
        description="customer field whose values make the list (FIELD or structure.FIELD)"
    )
    code_field: str = Field(description="field of the list that holds the code")
    name_field: str | None = Field(
        None,
        description="field for the code's name: the value mapping's target_label, else the legacy value(s)",
    )
    grade_field: str | None = Field(None, description="field for the code's level (1, 2, …) under `levels`")
    levels: list[int] | None = Field(
        None,
        description="digits per level of a hierarchical code (U8 编码方案, e.g. [2, 2]); parents are added",
    )
    constants: dict[str, str] = Field(default_factory=dict, description="fields with one value on every row")
    fields: list[TargetField] = Field(min_length=1)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def as_structure(self) -> Structure:
        """The list as a one-sheet structure (for the writers)."""
        return Structure(id=self.id, sheet=self.sheet, label=self.label, fields=self.fields)


class FileFormat(_Strict):
    """How the load file is written."""

    type: Literal["csv", "xlsx", "xml2003"]
    encoding: Literal["utf-8", "utf-8-sig", "gbk", "gb18030"] = "utf-8-sig"
    delimiter: str = Field(",", min_length=1, max_length=1)
    line_terminator: Literal["crlf", "lf"] = "crlf"
    header_rows: list[HeaderRow] = Field(default_factory=lambda: [HeaderRow(row=1, content="label")])
    data_start_row: int = Field(2, ge=1)
    title: str | None = Field(
        None, description="text written in cell A1 above the header rows, if row 1 is free"
    )
    document_properties: dict[str, str] = Field(
        default_factory=dict,
        description="xml2003: the workbook's CustomDocumentProperties (SAP: APPLICATION, OBJECT_NAME, VERSION …)",
    )
    info_sheets: list[InfoSheet] = Field(
        default_factory=list, description="text sheets around the data sheets (workbook formats)"
    )

    @property
    def extension(self) -> str:
        return {"csv": "csv", "xlsx": "xlsx", "xml2003": "xml"}[self.type]

    @model_validator(mode="after")
    def _rows_fit(self) -> FileFormat:
        rows = [h.row for h in self.header_rows]
        if len(set(rows)) != len(rows):
            raise ValueError(f"header_rows: a row number is used twice: {rows}")
        if rows and max(rows) >= self.data_start_row:
            raise ValueError(
                f"data_start_row {self.data_start_row} must come after the last header row {max(rows)}"
            )
        if self.type == "csv" and rows != list(range(1, len(rows) + 1)):
            raise ValueError("a CSV file's header rows must be rows 1, 2, … without gaps")
        if self.type == "csv" and self.data_start_row != len(rows) + 1:
            raise ValueError("a CSV file's data must start right after its header rows")
        if self.type == "csv" and (self.info_sheets or any(h.hidden for h in self.header_rows)):
            raise ValueError("a CSV file has no sheets and no hidden rows; use xlsx or xml2003")
        if self.document_properties and self.type != "xml2003":
            raise ValueError("document_properties are written only by xml2003 files")
        return self

    @property
    def hidden_rows(self) -> list[int]:
        return sorted(h.row for h in self.header_rows if h.hidden)


class TargetProfile(_Strict):
    """One target system's customer import, as described by a profile file."""

    name: str = Field(pattern=NAME_PATTERN)
    label: str
    system: str
    reliability: str = Field(description="which parts are confirmed, and the advice to check the template")
    key_field: str = Field(description="field of the first structure that identifies a record in the file")
    structures: list[Structure] = Field(min_length=1)
    file: FileFormat
    code_lists: list[CodeList] = Field(
        default_factory=list, description="code lists written as their own files, loaded before the customers"
    )
    facts: list[SourcedFact] = Field(
        default_factory=list,
        description="the layout facts and their sources; unconfirmed ones go into the notes",
    )
    path: Path | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> TargetProfile:
        problems = [*self._layout_problems(), *self._key_problems(), *self._code_list_problems()]
        for s in self.structures:
            problems.extend(self._structure_problems(s))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _layout_problems(self) -> list[str]:
        """Structure ids used twice; a CSV with several structures; a workbook sheet without a name."""
        problems: list[str] = []
        ids = [s.id for s in self.structures]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"structures: id {dup!r} is used twice")
        if self.file.type == "csv" and len(self.structures) != 1:
            problems.append("file.type csv holds exactly one structure; use xlsx or xml2003 for several")
        if self.file.type != "csv":
            problems.extend(
                f"structures.{s.id}.sheet: a workbook profile needs a sheet name"
                for s in self.structures
                if not s.sheet
            )
        return problems

    def _code_list_problems(self) -> list[str]:
        """Code lists whose field references do not resolve, or a workbook code list without a sheet."""
        problems: list[str] = []
        every = {f.name for s in self.structures for f in s.fields} | {
            f"{s.id}.{f.name}" for s in self.structures for f in s.fields
        }
        for c in self.code_lists:
            where = f"code_lists.{c.id}"
            if c.from_field not in every:
                problems.append(f"{where}.from_field: {c.from_field!r} is not a field of the profile")
            for key in ("code_field", "name_field", "grade_field"):
                ref = getattr(c, key)
                if ref is not None and ref not in c.field_names:
                    problems.append(
                        f"{where}.{key}: {ref!r} is not one of its fields{did_you_mean(ref, c.field_names)}"
                    )
            problems.extend(
                f"{where}.constants: {k!r} is not one of its fields"
                for k in c.constants
                if k not in c.field_names
            )
            if self.file.type != "csv" and not c.sheet:
                problems.append(f"{where}.sheet: a workbook profile needs a sheet name")
        ids = [c.id for c in self.code_lists] + [s.id for s in self.structures]
        problems.extend(
            f"code_lists: id {d!r} is used twice" for d in sorted({i for i in ids if ids.count(i) > 1})
        )
        return problems

    def _key_problems(self) -> list[str]:
        main = self.structures[0]
        if self.key_field in main.field_names:
            return []
        return [
            f"key_field {self.key_field!r} is not a field of the first structure {main.id!r}"
            f"{did_you_mean(self.key_field, main.field_names)}"
        ]

    def _structure_problems(self, s: Structure) -> list[str]:
        """Fields listed twice, a missing key field, references to unknown fields, empty picklists."""
        problems: list[str] = []
        names = s.field_names
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"structures.{s.id}.fields: {dup!r} is listed twice")
        if s is not self.structures[0] and self.key_field not in names:
            problems.append(f"structures.{s.id}: every structure must carry the key field {self.key_field!r}")
        refs = ([s.explode] if s.explode else []) + s.omit_when_empty + [x for g in s.one_of for x in g]
        for ref in refs:
            if ref not in names:
                problems.append(
                    f"structures.{s.id}: {ref!r} is not one of its fields{did_you_mean(ref, names)}"
                )
        for f in s.fields:
            if f.allowed is not None and not f.allowed:
                problems.append(f"structures.{s.id}.{f.name}.allowed: empty picklist")
        return problems

    @property
    def main(self) -> Structure:
        return self.structures[0]

    def structure(self, structure_id: str) -> Structure:
        """The structure with id `structure_id`.

        Raises:
            ProfileError: the profile has no such structure (with a suggestion).
        """
        for s in self.structures:
            if s.id == structure_id:
                return s
        raise ProfileError(
            f"profile {self.name!r} has no structure {structure_id!r}"
            f"{did_you_mean(structure_id, [s.id for s in self.structures])}; it has {[s.id for s in self.structures]}"
        )

    def resolve_field(self, target: str) -> tuple[Structure, TargetField]:
        """Find a target field written as ``FIELD`` (unique name) or ``structure.FIELD``.

        Raises:
            ProfileError: the field does not exist or the bare name is ambiguous.
        """
        if "." in target:
            sid, fname = target.split(".", 1)
            if sid in [s.id for s in self.structures]:
                s = self.structure(sid)
                if fname in s.field_names:
                    return s, s.field(fname)
                raise ProfileError(
                    f"profile {self.name!r}: structure {sid!r} has no field {fname!r}"
                    f"{did_you_mean(fname, s.field_names)}"
                )
        hits = [(s, f) for s in self.structures for f in s.fields if f.name == target]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            where = ", ".join(f"{s.id}.{target}" for s, _ in hits)
            raise ProfileError(
                f"profile {self.name!r}: {target!r} is in several structures; write one of: {where}"
            )
        every = [f"{s.id}.{f.name}" for s in self.structures for f in s.fields] + [
            f.name for s in self.structures for f in s.fields
        ]
        raise ProfileError(f"profile {self.name!r} has no field {target!r}{did_you_mean(target, every)}")

    def qualified_fields(self) -> list[tuple[Structure, TargetField]]:
        """Every (structure, field) pair in file order."""
        return [(s, f) for s in self.structures for f in s.fields]

    def notes(self) -> list[SourcedFact]:
        """The layout facts that are not confirmed by a public source (written into the files' notes)."""
        return [f for f in self.facts if f.needs_check]


@dataclass(frozen=True)
class ProfileRef:
    """Where a profile comes from: a built-in file or one of the project's files."""

    name: str
    path: Path
    builtin: bool


def list_profiles(extra_paths: list[Path] | tuple[Path, ...] = ()) -> list[ProfileRef]:
    """Every available profile: the built-in ones and the project's files (which win on a name clash)."""
    refs: dict[str, ProfileRef] = {}
    for p in sorted(BUILTIN_DIR.glob("*.yaml")):
        if p.stem.startswith("_") or p.stem == "import_reasons":
            continue
        refs[p.stem] = ProfileRef(p.stem, p, True)
    for p in extra_paths:
        p = Path(p)
        name = _peek_name(p)
        refs[name] = ProfileRef(name, p, False)
    return sorted(refs.values(), key=lambda r: r.name)


def load_profile_file(path: Path | str) -> TargetProfile:
    """Read and validate one profile YAML file.

    Raises:
        ProfileError: naming the file and every problem found.
    """
    path = Path(path)
    raw = read_data_file(path, ProfileError, what="target profile file", hint="check `export.profile_paths`")
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile file holds a mapping with name, structures, file, …")
    try:
        profile = TargetProfile.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"  - {loc}: {msg}")
        raise ProfileError(
            f"{path}: {len(lines)} problem(s) in the target profile:\n" + "\n".join(lines)
        ) from exc
    return profile.model_copy(update={"path": path})


def load_profile(name: str, extra_paths: list[Path] | tuple[Path, ...] = ()) -> TargetProfile:
    """Load a profile by name from the built-in profiles and the project's profile files.

    Raises:
        ProfileError: the name is unknown (with a suggestion) or the file is invalid.
    """
    refs = {r.name: r for r in list_profiles(extra_paths)}
    if name not in refs:
        raise ProfileError(
            f"unknown target profile {name!r}{did_you_mean(name, list(refs))}; available: {sorted(refs)}. "
            "Add the project's own profile file under `export.profile_paths`"
        )
    profile = load_profile_file(refs[name].path)
    if profile.name != name:
        raise ProfileError(
            f"{refs[name].path}: the file's `name` is {profile.name!r}; it must equal the file name {name!r}"
            if refs[name].builtin
            else f"{refs[name].path}: inconsistent profile name {profile.name!r}"
        )
    return profile


def _peek_name(path: Path) -> str:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path}: cannot read the target profile file: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ProfileError(f"{path}: a profile file needs a top-level `name:`")
    return raw["name"]


def did_you_mean(value: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)`` naming the option closest to `value`, or an empty string."""
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_project_profiles(config: ProjectConfig) -> dict[str, TargetProfile]:
    """The profiles a project exports (``export.profiles``), with its own profile files.

    Args:
        config: the project config; its own profile files are
            :attr:`~workbench.project.paths.ProjectPaths.target_profiles`.

    Raises:
        ProfileError: a name is unknown or a profile file is invalid.
    """
    extra = ProjectPaths(config).target_profiles
    return {name: load_profile(name, extra) for name in config.export.profiles}
