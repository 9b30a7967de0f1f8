"""The export phase: load-ready files (:mod:`~workbench.core.export.load_files`) and the
import-error loop that reads the target ERP's logs back (:mod:`~workbench.core.export.import_log`)."""
