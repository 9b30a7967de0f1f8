"""Phase 7, proving the migration: technical validation (GX suites), reconciliation, business sample.

The package's modules, each owning one part:

- :mod:`.rules` — the YAML rule tables in the workbench's ``expectations/`` folder;
- :mod:`.suite_builder` — the generated suites (a source, the standardized set, load-ready files);
- :mod:`.suite_files` — suite JSON files and loading with a survival check;
- :mod:`.gx_context`, :mod:`.gx_runner` — the GX context and running suites as checkpoints;
- :mod:`.results` — ``validation_results`` / ``validation_failures`` rows with business keys;
- :mod:`.checks` — which suite runs on which data of a run (:func:`validate_run`);
- :mod:`.reconcile` — every source row's one disposition, totals and key-field checksums;
- :mod:`.sampling` — the business acceptance sample, its review data and verdicts.

The names below are the package's public API.
"""

from workbench.core.validation.checks import collect_checks, load_ready_frames, suite_for, validate_run
from workbench.core.validation.gx_runner import SuiteCheck, ValidationError, find_pages, run_suites
from workbench.core.validation.reconcile import (
    DISPOSITIONS,
    ReconciliationResult,
    build_dispositions,
    disposition_totals,
    key_field_checksums,
    reconcile_run,
)
from workbench.core.validation.results import (
    FAILURE_COLUMNS,
    RESULT_COLUMNS,
    ValidationOutcome,
    store_outcome,
)
from workbench.core.validation.rules import RULES_DIR, RuleTable, RuleTableError, load_rule_table
from workbench.core.validation.sampling import (
    BusinessSample,
    ReviewSheet,
    SamplePlan,
    SampleResult,
    SamplingError,
    business_sample,
    customer_history,
    draw_sample,
    evaluate_sample,
    load_plan,
    plan_sample,
    read_verdicts,
    review_sheet,
    sample_masters,
)
from workbench.core.validation.suite_builder import (
    META_KEY,
    STANDARDIZED_SUITE,
    build_load_ready_suites,
    build_source_suite,
    build_standardized_suite,
)
from workbench.core.validation.suite_files import (
    SuiteError,
    load_suite,
    read_suite_file,
    save_suite,
    suite_to_dict,
)

__all__ = [
    "DISPOSITIONS",
    "FAILURE_COLUMNS",
    "META_KEY",
    "RESULT_COLUMNS",
    "RULES_DIR",
    "STANDARDIZED_SUITE",
    "BusinessSample",
    "ReconciliationResult",
    "ReviewSheet",
    "RuleTable",
    "RuleTableError",
    "SamplePlan",
    "SampleResult",
    "SamplingError",
    "SuiteCheck",
    "SuiteError",
    "ValidationError",
    "ValidationOutcome",
    "build_dispositions",
    "build_load_ready_suites",
    "build_source_suite",
    "build_standardized_suite",
    "business_sample",
    "collect_checks",
    "customer_history",
    "disposition_totals",
    "draw_sample",
    "evaluate_sample",
    "find_pages",
    "key_field_checksums",
    "load_plan",
    "load_ready_frames",
    "load_rule_table",
    "load_suite",
    "plan_sample",
    "read_suite_file",
    "read_verdicts",
    "reconcile_run",
    "review_sheet",
    "run_suites",
    "sample_masters",
    "save_suite",
    "store_outcome",
    "suite_for",
    "suite_to_dict",
    "validate_run",
]
