"""Phase 9, after go-live: the run history of quality metrics, the published master and its change
log, and the duplicate check of new customers (:mod:`workbench.core.monitoring.history`)."""
