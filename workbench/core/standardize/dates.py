"""Dates in several input formats → ISO dates.

The formats of ``standardize.date_formats`` are tried in order, vectorised with pandas (each
format over all values not yet read), then Excel serial day numbers (``44197`` → 2021-01-01) and
day/month orders written with slashes (``05/03/2021``, read day first unless ``day_first`` is false;
the pipeline sets it per source from ``sources[].day_first`` or the source's region).
A date before ``min_date`` or after the reference date plus one year is invalid
(``out_of_range``). The rule of a change names the format it was read with (``date_format``), so
the change log tells which layouts the source used.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from workbench.core.standardize.base import empty_result, finish_result, is_blank, nfkc
from workbench.project.settings.standardize import StandardizeSettings

EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def standardize_dates(
    values: pd.Series,
    *,
    settings: StandardizeSettings | None = None,
    reference_date: dt.date | None = None,
) -> pd.DataFrame:
    """Standardize date cells.

    Args:
        values: distinct raw dates.
        settings: the `standardize:` settings (formats, day first, minimum date).
        reference_date: dates more than a year after it are invalid; ``None`` skips that check.

    Returns:
        The result frame; ``value`` holds ``datetime.date`` objects.
    """
    settings = settings or StandardizeSettings()
    out = empty_result(values)
    blank = values.map(is_blank)
    text = values.where(~blank, None).map(lambda v: None if v is None else nfkc(str(v)).strip())
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    how = pd.Series(None, index=values.index, dtype=object)
    todo = text.notna()
    formats = list(settings.date_formats)
    day_first = settings.day_first is not False  # unset (no region known here): day first
    slash = ["%d/%m/%Y", "%m/%d/%Y"] if day_first else ["%m/%d/%Y", "%d/%m/%Y"]
    for fmt in [*formats, *slash, "%d/%m/%y" if day_first else "%m/%d/%y"]:
        if not todo.any():
            break
        got = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        ok = got.notna()
        idx = got.index[ok]
        parsed.loc[idx] = got[ok]
        how.loc[idx] = fmt
        todo.loc[idx] = False
    if todo.any():
        # Excel serial day numbers (a date cell exported as a number)
        numbers = pd.to_numeric(text[todo], errors="coerce")
        ok = numbers.notna() & numbers.between(1, 80000) & (numbers == numbers.round())
        idx = numbers.index[ok]
        parsed.loc[idx] = EXCEL_EPOCH + pd.to_timedelta(numbers[ok].astype("int64"), unit="D")
        how.loc[idx] = "excel_serial"
        todo.loc[idx] = False
    low = pd.Timestamp(settings.min_date)
    high = pd.Timestamp(reference_date) + pd.DateOffset(years=1) if reference_date else pd.Timestamp.max
    in_range = parsed.notna() & (parsed >= low) & (parsed <= high)
    out_of_range = parsed.notna() & ~in_range
    iso = parsed.dt.strftime("%Y-%m-%d")
    out["value"] = [d.date() if ok else None for d, ok in zip(parsed, in_range, strict=True)]
    out["valid"] = [None if b else bool(ok) for b, ok in zip(blank, in_range, strict=True)]
    issue = pd.Series(None, index=values.index, dtype=object)
    issue[out_of_range] = "out_of_range"
    issue[text.notna() & parsed.isna()] = "unparsed_date"
    out["issue"] = issue
    unchanged = in_range & (iso == text) & (text == values)
    # an ISO timestamp is a valid date as it stands; taking its date is logged but not a defect
    iso_stamp = in_range & text.str.match(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", na=False)
    midnight = iso_stamp & text.str.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]00:00(:00(\.0+)?)?", na=False)
    unchanged = unchanged | midnight
    rule = pd.Series(None, index=values.index, dtype=object)
    changed = in_range & ~unchanged
    rule[changed] = "date_format:" + how[changed].astype(str)
    rule[out["issue"].notna()] = "reject_" + out["issue"][out["issue"].notna()]
    out["rule"] = rule
    out["valid_before"] = (unchanged | iso_stamp).astype(object)
    out = out.astype(object).where(out.notna(), None)
    return finish_result(out, values, compare_text=False)
