"""The headless phase logic, one package per phase: ingest, profiling, standardize, mapping,
targets (ERP target profiles), linkage (match), golden, batches, export, validation, monitoring.

Core computes and persists data (tables, load files); it never imports presentation, the stages
or the CLI (checked by ``lint-imports``).
"""
