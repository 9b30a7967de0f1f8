"""Typed models of the phase sections of ``workbench.yaml`` (one module per section).

Each phase owns its module here; :mod:`workbench.project.config` assembles them into the project config so a
wrong key anywhere in the file is reported at load time.
"""

from workbench.project.settings.export import ExportSettings
from workbench.project.settings.match import MatchSettings
from workbench.project.settings.report import ReportSettings
from workbench.project.settings.standardize import StandardizeSettings
from workbench.project.settings.survivorship import SurvivorshipSettings

__all__ = [
    "ExportSettings",
    "MatchSettings",
    "ReportSettings",
    "StandardizeSettings",
    "SurvivorshipSettings",
]
