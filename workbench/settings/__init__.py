"""Typed models of the phase sections of ``workbench.yaml`` (one module per section).

Each phase owns its module here; :mod:`workbench.config` assembles them into the project config so a
wrong key anywhere in the file is reported at load time.
"""

from workbench.settings.export import ExportSettings
from workbench.settings.match import MatchSettings
from workbench.settings.report import ReportSettings
from workbench.settings.standardize import StandardizeSettings
from workbench.settings.survivorship import SurvivorshipSettings

__all__ = [
    "ExportSettings",
    "MatchSettings",
    "ReportSettings",
    "StandardizeSettings",
    "SurvivorshipSettings",
]
