"""Cleanse and standardize customer records: one standardizer per kind, change log, flags, fills.

The stage entry point is :func:`standardize_customers` (staged rows → ``std_customers``,
``change_log``, ``field_validity``). The per-kind functions take a pandas Series of distinct raw
values and return a result frame (``value``, ``valid``, ``issue``, ``rule`` and the kind extras);
see :mod:`workbench.core.standardize.base`.
"""

from workbench.core.standardize.addresses import (
    standardize_addresses,
    standardize_countries,
    standardize_postcodes,
    standardize_regions,
)
from workbench.core.standardize.base import Reference, StandardizeError, load_reference
from workbench.core.standardize.codes import (
    standardize_amounts,
    standardize_codes,
    standardize_customer_types,
    standardize_flags,
    standardize_statuses,
    standardize_text,
    standardize_urls,
)
from workbench.core.standardize.company_names import standardize_company_names
from workbench.core.standardize.customer_names import standardize_customer_names
from workbench.core.standardize.dates import standardize_dates
from workbench.core.standardize.emails import standardize_emails
from workbench.core.standardize.ids import standardize_ids, standardize_tax_ids
from workbench.core.standardize.person_names import standardize_person_names
from workbench.core.standardize.phones import standardize_phones
from workbench.core.standardize.pipeline import StandardizeResult, standardize_customers

__all__ = [
    "Reference",
    "StandardizeError",
    "StandardizeResult",
    "load_reference",
    "standardize_addresses",
    "standardize_amounts",
    "standardize_codes",
    "standardize_company_names",
    "standardize_countries",
    "standardize_customer_names",
    "standardize_customer_types",
    "standardize_customers",
    "standardize_dates",
    "standardize_emails",
    "standardize_flags",
    "standardize_ids",
    "standardize_person_names",
    "standardize_phones",
    "standardize_postcodes",
    "standardize_regions",
    "standardize_statuses",
    "standardize_tax_ids",
    "standardize_text",
    "standardize_urls",
]
