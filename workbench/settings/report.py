"""Settings of the `report:` section of ``workbench.yaml``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReportSettings(BaseModel):
    """The `report:` section. Every key is optional; defaults suit a Chinese-first project."""

    model_config = ConfigDict(extra="forbid")
