"""Target ERP profiles (YAML data files) and their loader; see :mod:`workbench.core.targets.profiles`."""

from workbench.core.targets.profiles import (
    CodeList,
    FileFormat,
    HeaderRow,
    InfoSheet,
    ProfileError,
    ProfileRef,
    SourcedFact,
    Structure,
    TargetField,
    TargetProfile,
    did_you_mean,
    list_profiles,
    load_profile,
    load_profile_file,
    load_project_profiles,
)

__all__ = [
    "CodeList",
    "FileFormat",
    "InfoSheet",
    "SourcedFact",
    "HeaderRow",
    "ProfileError",
    "ProfileRef",
    "Structure",
    "TargetField",
    "TargetProfile",
    "did_you_mean",
    "list_profiles",
    "load_profile",
    "load_profile_file",
    "load_project_profiles",
]
