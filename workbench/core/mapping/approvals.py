"""Sign-off of everything that decides a load file: the approvals file, the check, approving.

The sign-off covers the **inputs of the load** (:func:`signoff_inputs`): every field mapping file,
every value mapping file, every target profile in use (built-in or the project's own file), the
fixes file (``standardize.fixes_path``, default ``fixes.csv`` beside the config) and the batch plan
rules (``export.batches``, ``export.export_batches``). Each input has its own SHA-256 of its
normalized content (cells trimmed, rows sorted, free-text notes left out; YAML parsed); the sign-off
hash is the SHA-256 of all of them. Changing any input voids every approval, and the refusal names
the inputs that changed since the latest approval.

``approvals.csv`` (:attr:`~workbench.project.paths.ProjectPaths.approvals`) holds
``signoff_hash, approved_by, role, approved_at, comment, inputs``: one line per approval, written by
:func:`approve_mappings` (``workbench approve``), ``inputs`` being the per-input hashes as JSON. By
default one approval per required role (``export.required_approval_roles``: ``it`` and
``business``) is needed. A line without a name, without a role, with a role the project does not
know (``export.approval_roles``), or whose ``inputs`` do not give its hash (not written by
``workbench approve``) is refused and does not count.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from workbench.core.mapping.errors import MappingNotApprovedError
from workbench.core.mapping.files import FIELD_MAPPING_COLUMNS, VALUE_MAPPING_COLUMNS, read_csv_table
from workbench.engine.files import write_bytes_atomic
from workbench.errors import WorkbenchError
from workbench.project.paths import ProjectPaths

if TYPE_CHECKING:
    from workbench.core.targets.profiles import TargetProfile
    from workbench.project.config import ProjectConfig

APPROVAL_COLUMNS = ["signoff_hash", "approved_by", "role", "approved_at", "comment", "inputs"]
FIXES_COLUMNS = ["source", "source_id", "field", "value", "reason", "fixed_by", "fixed_at"]
FIXES_DEFAULT = "fixes.csv"
ABSENT = "absent"
# the columns of each input that decide a load (notes, reasons and who/when do not)
_FIELD_KEYS = ["target_profile", "target_field", "source_field", "transform"]
_VALUE_KEYS = ["map_name", "legacy_value", "target_value", "target_label"]
_FIX_KEYS = ["source", "source_id", "field", "value"]


class ApprovalError(WorkbenchError):
    """An approval cannot be recorded (unknown role, incomplete mappings, no name)."""


# --------------------------------------------------------------------------------------------
# the inputs of the load and their hashes


@dataclass(frozen=True)
class SignOffInput:
    """One input the sign-off covers: its key, where it is, and the hash of its normalized content."""

    key: str
    where: str
    digest: str


def fixes_file(config: ProjectConfig) -> Path:
    """The project's fixes file (``standardize.fixes_path``, default ``fixes.csv`` beside the config)."""
    paths = ProjectPaths(config)
    own = getattr(paths, "fixes", None)  # ProjectPaths.fixes once the project paths name it
    if isinstance(own, Path):
        return own
    configured = getattr(config.standardize, "fixes_path", None) or FIXES_DEFAULT
    return config.resolve(configured)


def signoff_inputs(config: ProjectConfig, profiles: dict[str, TargetProfile]) -> list[SignOffInput]:
    """Every input that decides the load files of `profiles`, each with its SHA-256 (sorted by key).

    Args:
        config: the project config (mapping files, fixes file and batch rules from it).
        profiles: the target profiles in use, by name.
    """
    paths = ProjectPaths(config)
    out = []
    for name in sorted(profiles):
        p = paths.field_mapping(name)
        out.append(
            SignOffInput(
                f"field_mapping:{name}", str(p), _table_digest(p, FIELD_MAPPING_COLUMNS, _FIELD_KEYS)
            )
        )
        profile = profiles[name]
        where = str(profile.path) if profile.path else name
        out.append(SignOffInput(f"profile:{name}", where, _yaml_digest(profile.path)))
    for p in paths.value_mappings:
        out.append(
            SignOffInput(
                f"value_mappings:{p.name}", str(p), _table_digest(p, VALUE_MAPPING_COLUMNS, _VALUE_KEYS)
            )
        )
    fixes = fixes_file(config)
    out.append(SignOffInput("fixes", str(fixes), _table_digest(fixes, FIXES_COLUMNS, _FIX_KEYS)))
    rules = {
        "batches": config.export.batches.model_dump(mode="json"),
        "export_batches": config.export.export_batches,
    }
    out.append(SignOffInput("batch_rules", "export.batches / export.export_batches", _json_digest(rules)))
    return sorted(out, key=lambda i: i.key)


def signoff_hash(inputs: list[SignOffInput] | dict[str, str]) -> str:
    """The SHA-256 of the per-input hashes (the value an approval signs)."""
    pairs = inputs if isinstance(inputs, dict) else {i.key: i.digest for i in inputs}
    return _json_digest(sorted(pairs.items()))


def _json_digest(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _table_digest(path: Path, columns: list[str], keys: list[str]) -> str:
    if not Path(path).is_file():
        return ABSENT
    frame = read_csv_table(path, columns, required=[keys[0]])
    rows = sorted(list(r) for r in frame[keys].fillna("").itertuples(index=False))
    return _json_digest(rows)


def _yaml_digest(path: Path | None) -> str:
    if path is None or not Path(path).is_file():
        return ABSENT
    return _json_digest(yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")))


# --------------------------------------------------------------------------------------------
# the approvals file and the check


def read_approvals(path: Path) -> pd.DataFrame:
    """The approvals file (an empty table when it does not exist yet), with each line's ``line``.

    A file of the former layout (``mapping_version`` instead of ``signoff_hash``) is read too; its
    lines have no ``inputs`` and are refused by :func:`sign_off_status`.

    Raises:
        MappingError: the file is not UTF-8 or lacks ``approved_by``.
    """
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=[*APPROVAL_COLUMNS, "line"])
    frame = read_csv_table(path, [*APPROVAL_COLUMNS, "mapping_version"], required=["approved_by"])
    frame["signoff_hash"] = frame["signoff_hash"].where(frame["signoff_hash"] != "", frame["mapping_version"])
    return frame[[*APPROVAL_COLUMNS, "line"]]


@dataclass
class SignOff:
    """The sign-off status of the current inputs.

    Attributes:
        hash: the sign-off hash of the inputs in use.
        inputs: the inputs in use with their hashes.
        approvals: every line of the approvals file.
        signed: the valid approvals of `hash` (empty when there are none).
        refused: lines that do not count, with ``why``.
        approved: whether every required role approved `hash`.
        missing_roles: required roles without a valid approval of `hash`.
        changed: inputs that changed since the latest valid approval (of another hash).
        problem: why it is not approved, in words (None when approved).
    """

    hash: str
    inputs: list[SignOffInput]
    approvals: pd.DataFrame
    signed: pd.DataFrame
    refused: pd.DataFrame
    approved: bool
    missing_roles: list[str] = field(default_factory=list)
    changed: list[SignOffInput] = field(default_factory=list)
    problem: str | None = None

    def metrics(self) -> dict[str, Any]:
        """Figures a stage records about the sign-off."""
        return {
            "signoff_hash": self.hash,
            "approved": self.approved,
            "approvals_valid": len(self.signed),
            "approvals_refused": len(self.refused),
            "missing_roles": self.missing_roles,
            "changed_since_approval": [i.key for i in self.changed],
        }


def refused_approvals(approvals: pd.DataFrame, known_roles: list[str]) -> pd.DataFrame:
    """The approval lines that do not count, with ``why`` (no name, no or unknown role, bad inputs)."""
    known = {r.lower() for r in known_roles}
    why = []
    for row in approvals.itertuples(index=False):
        role = str(row.role).strip().lower()
        if not str(row.approved_by).strip():
            why.append("no approver name")
        elif not role:
            why.append("no role")
        elif role not in known:
            why.append(f"role {row.role!r} is not one of {sorted(known)}")
        elif _inputs_of(row.inputs) is None or signoff_hash(_inputs_of(row.inputs) or {}) != row.signoff_hash:
            why.append("not recorded by `workbench approve` (its inputs do not give its hash)")
        else:
            why.append("")
    out = approvals.assign(why=why)
    return out[out["why"] != ""].reset_index(drop=True)


def _inputs_of(text: Any) -> dict[str, str] | None:
    try:
        value = json.loads(text) if isinstance(text, str) and text.strip() else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def sign_off_status(
    inputs: list[SignOffInput],
    path: Path,
    required_roles: list[str],
    known_roles: list[str] | None = None,
) -> SignOff:
    """Whether the inputs in use are signed off in the approvals file at `path`, without raising.

    Args:
        inputs: :func:`signoff_inputs` of the project.
        path: the approvals file.
        required_roles: roles that must each have approved; empty: any one valid approval.
        known_roles: roles an approval may carry (default: the required roles).
    """
    current = signoff_hash(inputs)
    approvals = read_approvals(path)
    known = sorted({*(known_roles or []), *required_roles} or {"it", "business"})
    refused = refused_approvals(approvals, known)
    valid = approvals[~approvals["line"].isin(set(refused["line"]))]
    mine = valid[valid["signoff_hash"] == current].reset_index(drop=True)
    roles = set(mine["role"].str.strip().str.lower())
    missing = [r for r in required_roles if r.lower() not in roles]
    approved = not mine.empty and not missing
    status = SignOff(current, inputs, approvals, mine, refused, approved, missing)
    if not approved:
        others = valid[valid["signoff_hash"] != current]
        if len(others):
            recorded = _inputs_of(others.iloc[-1]["inputs"]) or {}
            status.changed = [i for i in inputs if recorded.get(i.key) != i.digest]
        status.problem = _refusal(status, path, others.iloc[-1] if len(others) else None)
    return status


def _refusal(status: SignOff, path: Path, latest: pd.Series | None) -> str:
    """The refusal in words: what is missing, which inputs changed, which lines were refused."""
    parts = [
        f"the inputs of the load (mappings, target profiles, fixes, batch rules) have sign-off hash {status.hash}"
    ]
    if status.signed.empty:
        parts.append(f"no valid approval of it in {path}")
    if status.missing_roles:
        parts.append(f"roles {status.missing_roles} have not approved it")
    if latest is not None:
        changed = "; ".join(f"{i.key} ({i.where})" for i in status.changed) or "none recorded"
        parts.append(
            f"changed since the latest approval ({latest['approved_by']}, {latest['role']}, "
            f"{latest['approved_at']}, hash {str(latest['signoff_hash'])[:12]}…): {changed}"
        )
    elif status.approvals.empty:
        parts.append("nothing has been approved yet")
    if len(status.refused):
        lines = "; ".join(
            f"line {r.line} ({r.approved_by or '?'}): {r.why}" for r in status.refused.itertuples()
        )
        parts.append(f"refused approval lines: {lines}")
    return (
        ". ".join(parts) + ". Review the mapping workbook, then record each role's approval with "
        "`workbench approve --config <workbench.yaml> --role it|business`; until then the export "
        "writes DRAFT files"
    )


def check_approval(status: SignOff) -> pd.DataFrame:
    """The valid approvals of the inputs in use; raise when they are not (fully) signed off.

    Raises:
        MappingNotApprovedError: naming the sign-off hash, the missing roles, the inputs that changed
            and the refused lines.
    """
    if not status.approved:
        raise MappingNotApprovedError(status.problem or "not approved")
    return status.signed


def project_sign_off(config: ProjectConfig, profiles: dict[str, TargetProfile]) -> SignOff:
    """The sign-off status of the project's current inputs (see :func:`sign_off_status`)."""
    settings = config.export
    return sign_off_status(
        signoff_inputs(config, profiles),
        ProjectPaths(config).approvals,
        list(settings.required_approval_roles),
        list(getattr(settings, "approval_roles", []) or []),
    )


# --------------------------------------------------------------------------------------------
# approving


def approve_mappings(
    config: ProjectConfig,
    role: str,
    name: str | None = None,
    comment: str = "",
    *,
    approved_at: str | None = None,
) -> pd.DataFrame:
    """Record one approval of the project's current inputs (``workbench approve``).

    The mappings must be complete (every mapping file present and valid, no legacy code without a
    target value); the line records the sign-off hash, the per-input hashes, who (the OS user when
    `name` is not given), the role and when, and is appended to the approvals file atomically.

    Args:
        config: the project config.
        role: the approver's role; one of ``export.approval_roles`` / ``export.required_approval_roles``.
        name: the approver; default the OS user (:func:`getpass.getuser`).
        comment: free text.
        approved_at: ISO timestamp; default now.

    Returns:
        The approval line written (one row of :data:`APPROVAL_COLUMNS`).

    Raises:
        ApprovalError: unknown or empty role, no name, or the mappings are incomplete.
        MappingError: a mapping file is invalid.
    """
    from workbench.core.mapping.files import load_mapping_set
    from workbench.core.targets.profiles import load_project_profiles

    settings = config.export
    known = sorted({*(getattr(settings, "approval_roles", []) or []), *settings.required_approval_roles})
    role = (role or "").strip().lower()
    if role not in known:
        raise ApprovalError(
            f"role {role!r} is not one of the project's approval roles {known} (export.approval_roles)"
        )
    who = (name or _os_user()).strip()
    if not who:
        raise ApprovalError("an approval needs the approver's name: pass --name")
    profiles = load_project_profiles(config)
    mapping = load_mapping_set(config, profiles)
    if not mapping.complete:
        gaps = "; ".join(mapping.gaps())
        raise ApprovalError(f"the mappings are not complete, so there is nothing to approve yet: {gaps}")
    inputs = signoff_inputs(config, profiles)
    path = ProjectPaths(config).approvals
    current = read_approvals(path)[APPROVAL_COLUMNS]
    when = approved_at or dt.datetime.now().replace(microsecond=0).isoformat()
    digests = {i.key: i.digest for i in inputs}
    row = pd.DataFrame(
        [[signoff_hash(inputs), who, role, when, comment.strip(), json.dumps(digests, sort_keys=True)]],
        columns=APPROVAL_COLUMNS,
    )
    out = pd.concat([current, row], ignore_index=True)
    write_bytes_atomic(Path(path), out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
    return row


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return ""
