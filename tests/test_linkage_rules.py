"""Deterministic rules, the over-merge guard, master IDs, labels and the evaluation maths."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.core.linkage import clusters, deterministic, evaluation, labels, master_ids
from workbench.core.linkage.review_queue import save_decision
from workbench.core.linkage.settings_builder import MatchField
from workbench.engine.connection import connect
from workbench.project.config import Kind
from workbench.project.settings.match import DeterministicRule, HardCase

# ------------------------------------------------------------------ deterministic rules


def test_default_rules_from_kinds():
    plans = [
        MatchField("uscc", Kind.TAX_ID, {"value": "uscc"}),
        MatchField("name", Kind.COMPANY_NAME, {"value": "name", "core": "name_core"}),
        MatchField("tel", Kind.PHONE, {"value": "tel", "e164": "tel_e164"}),
        MatchField("mobile", Kind.PHONE, {"value": "mobile", "e164": "mobile_e164"}),
        MatchField("email", Kind.EMAIL, {"value": "email"}),
        MatchField("vat", Kind.TAX_ID, {"value": "vat"}),
        MatchField("national_id", Kind.PERSON_ID, {"value": "national_id"}),
    ]
    rules = deterministic.default_rules(plans)
    # one rule per tax ID field, on its company IDs only (``<field>__company``: valid, of a type that
    # names one legal entity); contact details and a person's ID are evidence, never a rule
    assert [(r.name, r.columns) for r in rules] == [
        ("same_uscc", ["uscc__company"]),
        ("same_vat", ["vat__company"]),
    ]
    assert deterministic.default_rules(plans[1:5]) == []  # e-mail + phone + name: no default rule
    assert deterministic.default_rules(plans[6:]) == []  # a person ID: no default rule


def test_deterministic_edges_link_groups_as_stars_and_need_every_column():
    con = connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES "
        "('a:1', 'U1', 'x@y', '+861'), ('a:2', 'U1', NULL, NULL), ('b:1', 'U1', 'x@y', '+861'), "
        "('b:2', NULL, 'x@y', '+861'), ('b:3', NULL, 'x@y', NULL), ('b:4', 'U2', NULL, NULL)) "
        "v(record_key, uscc, email, mobile)"
    )
    rules = [
        DeterministicRule(name="same_uscc", columns=["uscc"]),
        DeterministicRule(name="same_contact", columns=["email", "mobile"]),
    ]
    rows = con.execute(deterministic.deterministic_edges_sql("t", rules) + " ORDER BY 1, 2").fetchall()
    edges = [(r[0], r[1], r[2]) for r in rows]
    # U1: a:1 a:2 b:1 as a star on a:1; contact: a:1 b:1 b:2 (b:3 lacks a mobile) star on a:1;
    # a:1-b:1 is found by both rules and listed under the first
    assert edges == [
        ("a:1", "a:2", "same_uscc"),
        ("a:1", "b:1", "same_uscc"),
        ("a:1", "b:2", "same_contact"),
    ]
    con.close()


# ------------------------------------------------------------------ over-merge guard


def test_split_keeps_records_with_different_valid_uscc_apart():
    # a chain A(U1) -0.99- B(no USCC) -0.95- C(U2) -0.97- D(U2): B joins A (stronger), C-D stay together
    edges = [
        clusters.Edge("A", "B", 1, 0.99, 9.0),
        clusters.Edge("B", "C", 1, 0.95, 7.0),
        clusters.Edge("C", "D", 1, 0.97, 8.0),
    ]
    values = {"A": {"uscc": "U1"}, "C": {"uscc": "U2"}, "D": {"uscc": "U2"}}
    assert clusters.has_conflict("ABCD", values)
    rep, rejected = clusters.split_conflicting(list("ABCD"), edges, values)
    assert rep == {"A": "A", "B": "A", "C": "C", "D": "C"}
    assert [(e.left, e.right) for e, _ in rejected] == [("B", "C")]
    assert "uscc: U1 ≠ U2" in rejected[0][1]


def test_split_honours_cannot_link_and_edge_strength():
    # a deterministic edge (rank 2) beats a stronger-probability model edge
    edges = [clusters.Edge("A", "B", 1, 0.999, 12.0), clusters.Edge("B", "C", 2, 1.0, 0.0)]
    rep, rejected = clusters.split_conflicting(list("ABC"), edges, {}, {("A", "C")})
    assert rep == {"A": "A", "B": "B", "C": "B"}
    assert rejected[0][1] == "labelled non_match"
    assert not clusters.has_conflict("AB", {}, {("A", "C")})


# ------------------------------------------------------------------ master IDs


def _records(keys, clusters_, source="erp"):
    df = pd.DataFrame({"record_key": keys, "_source": source, "source_id": [k.split(":")[1] for k in keys]})
    df["_row_hash"] = "h" + df["record_key"]
    df["identity"] = master_ids.record_identities(df)
    df["source"] = df["_source"]
    df["cluster"] = clusters_
    return df


def test_identities_fall_back_to_row_hash_for_missing_or_repeated_ids():
    df = pd.DataFrame(
        {
            "record_key": ["a:1", "a:2", "a:3", "a:4", "b:1"],
            "_source": ["a", "a", "a", "a", "b"],
            "source_id": ["C1", "C2", "C2", None, "C2"],
            "_row_hash": ["h1", "h2", "h2", "h4", "h5"],
        }
    )
    assert master_ids.record_identities(df).tolist() == ["a|C1", "a|#h2", "a|#h2#2", "a|#h4", "b|C2"]


def test_master_ids_are_stable_across_reruns_and_new_rows(tmp_path):
    path = tmp_path / "registry.parquet"
    recs = _records(["erp:1", "erp:2", "erp:3", "erp:4"], ["x", "x", "y", "z"])
    ids, reg = master_ids.assign_master_ids(recs, master_ids.read_registry(path), run_id="r1")
    assert ids.tolist() == ["M00000001", "M00000001", "M00000002", "M00000003"]
    master_ids.write_registry(path, reg)
    # rerun with other cluster labels and rows in another order: same IDs
    again = _records(["erp:4", "erp:3", "erp:2", "erp:1"], ["p", "q", "r", "r"])
    ids2, reg2 = master_ids.assign_master_ids(again, master_ids.read_registry(path), run_id="r2")
    assert dict(zip(again["record_key"], ids2, strict=True)) == dict(
        zip(recs["record_key"], ids, strict=True)
    )
    master_ids.write_registry(path, reg2)
    # new rows: one joins erp:3's cluster, one is new; old IDs stay, the new one gets the next number
    grown = _records(["erp:1", "erp:2", "erp:3", "erp:4", "erp:5", "erp:6"], ["a", "a", "b", "c", "b", "d"])
    ids3, reg3 = master_ids.assign_master_ids(grown, master_ids.read_registry(path), run_id="r3")
    assert ids3.tolist() == ["M00000001", "M00000001", "M00000002", "M00000003", "M00000002", "M00000004"]


def test_split_and_merge_keep_the_majority_id_and_never_reuse(tmp_path):
    path = tmp_path / "registry.parquet"
    recs = _records(["erp:1", "erp:2", "erp:3", "erp:4"], ["x", "x", "x", "y"])
    ids, reg = master_ids.assign_master_ids(recs, master_ids.Registry.empty(), run_id="r1")
    master_ids.write_registry(path, reg)
    # erp:3 splits off, erp:4 merges into the big cluster
    moved = _records(["erp:1", "erp:2", "erp:3", "erp:4"], ["x", "x", "s", "x"])
    ids2, reg2 = master_ids.assign_master_ids(moved, master_ids.read_registry(path), run_id="r2")
    assert ids2.tolist() == ["M00000001", "M00000001", "M00000003", "M00000001"]
    master_ids.write_registry(path, reg2)
    assert master_ids.read_registry(path).next_number == 4  # M00000002 is retired, never reused
    ids3, _ = master_ids.assign_master_ids(moved, master_ids.read_registry(path), run_id="r3")
    assert ids3.tolist() == ids2.tolist()


def test_registry_damaged_file_is_a_clear_error(tmp_path):
    path = tmp_path / "registry.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(master_ids.RegistryError, match="cannot read the master ID registry"):
        master_ids.read_registry(path)


# ------------------------------------------------------------------ labels


def test_labels_newest_wins_unknown_records_left_out_and_measured(tmp_path):
    path = tmp_path / "labels.csv"

    def decide(left, right, label, day, ids=None):
        identity_l, identity_r = ids or (None, None)
        stamp = pd.Timestamp(f"2026-01-{day:02d}", tz="UTC")
        save_decision(
            path, left, right, label, "qa", decided_at=stamp, identity_l=identity_l, identity_r=identity_r
        )

    # lines of an older file name their records by record_key, newer ones by stable identities
    decide("a:2", "a:1", "non_match", 1)
    decide("a:1", "a:2", "match", 2)
    decide("a:1", "a:3", "non_match", 2)
    decide("a:3", "a:4", "skip", 2)
    decide("a:1", "zz:9", "match", 2)
    # written when the rows were numbered otherwise: the identities name a:3 and a:4 of this run
    decide("a:7", "a:8", "match", 3, ("a|C3", "a|C4"))
    # an identity line and a newer line by record_key name the same pair: the newer one wins
    decide("a:5", "a:9", "non_match", 3, ("a|C2", "a|C4"))
    decide("a:2", "a:4", "match", 4)
    # an identity this run does not hold
    decide("a:1", "a:4", "match", 4, ("a|C1", "a|GONE"))
    identities = {"a|C1": "a:1", "a|C2": "a:2", "a|C3": "a:3", "a|C4": "a:4"}
    got, unknown = labels.read_labels(path, identities)
    assert list(got.columns) == ["record_key_l", "record_key_r", "label", "holdout"]
    assert got[["record_key_l", "record_key_r", "label"]].values.tolist() == [
        ["a:1", "a:2", "match"],
        ["a:1", "a:3", "non_match"],
        ["a:2", "a:4", "match"],
        ["a:3", "a:4", "match"],
    ]
    assert unknown == 2  # zz:9 and a|GONE
    assert got["holdout"].dtype == bool
    # the blind split is a hash of the pair's stable keys: the same in every run, all or none at the ends
    again, _ = labels.read_labels(path, identities)
    assert again["holdout"].tolist() == got["holdout"].tolist()
    assert labels.read_labels(path, identities, holdout_share=1.0)[0]["holdout"].all()
    assert not labels.read_labels(path, identities, holdout_share=0.0)[0]["holdout"].any()
    # without identities, labels are taken by their record keys as written and none is left out
    as_written, none_unknown = labels.read_labels(path)
    assert none_unknown == 0 and ["a:1", "zz:9", "match"] in as_written.values[:, :3].tolist()

    scores = pd.DataFrame(
        {
            "record_key_l": ["a:1", "a:1", "a:2"],
            "record_key_r": ["a:2", "a:3", "a:4"],
            "match_probability": [0.5, 0.95, 0.97],
        }
    )
    m = labels.measure_against_labels(got, scores, threshold=0.9)
    # a:1-a:2 is a match the model missed (FN); a:1-a:3 a non-match the model linked (FP);
    # a:2-a:4 a match it linked (TP); a:3-a:4 was never scored (counts as not linked: FN)
    assert (m["label_tp"], m["label_fp"], m["label_fn"], m["label_tn"]) == (1, 1, 2, 0)
    assert m["labels_match"] == 3 and m["labels_non_match"] == 1
    assert m["label_precision"] == 0.5 and m["label_recall"] == pytest.approx(1 / 3)
    missing, _ = labels.read_labels(tmp_path / "none.csv")
    assert missing.empty


# ------------------------------------------------------------------ evaluation


def test_evaluation_maths_on_a_hand_example():
    con = connect()
    # truth: {1,2,3} one entity, {4,5} one entity (a branch 6 of the same group), 7 alone
    con.execute(
        "CREATE TABLE truth AS SELECT * FROM (VALUES ('k1','E1','G1','cjk',NULL), "
        "('k2','E1','G1','latin','typo;address_changed'), ('k3','E1','G1','cjk',NULL), "
        "('k4','E2','G2','cjk',NULL), ('k5','E2','G2','cjk','mobile_changed'), ('k6','E3','G2','cjk',NULL), "
        "('k7','E4','G4','cjk',NULL)) v(record_key, entity_id, group_id, script, defects)"
    )
    # predicted: {1,2}, {3}, {4,5,6}, {7}
    con.execute(
        "CREATE TABLE pred AS SELECT * FROM (VALUES ('k1','M1'), ('k2','M1'), ('k3','M2'), ('k4','M3'), "
        "('k5','M3'), ('k6','M3'), ('k7','M4')) v(record_key, master_id)"
    )
    cases = {
        "cross_script": HardCase(column="script", test="differ"),
        "group_members": HardCase(column="group_id", test="same"),
        "changed": HardCase(
            column="defects", test="contains_any", values=["address_changed", "mobile_changed"]
        ),
    }
    out = evaluation.evaluate_clusters(con, "pred", "truth", hard_cases=cases)
    # true pairs: 12 13 23 45 = 4; predicted: 12 45 46 56 = 4; TP: 12 45 = 2
    assert out["pairwise"]["precision"] == pytest.approx(0.5)
    assert out["pairwise"]["recall"] == pytest.approx(0.5)
    assert out["pairwise"]["f1"] == pytest.approx(0.5)
    # clusters: predicted {1,2} {3} {4,5,6} {7}; true {1,2,3} {4,5} {6} {7}: only {7} exact
    assert out["cluster"]["exact_clusters"] == 1
    assert out["cluster"]["precision"] == pytest.approx(1 / 4)
    assert out["cluster"]["recall"] == pytest.approx(1 / 4)
    # cross-script pairs: 12 (true, found), 23 (true, missed)
    cs = out["hard_cases"]["cross_script"]
    assert (cs["tp"], cs["true_pairs"], cs["predicted_pairs"]) == (1, 2, 1)
    # group pairs: G1 12 13 23 (true), G2 45 (true) 46 56 (false merges)
    gm = out["hard_cases"]["group_members"]
    assert gm["false_merges"] == 2 and gm["true_pairs"] == 4
    # pairs with a changed record: true 12 23 45, predicted 12 45 56
    ch = out["hard_cases"]["changed"]
    assert (ch["tp"], ch["true_pairs"], ch["predicted_pairs"], ch["false_merges"]) == (2, 3, 3, 1)
    flat = evaluation.flatten_metrics(out)
    assert flat["gt_pairwise_f1"] == pytest.approx(0.5) and flat["gt_group_members_false_merges"] == 2
    con.close()


def test_prf_handles_empty_sets():
    assert evaluation.prf(0, 0, 0) == {"precision": None, "recall": None, "f1": None}
    assert evaluation.prf(0, 3, 2)["f1"] == 0.0


def test_reviewed_match_links_across_uscc_but_not_across_non_match():
    edges = [clusters.Edge("A", "B", 3, 1.0, 0.0), clusters.Edge("B", "C", 3, 1.0, 0.0)]
    values = {"A": {"uscc": "U1"}, "B": {"uscc": "U2"}}
    rep, rejected = clusters.split_conflicting(list("ABC"), edges, values, {("A", "C")})
    assert rep["A"] == rep["B"] and rep["C"] == "C"
    assert [r for _, r in rejected] == ["labelled non_match"]


# ------------------------------------------------------------------ training helpers


def test_clamp_weights_bounds_extreme_levels_but_not_fixed_ones():
    import math

    from workbench.core.linkage.training import clamp_weights

    model = {
        "comparisons": [
            {
                "output_column_name": "city",
                "comparison_levels": [
                    {"is_null_level": True, "sql_condition": "city_l IS NULL"},
                    {"label_for_charts": "same", "m_probability": 0.9, "u_probability": 1e-9},
                    {"label_for_charts": "else", "m_probability": 1e-60, "u_probability": 0.9},
                    {
                        "label_for_charts": "fixed",
                        "m_probability": 1e-9,
                        "u_probability": 0.9,
                        "fix_m_probability": True,
                    },
                    {"label_for_charts": "ok", "m_probability": 0.1, "u_probability": 0.05},
                ],
            }
        ]
    }
    out, changed = clamp_weights(model, 15)
    levels = out["comparisons"][0]["comparison_levels"]
    weights = [math.log2(lv["m_probability"] / lv["u_probability"]) for lv in levels[1:]]
    assert weights[0] == pytest.approx(15) and weights[1] == pytest.approx(-15)
    assert levels[3]["m_probability"] == 1e-9 and levels[4] == model["comparisons"][0]["comparison_levels"][4]
    assert len(changed) == 2 and "city: else" in changed[1]
    assert model["comparisons"][0]["comparison_levels"][2]["m_probability"] == 1e-60  # input untouched


def test_bounded_parameter_moves_m_or_u_to_the_bound():
    import math

    from workbench.core.linkage.training import bounded_parameter

    assert bounded_parameter(0.5, 0.25, 15) is None  # 1 bit: within the bound
    parameter, value, weight, bound = bounded_parameter(1e-60, 0.9, 15)
    assert parameter == "m_probability" and bound == -15 and weight < -15
    assert math.log2(value / 0.9) == pytest.approx(-15)
    parameter, value, _, bound = bounded_parameter(0.9, 1e-9, 15)
    assert parameter == "m_probability" and bound == 15
    assert math.log2(value / 1e-9) == pytest.approx(15)
    # where m = u·2^15 would be above 1, u is raised instead
    parameter, value, _, _ = bounded_parameter(2.0, 5e-5, 15)
    assert parameter == "u_probability" and math.log2(2.0 / value) == pytest.approx(15)


def test_em_rules_use_specific_keys_names_and_phones_first():
    from workbench.core.linkage.blocking import BlockingChoice, BlockingKey
    from workbench.core.linkage.training import choose_em_rules, choose_prior_rules

    def choice(name, field, kind, pairs):
        return BlockingChoice((BlockingKey(name, field, "{t}" + name, kind=kind),), pairs, True)

    choices = [
        choice("postcode", "postcode", "postcode", 90_000),
        choice("name_core", "name", "company_name", 4_000),
        choice("name_pin", "name", "company_name", 5_000),
        choice("mobile", "mobile", "phone", 3_000),
        choice("email", "email", "email", 10),  # too few pairs to train on
    ]
    rules = choose_em_rules(choices, passes=3)
    # each field's most specific key (name_core, not the coarser name_pin); names and phones first
    assert rules == ["l.name_core = r.name_core", "l.mobile = r.mobile", "l.postcode = r.postcode"]
    prior = choose_prior_rules(choices)
    assert "l.email = r.email AND l.mobile = r.mobile" in prior  # pairs of the most selective keys


def test_oversized_cluster_is_broken_by_raising_the_model_threshold():
    # two true pairs (p 0.9999) chained by weak links (p 0.95), plus a deterministic link that stays
    edges = [
        clusters.Edge("a1", "a2", 1, 0.9999, 20.0),
        clusters.Edge("b1", "b2", 1, 0.9999, 20.0),
        clusters.Edge("a2", "b1", 1, 0.95, 5.0),
        clusters.Edge("b2", "c1", 1, 0.95, 5.0),
        clusters.Edge("c1", "c2", 2, 1.0, 0.0),
    ]
    members = ["a1", "a2", "b1", "b2", "c1", "c2"]
    rep, dropped, used = clusters.split_oversized(members, edges, max_size=2, thresholds=(0.99, 0.999))
    assert used == 0.99
    assert rep == {"a1": "a1", "a2": "a1", "b1": "b1", "b2": "b1", "c1": "c1", "c2": "c1"}
    assert sorted((e.left, e.right) for e, _ in dropped) == [("a2", "b1"), ("b2", "c1")]
    # small enough: untouched
    assert clusters.split_oversized(members[:2], edges[:1], max_size=2, thresholds=(0.99,))[2] is None
