"""Field and value mapping to the target profiles: files, transforms, coverage, sign-off, review.

The real code lives in the modules below; this package re-exports their public names:

* :mod:`~workbench.core.mapping.files` — reading and checking the mapping CSVs, :class:`MappingSet`,
  the mapping version;
* :mod:`~workbench.core.mapping.transforms` — the transform language, value maps, applying a line;
* :mod:`~workbench.core.mapping.rows` — mapping golden records to a profile's structures;
* :mod:`~workbench.core.mapping.coverage` — the coverage report and its flat issue table;
* :mod:`~workbench.core.mapping.defaults` — the default lines a target profile declares;
* :mod:`~workbench.core.mapping.approvals` — what the sign-off covers, the approvals file, the check, approving;
* :mod:`~workbench.core.mapping.scaffold` — mapping files pre-filled for a new project;
* :mod:`~workbench.core.mapping.review` — the mapping stage's core (:func:`review_mappings`);
* :mod:`~workbench.core.mapping.errors` — the errors of the phase.
"""

from workbench.core.mapping.approvals import (
    APPROVAL_COLUMNS,
    FIXES_COLUMNS,
    ApprovalError,
    SignOff,
    SignOffInput,
    approve_mappings,
    check_approval,
    fixes_file,
    project_sign_off,
    read_approvals,
    refused_approvals,
    sign_off_status,
    signoff_hash,
    signoff_inputs,
)
from workbench.core.mapping.coverage import GOLDEN_ONLY_COLUMNS, Coverage, compute_coverage, coverage_issues
from workbench.core.mapping.defaults import ProjectColumns, default_lines, project_columns, resolve_default
from workbench.core.mapping.errors import MappingCoverageError, MappingError, MappingNotApprovedError
from workbench.core.mapping.files import (
    FIELD_MAPPING_COLUMNS,
    VALUE_MAPPING_COLUMNS,
    VALUE_MAPPING_REQUIRED,
    MappingSet,
    compute_mapping_version,
    load_mapping_files,
    load_mapping_set,
    read_csv_table,
)
from workbench.core.mapping.review import (
    MappingReport,
    field_mapping_overview,
    read_records_for_coverage,
    review_mappings,
    store_coverage_issues,
)
from workbench.core.mapping.rows import MappedRows, map_rows
from workbench.core.mapping.transforms import (
    TRANSFORMS,
    WILDCARD,
    Applied,
    MappingLine,
    Step,
    ValueMaps,
    apply_line,
    line_columns,
    parse_transform,
    to_text,
)

__all__ = [
    "APPROVAL_COLUMNS",
    "FIELD_MAPPING_COLUMNS",
    "FIXES_COLUMNS",
    "VALUE_MAPPING_REQUIRED",
    "ApprovalError",
    "ProjectColumns",
    "SignOffInput",
    "default_lines",
    "fixes_file",
    "project_columns",
    "project_sign_off",
    "refused_approvals",
    "resolve_default",
    "signoff_hash",
    "signoff_inputs",
    "GOLDEN_ONLY_COLUMNS",
    "TRANSFORMS",
    "VALUE_MAPPING_COLUMNS",
    "WILDCARD",
    "Applied",
    "Coverage",
    "MappedRows",
    "MappingCoverageError",
    "MappingError",
    "MappingLine",
    "MappingNotApprovedError",
    "MappingReport",
    "MappingSet",
    "SignOff",
    "Step",
    "ValueMaps",
    "apply_line",
    "approve_mappings",
    "check_approval",
    "compute_coverage",
    "compute_mapping_version",
    "coverage_issues",
    "field_mapping_overview",
    "line_columns",
    "load_mapping_files",
    "load_mapping_set",
    "map_rows",
    "parse_transform",
    "read_approvals",
    "read_csv_table",
    "read_records_for_coverage",
    "review_mappings",
    "sign_off_status",
    "store_coverage_issues",
    "to_text",
]
