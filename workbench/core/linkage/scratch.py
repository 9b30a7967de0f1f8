"""The scratch tables of one match, inside the Splink engine's own in-memory database.

They live in the connection that :func:`workbench.engine.splink_backend.create_engine` opens for one
run of the match stage (not in the run database) and disappear when it closes. They carry the one
scratch prefix of the workbench (:func:`workbench.engine.catalog.temp`), so they are easy to tell from
Splink's own ``__splink__`` tables. The steps of :mod:`workbench.core.linkage.pipeline` fill them in
the order listed here.
"""

from __future__ import annotations

from workbench.engine.catalog import CROSSWALK, MATCH_PAIRS, REVIEW_QUEUE, Table, temp

RECORDS = temp("records")  # the compared std_customers columns and helper columns, one row per record
MODELLED = temp("modelled")  # view of RECORDS: the records the model sees (test records left out)
LABELS = temp("labels")  # review labels of earlier runs: record_key_l, record_key_r, label, holdout
TRAIN_LABELS = temp("train_labels")  # the match labels that train m (Splink's pairwise-labels format)
DETERMINISTIC = temp("deterministic")  # pairs the deterministic rules link: record_key_l, record_key_r, rule
PAIRS = temp("pairs")  # every decided pair (see workbench.core.linkage.predict.match_pairs_sql)
EDGES = temp("edges")  # the pairs that link: record_key_l, record_key_r
COMPONENTS = temp("components")  # connected components of EDGES: record_key, cluster_id
CLUSTERS = temp("clusters")  # record_key, cluster: the components after the guards split them
WITHIN = temp("within")  # record_key_l, record_key_r, probability of every pair inside a 3+ cluster
CONFLICTS = temp("conflicts")  # record_key_l, record_key_r, guard, reason: pairs a guard keeps apart
SPLIT = temp("split")  # the links the guards cut: record_key_l, record_key_r, guard, reason
MASTERS = temp("masters")  # record_key, master_id
TRUTH = temp("truth")  # the ground truth, when one is configured
CLUSTERED = temp("clustered")  # RECORDS with their master ID as cluster_id (for Splink's cluster studio)

# the contract tables of the match stage, built here first and then copied to the run database
OUTPUTS: dict[Table, str] = {
    MATCH_PAIRS: temp("match_pairs"),
    CROSSWALK: temp("crosswalk"),
    REVIEW_QUEUE: temp("review_queue"),
}


def source_view(position: int) -> str:
    """The view of the modelled records of one source (the `position`-th, in name order)."""
    return temp(f"source_{int(position)}")
