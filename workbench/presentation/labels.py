"""What business calls things: field labels from the config, identifiers replaced by them in texts.

This module owns the business name of a canonical field (its column header in the project's
sources: ``客户名称`` for ``customer_name`` in a Chinese project) and :func:`humanize`, which puts
those names in place of the identifiers in texts written by analysts (rule descriptions, legends).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.project.config import ProjectConfig


def field_label_map(config: ProjectConfig) -> dict[str, str]:
    """canonical field → its column header (customer sources first, then the others)."""
    labels: dict[str, str] = {}
    customers = list(config.customer_sources)
    others = [s for s in config.sources if s not in customers]
    for s in [*customers, *others]:
        for header, spec in s.columns.items():
            labels.setdefault(spec.field, header)
    return labels


def humanize(text: str, labels: Mapping[str, str], *, identifiers_only: bool = False) -> str:
    """`text` with each canonical field name (a whole word) replaced by its label.

    Args:
        text: e.g. a rule's description written by an analyst (``email 是电子邮箱格式``).
        labels: field → label (:func:`field_label_map`).
        identifiers_only: replace only names that cannot be a word of the text's language
            (``customer_id``, not ``phone``): for English texts, where ``phone number`` is prose.
    """
    names = sorted(
        (f for f in labels if labels[f] != f and (not identifiers_only or "_" in f)), key=len, reverse=True
    )
    if not text or not names:
        return text
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(re.escape(n) for n in names) + r")(?![A-Za-z0-9_])")
    return pattern.sub(lambda m: labels[m.group(1)], text)


def label_of(name: str, labels: Mapping[str, str]) -> str:
    """The label of a field or of one of its extras (``mobile_e164`` → ``手机 (e164)``)."""
    if name in labels:
        return labels[name]
    for field in sorted(labels, key=len, reverse=True):
        if name.startswith(field + "_"):
            return f"{labels[field]} ({name[len(field) + 1:]})"
    return name


KIND_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "id": "编号", "company_name": "公司名称", "person_name": "人名", "customer_name": "客户名称",
        "phone": "电话", "email": "邮箱", "address": "地址", "province": "省份", "city": "城市",
        "district": "区县", "postcode": "邮编", "country": "国家", "tax_id": "税号", "person_id": "证件号",
        "date": "日期", "amount": "金额", "number": "数值", "status": "状态", "code": "代码", "flag": "是/否标志",
        "url": "网址", "text": "文本",
    },
    "en": {
        "id": "ID", "company_name": "company name", "person_name": "person name", "customer_name": "customer name",
        "phone": "phone", "email": "e-mail", "address": "address", "province": "province", "city": "city",
        "district": "district", "postcode": "postcode", "country": "country", "tax_id": "tax ID",
        "person_id": "personal ID", "date": "date", "amount": "amount", "number": "number", "status": "status",
        "code": "code", "flag": "yes/no flag", "url": "URL", "text": "text",
    },
}
TYPE_LABELS: dict[str, dict[str, str]] = {
    "zh": {"text": "文本", "integer": "整数", "decimal": "小数", "date": "日期", "empty": "全空"},
    "en": {"text": "text", "integer": "integer", "decimal": "decimal", "date": "date", "empty": "empty"},
}


def kind_label(kind: object, language: str) -> str:
    """A field kind as business reads it (``tax_id`` → ``税号``)."""
    text = "" if kind is None or kind != kind else str(kind)
    return KIND_LABELS.get(language, KIND_LABELS["en"]).get(text, text)
