"""The batch plan: every golden record in exactly one load batch or exclusion
(:mod:`~workbench.core.batches.plan`)."""
