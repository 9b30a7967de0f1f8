"""Golden records (phase 5): one surviving record per master, with the provenance of every value.

- :mod:`~workbench.core.golden.survivorship`: the survivorship rules → ``golden_customers`` and
  ``golden_provenance`` (and the group parent relation);
- :mod:`~workbench.core.golden.explain`: why one master looks the way it does (members, deciding
  rules, match evidence), as data; its HTML view is
  :mod:`workbench.presentation.reports.master_explanation`.
"""
