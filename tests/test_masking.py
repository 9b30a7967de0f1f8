"""Masking of phones, e-mails, IDs and names in business-facing outputs."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.core.masking import (
    columns_to_mask,
    mask_email,
    mask_frame,
    mask_id,
    mask_person_name,
    mask_phone,
    mask_values_by,
)
from workbench.project.settings.report import MaskingSettings


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+8613800138000", "+86138****8000"),
        ("+86 138 0013 8000", "+86 138 **** 8000"),
        ("138-0013-8000", "138-****-8000"),
        ("13800138000;13912345678", "138****8000;139****5678"),
    ],
)
def test_mask_phone_keeps_shape_and_country_code(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_phone_short_value_still_hides_a_third() -> None:
    out = mask_phone("12345")
    assert out.count("*") >= 2 and len(out) == 5


def test_mask_email_and_id_and_name() -> None:
    assert mask_email("zhangsan@qq.com") == "z*******@qq.com"
    assert mask_email("a@x.cn") == "*@x.cn"
    assert mask_id("91310000MA1FL3XR2B") == "9131**********XR2B"
    assert mask_person_name("张三丰") == "张**"
    assert mask_phone(None) is None and mask_email("") == ""


def test_settings_change_the_mask() -> None:
    s = MaskingSettings(mask_char="#", phone_keep_start=0, phone_keep_end=2)
    assert mask_phone("13800138000", s) == "#########00"


def test_columns_to_mask_covers_kind_extras() -> None:
    kinds = {"mobile": "phone", "email": "email", "uscc": "tax_id", "customer_name": "customer_name"}
    cols = [
        "master_id",
        "mobile",
        "mobile_e164",
        "mobile_all",
        "email",
        "email_local",
        "uscc",
        "customer_name",
    ]
    plan = columns_to_mask(cols, kinds, MaskingSettings())
    assert plan == {
        "mobile": "phone",
        "mobile_e164": "phone",
        "mobile_all": "phone",
        "email": "email",
        "email_local": "email",
        "uscc": "tax_id",
    }


def test_mask_frame_masks_copy_and_respects_switch() -> None:
    df = pd.DataFrame(
        {"master_id": ["M1", "M2"], "mobile": ["13800138000", None], "email": ["ab@qq.com", "x"]}
    )
    kinds = {"mobile": "phone", "email": "email"}
    out = mask_frame(df, kinds, MaskingSettings())
    assert out["mobile"].tolist()[0] == "138****8000" and out["mobile"].isna().tolist()[1]
    assert out["email"].tolist() == ["a*@qq.com", "*"]
    assert df["mobile"].tolist()[0] == "13800138000"  # the input is untouched
    assert mask_frame(df, kinds, MaskingSettings(enabled=False)) is df


def test_mask_values_by_masks_long_form_rows_of_personal_fields() -> None:
    kinds = {"mobile": "phone", "customer_name": "customer_name"}
    long = pd.DataFrame(
        {
            "field": ["mobile", "customer_name", "mobile_raw", None],
            "value": ["13800138000", "华瑞", "13912345678", "x"],
        }
    )
    out = mask_values_by(long, "field", kinds)
    assert out["value"].tolist() == ["138****8000", "华瑞", "139****5678", "x"]
    assert long["value"].iloc[0] == "13800138000"  # a copy
    off = MaskingSettings(enabled=False)
    assert mask_values_by(long, "field", kinds, off) is long
    failures = pd.DataFrame({"column": ["mobile"], "v": ["13800138000"]})
    assert mask_values_by(failures, "column", kinds, value="v")["v"].tolist() == ["138****8000"]
