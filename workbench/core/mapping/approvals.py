"""Sign-off of a mapping version: the approvals file, the check the export runs, and approving.

``approvals.csv`` (:attr:`~workbench.project.paths.ProjectPaths.approvals`) holds
``mapping_version, approved_by, role, approved_at, comment``: one line per approval of a mapping
version (:func:`~workbench.core.mapping.files.compute_mapping_version`). The export refuses to run
on a version that is not approved (by every role in ``export.required_approval_roles``) unless
draft mode is on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.core.mapping.errors import MappingNotApprovedError
from workbench.core.mapping.files import read_csv_table
from workbench.engine.files import write_bytes_atomic
from workbench.errors import WorkbenchError

APPROVAL_COLUMNS = ["mapping_version", "approved_by", "role", "approved_at", "comment"]


def read_approvals(path: Path) -> pd.DataFrame:
    """The approvals file (an empty table when it does not exist yet).

    Raises:
        MappingError: the file is not UTF-8 or lacks ``mapping_version`` / ``approved_by``.
    """
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=APPROVAL_COLUMNS)
    return read_csv_table(path, APPROVAL_COLUMNS, required=["mapping_version", "approved_by"])[
        APPROVAL_COLUMNS
    ]


def check_approval(
    version: str,
    approvals: pd.DataFrame,
    required_roles: list[str] | None = None,
    *,
    path: Path | str = "approvals.csv",
) -> pd.DataFrame:
    """The approvals of `version`; raise when it is not (fully) signed off.

    Args:
        version: the mapping version in use.
        approvals: the approvals file (:func:`read_approvals`).
        required_roles: roles that must all have approved `version`; empty: any one approval.
        path: the approvals file, named in the error.

    Raises:
        MappingNotApprovedError: naming the version in use, the approved versions and how to fix it.
    """
    mine = approvals[approvals["mapping_version"] == version]
    roles = set(mine["role"].str.strip().str.lower())
    missing_roles = [r for r in (required_roles or []) if r.lower() not in roles]
    if mine.empty or missing_roles:
        approved = sorted(set(approvals["mapping_version"]) - {""})
        latest = approvals.iloc[-1] if len(approvals) else None
        hint = (
            f"; the latest approval ({latest['approved_by']}, {latest['approved_at']}) is for version "
            f"{latest['mapping_version'][:12]}…"
            if latest is not None
            else "; no mapping version has been approved yet"
        )
        what = f"roles {missing_roles} have not approved it" if not mine.empty else "it is not approved"
        raise MappingNotApprovedError(
            f"the mappings in use are version {version} but {what} in {path}{hint} "
            f"(approved versions: {[v[:12] for v in approved]}). The mapping files changed since sign-off: "
            "review the mapping workbook and add an approval line for the version in use, "
            "or export with draft mode on (export.draft: true) to get files marked DRAFT"
        )
    return mine.reset_index(drop=True)


@dataclass
class SignOff:
    """The sign-off status of a mapping version.

    Attributes:
        approvals: every line of the approvals file.
        signed: the approvals of the version when it is approved, else every line.
        approved: whether the version is (fully) approved.
        problem: why it is not, in words (None when approved).
    """

    approvals: pd.DataFrame
    signed: pd.DataFrame
    approved: bool
    problem: str | None


def sign_off_status(version: str, path: Path, required_roles: list[str] | None = None) -> SignOff:
    """Whether `version` is signed off in the approvals file at `path`, without raising.

    Args:
        version: the mapping version in use.
        path: the approvals file.
        required_roles: roles that must all have approved (see :func:`check_approval`).
    """
    approvals = read_approvals(path)
    try:
        mine = check_approval(version, approvals, required_roles, path=path)
    except MappingNotApprovedError as exc:
        return SignOff(approvals=approvals, signed=approvals, approved=False, problem=str(exc))
    return SignOff(approvals=approvals, signed=mine, approved=True, problem=None)


def approve_mappings(
    path: Path,
    version: str,
    approved_by: str,
    role: str,
    *,
    comment: str = "",
    approved_at: str | None = None,
) -> pd.DataFrame:
    """Append an approval line for `version` to the approvals file (written atomically).

    Args:
        path: the approvals file (created when missing).
        version: the mapping version approved.
        approved_by: the approver's name.
        role: the approver's role (e.g. ``business``, ``it``).
        comment: free text.
        approved_at: ISO timestamp; default now.

    Returns:
        The whole approvals table after the append.
    """
    if not approved_by.strip():
        raise WorkbenchError("an approval needs the approver's name (approved_by)")
    current = read_approvals(path)
    when = approved_at or dt.datetime.now().replace(microsecond=0).isoformat()
    row = pd.DataFrame(
        [[version, approved_by.strip(), role.strip(), when, comment.strip()]], columns=APPROVAL_COLUMNS
    )
    out = pd.concat([current, row], ignore_index=True)
    write_bytes_atomic(Path(path), out.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
    return out
