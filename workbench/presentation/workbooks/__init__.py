"""Excel workbooks meant for people: one module per workbook (mapping review, import fix worklist, …).

Core computes the tables (e.g. :mod:`workbench.core.mapping.review`,
:mod:`workbench.core.export.import_log`); the modules here lay them out as sheets with people's
labels and write the files atomically, with fixed workbook metadata so a rerun gives the same bytes.
"""
