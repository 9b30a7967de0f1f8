"""Text variations the demo plants into source rows: how people really write the same value.

This module owns the pure functions that turn a clean value into a varied one (full-width
characters, legal-form variants, typos, traditional characters, phone formats, e-mail typos,
address formats, date formats, mojibake). Each takes arrays of the rows to vary and the random
draws to use, and returns the new values; the caller decides which rows and records the tag.
Only the varied rows go through Python, so the cost is proportional to the planted defects.
"""

from __future__ import annotations

import functools

import numpy as np

from workbench.demo.rand import choose

FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)} | {0x20: 0x3000}


def to_fullwidth(values: np.ndarray) -> np.ndarray:
    """ASCII letters, digits and punctuation as their full-width forms (A→Ａ, (→（, 8→８)."""
    return np.array([v.translate(FULLWIDTH) for v in values], dtype=object)


@functools.cache
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


def to_traditional(values: np.ndarray) -> np.ndarray:
    """Simplified → traditional Chinese characters (OpenCC)."""
    conv = _s2t()
    return np.array([conv.convert(v) for v in values], dtype=object)


def encodable(values: np.ndarray, encoding: str) -> np.ndarray:
    """True where the value can be written in `encoding`."""
    out = np.ones(values.size, dtype=bool)
    for i, v in enumerate(values):
        try:
            v.encode(encoding)
        except UnicodeEncodeError:
            out[i] = False
    return out


def to_mojibake(values: np.ndarray) -> np.ndarray:
    """UTF-8 bytes read as GB18030 (上海华瑞科技有限公司 → 涓婃捣鍗庣憺绉戞妧鏈夐檺鍏\ue5ec徃).

    Written back as GB18030 the garbage gives the original UTF-8 bytes again, so the file's bytes
    stay valid; '' where the bytes do not decode.
    """
    out = np.full(values.size, "", dtype=object)
    for i, v in enumerate(values):
        raw = v.encode("utf-8")
        try:
            garbled = raw.decode("gb18030")
        except UnicodeDecodeError:
            continue
        if garbled.encode("gb18030") == raw:
            out[i] = garbled
    return out


def make_typo(values: np.ndarray, op: np.ndarray, where_: np.ndarray, *, keep_tail: np.ndarray) -> np.ndarray:
    """One character dropped (op 0), doubled (op 1) or swapped with the next (op 2).

    Args:
        values: the texts.
        op: operation per text (0, 1, 2).
        where_: uniform draws in [0, 1) choosing the position.
        keep_tail: characters at the end never touched (e.g. the legal form).
    """
    out = np.empty(values.size, dtype=object)
    for i, v in enumerate(values):
        span = max(len(v) - int(keep_tail[i]) - 1, 1)
        k = min(int(where_[i] * span), len(v) - 2) if len(v) >= 2 else 0
        if op[i] == 0 or len(v) < 2:
            out[i] = v[:k] + v[k + 1 :]
        elif op[i] == 1:
            out[i] = v[: k + 1] + v[k:]
        else:
            out[i] = v[:k] + v[k + 1] + v[k] + v[k + 2 :] if v[k] != v[k + 1] else v[:k] + v[k + 1 :]
    return out


def replace_once(values: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Replace the first occurrence of `old` by `new`, row by row."""
    return np.array([v.replace(o, n, 1) for v, o, n in zip(values, old, new, strict=True)], dtype=object)


def format_mobile(mobiles: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Chinese mobiles in one of six written forms (style 0–5)."""
    forms = (
        lambda m: f"+86 {m[:3]} {m[3:7]} {m[7:]}",
        lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}",
        lambda m: f"0086-{m}",
        lambda m: f"{m[:3]} {m[3:7]} {m[7:]}",
        lambda m: f"+86{m}",
        lambda m: f"86-{m}",
    )
    return np.array([forms[s % len(forms)](m) for m, s in zip(mobiles, style, strict=True)], dtype=object)


def format_landline(phones: np.ndarray, style: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """Chinese landlines written ``0571-12345678`` in another form (style 0–5), some with extension."""
    out = np.empty(phones.size, dtype=object)
    for i, p in enumerate(phones):
        if "-" not in p or not p.startswith("0"):  # a foreign number: vary the separators
            out[i] = p.replace("+", "00", 1) if style[i] % 2 else p.replace(" ", "-")
            continue
        area, local = p.split("-", 1)
        forms = (
            f"({area}){local[:4]}-{local[4:]}",
            f"{area} {local}",
            f"+86-{area[1:]}-{local}",
            f"({area}){local[:4]}-{local[4:]}转{ext[i]}",
            f"{area}{local}",
            f"{area}-{local}-{ext[i]}",
        )
        out[i] = forms[style[i] % len(forms)]
    return out


def typo_email(emails: np.ndarray, typos: dict[str, list[str]], draw: np.ndarray) -> np.ndarray:
    """A typo in the domain: a known one for free-mail domains, else .com → .con / .cm / .co."""
    out = np.empty(emails.size, dtype=object)
    generic = (".con", ".cm", ".co")
    for i, e in enumerate(emails):
        local, _, domain = e.partition("@")
        if domain in typos:
            options = typos[domain]
            out[i] = f"{local}@{options[int(draw[i] * len(options))]}"
        elif ".com" in domain:
            out[i] = f"{local}@{domain.replace('.com', generic[int(draw[i] * 3)], 1)}"
        else:
            j = 1 + int(draw[i] * max(len(domain) - 4, 1))
            out[i] = f"{local}@{domain[:j]}{domain[j + 1 :]}"  # a dropped letter
    return out


def case_email(emails: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """E-mails in upper case, or with a capitalised local part and an upper-case domain."""
    out = np.empty(emails.size, dtype=object)
    for i, e in enumerate(emails):
        local, _, domain = e.partition("@")
        out[i] = e.upper() if draw[i] < 0.5 else f"{local.capitalize()}@{domain.upper()}"
    return out


def format_dates(days: np.ndarray, style: np.ndarray) -> np.ndarray:
    """Dates (datetime64[D]) written 2021/3/5, 20210305, 2021年3月5日 or 2021.03.05 (style 0–3)."""
    out = np.empty(days.size, dtype=object)
    for i, d in enumerate(days.astype(object)):
        s = style[i] % 4
        if s == 0:
            out[i] = f"{d.year}/{d.month}/{d.day}"
        elif s == 1:
            out[i] = f"{d.year}{d.month:02d}{d.day:02d}"
        elif s == 2:
            out[i] = f"{d.year}年{d.month}月{d.day}日"
        else:
            out[i] = f"{d.year}.{d.month:02d}.{d.day:02d}"
    return out


def vary_address(
    province: np.ndarray, city: np.ndarray, street: np.ndarray, full: np.ndarray, style: np.ndarray
) -> np.ndarray:
    """Chinese addresses without province, without province and city, with 中国 or with spaces."""
    out = np.empty(full.size, dtype=object)
    for i in range(full.size):
        prov, cty, st, f = province[i], city[i], street[i], full[i]
        if not f.startswith(cty) and not f.startswith(prov):  # foreign: drop the country, upper-case
            out[i] = f.rsplit(",", 1)[0] if style[i] % 2 else f.upper()
            continue
        head = cty if prov == cty else prov + cty
        forms = (
            f"{cty}{st}" if prov != cty else f"{cty[:-1]}{st}",
            st,
            f"中国{f}",
            f"{prov} {cty} {st}" if prov != cty else f"{cty} {st}",
            f"{head}{st}".replace("号", "#", 1),
        )
        out[i] = forms[style[i] % len(forms)]
    return out


def vary_street(city: np.ndarray, street: np.ndarray, style: np.ndarray) -> np.ndarray:
    """CRM street lines with the city in front, or a space after the district."""
    out = np.empty(street.size, dtype=object)
    for i, st in enumerate(street):
        if style[i] % 2 == 0:
            out[i] = f"{city[i]}{st}"
        else:
            k = st.find("区")
            out[i] = f"{st[: k + 1]} {st[k + 1 :]}" if 0 < k < len(st) - 1 else st.upper()
    return out


def placeholder_phones(rng: np.random.Generator, options: list[str], size: int) -> np.ndarray:
    """Placeholder values typed instead of a phone number."""
    return choose(rng, options, size)
