"""Demo generation speed: source rows/s of `generate_demo` at 10k and ~1M rows, against a naive writer.

"Rows" are the rows of the three legacy customer files (ERP CSV + CRM XLSX + ledger XLSX); about
1.65 per customer, so ``--customers 600000`` gives about a million. The baseline, measured in the
same run, is a plain per-row Python loop (``random`` + f-strings + ``csv``) that writes the same
number of ERP-layout rows to one GBK CSV: no entities, no defects, no Excel, no ground truth. The
ratio shows what the vectorised generator costs on top of merely writing rows.

    .venv/bin/python benchmarks/bench_demo_generate.py                 # 10k and ~1M rows
    .venv/bin/python benchmarks/bench_demo_generate.py --customers 6000 # one size only
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

from workbench.demo import generate_demo
from workbench.demo.rows import ERP_COLUMNS


def write_naive(path: Path, n: int, seed: int = 7) -> None:
    """`n` ERP-layout rows from a per-row Python loop (the baseline)."""
    rnd = random.Random(seed)
    brands, cities = (
        ["华瑞", "东方", "锦江", "宏图", "星辰"],
        ["上海市浦东新区", "北京市朝阳区", "广州市天河区"],
    )
    with path.open("w", encoding="gbk", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(ERP_COLUMNS)
        for i in range(n):
            brand, city = rnd.choice(brands), rnd.choice(cities)
            w.writerow(
                [
                    f"C{i:07d}", f"{city[:2]}{brand}科技有限公司", brand, "01", "0101", str(rnd.randint(1, 5)),
                    f"91310000{rnd.randint(10**9, 10**10 - 1)}", "张伟", f"13{rnd.randint(10**8, 10**9 - 1)}",
                    f"021-{rnd.randint(10**7, 10**8 - 1)}", f"user{i}@example.com",
                    f"{city}人民路{rnd.randint(1, 999)}号", "200000", "正常", "2021-03-05", "否", "N", "",
                ]
            )  # fmt: skip


def run(customers: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        summary = generate_demo(out, customers=customers, seed=seed)
        rows = summary.customer_rows
        size = sum(p.stat().st_size for p in summary.files.values()) / 1e6
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in summary.timings.items())
        print(
            f"generate_demo customers={customers:,}: {rows:,} source rows (+{summary.rows['transactions']:,} "
            f"transactions, {summary.rows['new']:,} new) in {summary.seconds:.1f}s = {rows / summary.seconds:,.0f} "
            f"rows/s; {size:.0f} MB; {phases}"
        )
        t0 = time.perf_counter()
        write_naive(Path(tmp) / "naive.csv", rows)
        naive = time.perf_counter() - t0
        print(
            f"  baseline naive per-row CSV writer, {rows:,} rows: {naive:.1f}s = {rows / naive:,.0f} rows/s "
            f"(generator/baseline time: {summary.seconds / naive:.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, action="append", help="default: 6000 and 600000")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    for customers in args.customers or [6000, 600_000]:
        run(customers, args.seed)


if __name__ == "__main__":
    main()
