"""Scored pairs and their decisions: model scores, deterministic rules and review labels in one table.

Every pair any of the three sources names is listed once (``record_key_l < record_key_r``) with:

- ``model_probability`` / ``match_weight``: the model's score (NULL when no blocking rule made it);
- ``match_probability``: the decided probability (1 for a deterministic or ``match`` label, 0 for a
  ``non_match`` label, else the model's);
- ``match_reason``: ``review:<label>``, the deterministic rule name, or ``model``;
- ``decision``: ``match`` (linked), ``review`` (uncertain band, not linked), ``non_match``.

The clustering guard may later turn a ``match`` into ``split`` (see :mod:`workbench.core.linkage.clusters`).
Splink's per-comparison columns (``gamma_*``, ``mw_*``, ``mw_tf_adj_*`` and the Bayes factors
``bf_*`` derived from them) are kept for the waterfall view; comparisons are symmetric, so
normalising the pair order keeps them valid.
"""

from __future__ import annotations

from workbench.engine.sql import ident


def pair_columns(prediction_columns: list[str]) -> list[str]:
    """The per-comparison columns of a Splink prediction kept in ``match_pairs``.

    Splink 5 gives each comparison's level (``gamma_<name>``) and match weight (``mw_<name>``, plus
    ``mw_tf_adj_<name>`` for term-frequency adjustments); each weight is also given as a Bayes factor
    ``bf_<name>`` = 2 ** weight, the form older Splink wrote and the explain view reads.
    """
    return [c for c in prediction_columns if c.startswith(("gamma_", "mw_"))]


def _with_bayes_factors(columns: list[str]) -> str:
    out = []
    for c in columns:
        out.append(f", {ident(c)}")
        if c.startswith("mw_"):
            out.append(f", pow(2.0, {ident(c)}) AS {ident('bf_' + c[3:])}")
    return "".join(out)


def match_pairs_sql(
    predictions: str | None,
    prediction_columns: list[str],
    deterministic: str,
    labels: str,
    *,
    threshold: float,
    review_min: float,
) -> str:
    """SQL of the decided pairs (see the module docstring).

    Args:
        predictions: the Splink prediction table (``record_key_l``, ``record_key_r``,
            ``match_probability``, ``match_weight``, …), or None when nothing was scored.
        prediction_columns: its columns.
        deterministic: table ``record_key_l, record_key_r, rule``.
        labels: table ``record_key_l, record_key_r, label``.
        threshold: model pairs at or above are linked.
        review_min: model pairs from here up to the threshold are sent to review; model pairs below
            it are left out (the predictions keep lower scores for the prior and the threshold).
    """
    extra = pair_columns(prediction_columns) if predictions else []
    if predictions:
        model = (
            "SELECT least(record_key_l, record_key_r) AS l, greatest(record_key_l, record_key_r) AS r, "
            "match_probability, match_weight"
            + _with_bayes_factors(extra)
            + f" FROM {predictions} WHERE record_key_l <> record_key_r AND match_probability >= {float(review_min)!r}"
        )
    else:
        model = (
            "SELECT NULL::VARCHAR AS l, NULL::VARCHAR AS r, NULL::DOUBLE AS match_probability, "
            "NULL::DOUBLE AS match_weight WHERE false"
        )
    extra_sel = "".join(f", m.{ident(c)}" for c in extra)
    extra_sel += "".join(f", m.{ident('bf_' + c[3:])}" for c in extra if c.startswith("mw_"))
    return f"""
WITH m AS ({model}),
d AS (SELECT record_key_l AS l, record_key_r AS r, rule FROM {deterministic}),
lb AS (SELECT record_key_l AS l, record_key_r AS r, label FROM {labels}),
k AS (SELECT l, r FROM m UNION SELECT l, r FROM d UNION SELECT l, r FROM lb)
SELECT
  k.l AS record_key_l,
  k.r AS record_key_r,
  CASE WHEN lb.label = 'match' THEN 1.0 WHEN lb.label = 'non_match' THEN 0.0
       WHEN d.rule IS NOT NULL THEN 1.0 ELSE m.match_probability END AS match_probability,
  m.match_weight,
  CASE WHEN lb.label IS NOT NULL THEN 'review:' || lb.label
       WHEN d.rule IS NOT NULL THEN d.rule ELSE 'model' END AS match_reason,
  CASE WHEN lb.label = 'match' THEN 'match' WHEN lb.label = 'non_match' THEN 'non_match'
       WHEN d.rule IS NOT NULL THEN 'match'
       WHEN m.match_probability >= {float(threshold)!r} THEN 'match'
       WHEN m.match_probability >= {float(review_min)!r} THEN 'review'
       ELSE 'non_match' END AS decision,
  m.match_probability AS model_probability,
  CASE WHEN lb.label IS NOT NULL THEN 3 WHEN d.rule IS NOT NULL THEN 2 ELSE 1 END AS edge_rank
  {extra_sel}
FROM k
LEFT JOIN m ON m.l = k.l AND m.r = k.r
LEFT JOIN d ON d.l = k.l AND d.r = k.r
LEFT JOIN lb ON lb.l = k.l AND lb.r = k.r
ORDER BY k.l, k.r
"""
