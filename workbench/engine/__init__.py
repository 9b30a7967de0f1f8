"""The engine: the bottom layer, free of any phase logic.

- :mod:`~workbench.engine.connection` — DuckDB connections (offline settings), table checks,
  frame registration;
- :mod:`~workbench.engine.sql` — the one SQL text helper (identifiers, literals, ``COPY … TO``);
- :mod:`~workbench.engine.catalog` — every persisted table, its key and the stage that writes it;
- :mod:`~workbench.engine.files` — atomic writes and reading data files (YAML / JSON);
- :mod:`~workbench.engine.splink_backend` — the one place that builds Splink's database API;
- :mod:`~workbench.engine.netguard` — refuses network connections when asked to.
"""
