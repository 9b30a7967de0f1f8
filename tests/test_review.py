"""Clerical review: labels file (atomic append, newest wins), review items, the headless widget."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from workbench.core.linkage.review_queue import (
    LABEL_COLUMNS,
    ReviewLabelsError,
    load_review_items,
    read_decisions,
    save_decision,
)
from workbench.engine.connection import connect
from workbench.project.config import parse_config
from workbench.project.paths import ProjectPaths

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def make_config(tmp_path: Path):
    cols = {
        "ID": {"field": "customer_id", "kind": "id"},
        "NAME": {"field": "customer_name", "kind": "customer_name"},
        "MOBILE": {"field": "mobile", "kind": "phone"},
        "EMAIL": {"field": "email", "kind": "email"},
    }
    raw = {
        "project": {"name": "t", "language": "en"},
        "sources": [
            {"name": s, "path": f"{s}.csv", "id_column": "ID", "columns": cols} for s in ("erp", "crm")
        ],
    }
    return parse_config(raw, tmp_path / "workbench.yaml", check_files=False)


def make_db(con) -> None:
    std = pd.DataFrame(
        [
            # record_key, source, id, name raw, name std, mobile raw, mobile std, email
            (
                "erp:2",
                "erp",
                "C1",
                "上海华瑞科技有限公司",
                "上海华瑞科技有限公司",
                "138-0013-8000",
                "+8613800138000",
                None,
            ),
            (
                "crm:2",
                "crm",
                "A1",
                "Shanghai Huarui Technology Co., Ltd.",
                "Shanghai Huarui Technology Co., Ltd.",
                "+86 138 0013 8000",
                "+8613800138000",
                "a@huarui.cn",
            ),
            ("erp:3", "erp", "C2", "华瑞电子", "华瑞电子", "13912345678", "+8613912345678", None),
            ("crm:3", "crm", "A2", "华瑞电子", "华瑞电子", "13700000000", "+8613700000000", None),
            ("erp:4", "erp", "C3", "甲", "甲", None, None, None),
            ("crm:4", "crm", "A3", "甲", "甲", None, None, None),
        ],
        columns=[
            "record_key",
            "_source",
            "source_id",
            "customer_name_raw",
            "customer_name",
            "mobile_raw",
            "mobile",
            "email",
        ],
    )
    std["email_raw"] = std["email"]
    std["_row_number"] = [int(k.split(":")[1]) for k in std["record_key"]]
    std["_row_hash"] = [f"h{k}" for k in std["record_key"]]
    std["customer_id_raw"] = std["source_id"]
    std["customer_id"] = std["source_id"]
    std["record_status"] = "active"
    con.register("std_df", std)
    con.execute("CREATE TABLE std_customers AS SELECT * FROM std_df")
    queue = pd.DataFrame(
        [
            (1, "pair", "erp:2", "crm:2", None, 0.62, 1.3, "model"),
            (2, "pair", "crm:3", "erp:3", None, 0.41, -0.5, "model"),
            (3, "cluster", None, None, "M7", None, None, "two valid USCCs"),
        ],
        columns=[
            "item_id",
            "kind",
            "record_key_l",
            "record_key_r",
            "cluster_id",
            "match_probability",
            "match_weight",
            "reason",
        ],
    )
    con.register("q_df", queue)
    con.execute("CREATE TABLE review_queue AS SELECT * FROM q_df")
    con.execute(
        "CREATE TABLE crosswalk AS SELECT * FROM (VALUES ('erp','C3','erp:4','M7',1.0,'model'), "
        "('crm','A3','crm:4','M7',1.0,'model')) t(source, source_id, record_key, master_id, match_probability, "
        "match_reason)"
    )


class FakeRun:
    """The bits of a RunContext the review needs, over one in-memory connection."""

    def __init__(self, con, config):
        self.con, self.config = con, config

    def connect(self, read_only: bool = False):
        return self.con.cursor()


@pytest.fixture
def con():
    c = connect()
    make_db(c)
    yield c
    c.close()


def test_save_decision_orders_the_pair_and_appends(tmp_path):
    path = tmp_path / "labels.csv"
    save_decision(path, "erp:9", "crm:1", "match", "wl", "same mobile", decided_at=T0)
    save_decision(path, "crm:1", "erp:9", "non_match", "zz", decided_at=T0 + dt.timedelta(minutes=1))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(LABEL_COLUMNS)
    assert lines[1].startswith("crm:1,erp:9,match,wl,2026-11-01T09:00:00.000000+00:00,same mobile")
    assert len(lines) == 3
    newest = read_decisions(path)
    assert newest[["record_key_l", "record_key_r", "label", "reviewer"]].values.tolist() == [
        ["crm:1", "erp:9", "non_match", "zz"]
    ]
    assert len(read_decisions(path, newest_only=False)) == 2


def test_newest_decision_wins_by_time_not_by_line(tmp_path):
    path = tmp_path / "labels.csv"
    save_decision(path, "a:1", "b:1", "non_match", "wl", decided_at=T0 + dt.timedelta(hours=1))
    save_decision(path, "a:1", "b:1", "match", "wl", decided_at=T0)  # older, written later
    assert read_decisions(path)["label"].tolist() == ["non_match"]


def test_save_decision_refuses_bad_input(tmp_path):
    path = tmp_path / "labels.csv"
    with pytest.raises(ReviewLabelsError, match="'maybe' is not allowed"):
        save_decision(path, "a:1", "b:1", "maybe", "wl")
    with pytest.raises(ReviewLabelsError, match="two different records"):
        save_decision(path, "a:1", "a:1", "match", "wl")
    with pytest.raises(ReviewLabelsError, match="reviewer is empty"):
        save_decision(path, "a:1", "b:1", "match", " ")
    assert not path.exists()
    path.write_text("id,verdict\n1,yes\n", encoding="utf-8")
    with pytest.raises(ReviewLabelsError, match="not the labels header"):
        save_decision(path, "a:1", "b:1", "match", "wl")


def test_read_decisions_names_the_bad_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        ",".join(LABEL_COLUMNS)
        + "\na:1,b:1,match,wl,2026-11-01T09:00:00,,,\na:1,b:2,yes,wl,2026-11-01T09:00:00,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ReviewLabelsError, match=r"line 3, column label: 'yes'"):
        read_decisions(path)
    path.write_text(",".join(LABEL_COLUMNS) + "\na:1,b:1,match,wl,yesterday,,,\n", encoding="utf-8")
    with pytest.raises(ReviewLabelsError, match=r"line 2, column decided_at: 'yesterday'"):
        read_decisions(path)


def test_labels_path_defaults_beside_the_config(tmp_path):
    assert ProjectPaths(make_config(tmp_path)).review_labels == tmp_path / "review_labels.csv"


def test_review_items_side_by_side(con, tmp_path):
    config = make_config(tmp_path)
    save_decision(tmp_path / "review_labels.csv", "erp:3", "crm:3", "non_match", "wl", decided_at=T0)
    session = load_review_items(con, config)
    assert [i.item_id for i in session.items] == ["1", "2", "3.1"]
    first = session.items[0]
    cmp = first.comparison.set_index("field")
    # same number written two ways is not a difference; the names differ; only one has an e-mail
    assert cmp.loc["mobile", "status"] == "same"
    assert cmp.loc["mobile", "left"] == "138-0013-8000" and cmp.loc["mobile", "right"] == "+86 138 0013 8000"
    assert cmp.loc["customer_name", "status"] == "different"
    assert cmp.loc["email", "status"] == "one_missing"
    assert first.differing_fields == ["customer_id", "customer_name"]
    assert session.items[1].decision == "non_match"
    # the cluster item without a pair is shown as its members
    assert (session.items[2].record_key_l, session.items[2].record_key_r) == ("crm:4", "erp:4")
    pending = load_review_items(con, config, pending_only=True)
    assert [i.item_id for i in pending.items] == ["1", "3.1"]


def test_widget_saves_clicks_and_keys(con, tmp_path):
    from workbench.presentation.widgets.review import review_widget

    run = FakeRun(con, make_config(tmp_path))
    w = review_widget(run, reviewer="wl")
    labels = tmp_path / "review_labels.csv"
    assert "Pair 1 of 3" in w.progress.value
    assert "0.620" in w.header.value  # scores shown when not blind
    assert "data-status='different'" in w.table.value and "Shanghai Huarui" in w.table.value
    w.match_button.click()
    assert w.index == 1
    w.key_box.value = "n"  # keyboard: n = non-match
    assert w.key_box.value == ""
    w.back_button.click()
    assert w.index == 1
    w.skip_button.click()
    w.non_match_button.click()
    assert w.current is None and "All pairs reviewed" in w.header.value
    assert w.match_button.disabled
    newest = read_decisions(labels).set_index(["record_key_l", "record_key_r"])["label"].to_dict()
    assert newest == {
        ("crm:2", "erp:2"): "match",
        ("crm:3", "erp:3"): "skip",
        ("crm:4", "erp:4"): "non_match",
    }
    assert len(read_decisions(labels, newest_only=False)) == 4
    assert all(b.tabbable for b in (w.match_button, w.non_match_button, w.skip_button, w.back_button))


def test_widget_blind_mode_hides_scores(con, tmp_path):
    from workbench.presentation.widgets.review import review_widget

    w = review_widget(FakeRun(con, make_config(tmp_path)), blind=True, reviewer="wl", language="zh")
    assert "0.620" not in w.header.value and "model" not in w.header.value
    assert "盲审" in w.header.value
    assert w.match_button.description == "匹配 (m)"


def test_widget_reports_a_missing_reviewer(con, tmp_path):
    from workbench.presentation.widgets.review import review_widget

    w = review_widget(FakeRun(con, make_config(tmp_path)), reviewer="")
    w.match_button.click()
    assert w.index == 0 and "reviewer is empty" in w.message.value
    assert not (tmp_path / "review_labels.csv").exists()


def test_widget_opens_beside_a_read_only_connection(tmp_path):
    """The match notebook holds a read-only connection to the run database while it shows the widget."""
    from workbench.presentation.widgets.review import review_widget
    from workbench.project.context import RunContext
    from workbench.project.paths import RunPaths

    paths = RunPaths(tmp_path / "run").ensure()
    writer = connect(paths.warehouse)
    make_db(writer)
    writer.close()
    ctx = RunContext(config=make_config(tmp_path), paths=paths)
    held = ctx.connect(read_only=True)
    try:
        w = review_widget(ctx, reviewer="wl")
        w.match_button.click()
    finally:
        held.close()
    assert read_decisions(tmp_path / "review_labels.csv")["label"].tolist() == ["match"]
