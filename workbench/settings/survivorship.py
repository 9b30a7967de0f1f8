"""Settings of the `survivorship:` section of ``workbench.yaml``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SurvivorshipSettings(BaseModel):
    """The `survivorship:` section. Every key is optional; defaults suit a Chinese-first project."""

    model_config = ConfigDict(extra="forbid")
