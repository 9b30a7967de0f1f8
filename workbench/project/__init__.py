"""The project: what a migration project is made of, above the engine and below the phases.

- :mod:`~workbench.project.config` — the schema and loader of ``workbench.yaml``;
  :mod:`~workbench.project.settings` — its phase sections;
- :mod:`~workbench.project.paths` — every path of a project and of its run folders;
- :mod:`~workbench.project.context` — the :class:`RunContext` every stage is handed;
- :mod:`~workbench.project.stages` — the one declaration of the stages, their order and inputs;
- :mod:`~workbench.project.stage_log` — the stage log of a run.
"""
