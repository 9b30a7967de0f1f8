"""Ingest speed: rows/s of `ingest_source` on a generated GBK CSV, against DuckDB's own CSV reader.

The baseline, measured in the same run on the same file, is DuckDB `read_csv` (all columns VARCHAR)
into a table: the fastest plain load, without line-aware decoding, quarantine or row hashes.

    .venv/bin/python benchmarks/bench_ingest.py --rows 1000000
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from workbench.core.ingest import ingest_source
from workbench.engine.connection import connect
from workbench.project.config import parse_config

HEADERS = [
    "客户编码", "客户名称", "客户简称", "客户类别", "地区编码", "信用等级", "统一社会信用代码", "联系人",
    "手机", "电话", "电子邮箱", "地址", "邮政编码", "状态", "建档日期", "黑名单", "VIP",
]  # fmt: skip
BRANDS = ["华瑞", "东方", "南方", "锦江", "西湖", "钟山", "长城", "黄河", "星辰", "宏图"]
CITIES = ["上海市浦东新区", "北京市朝阳区", "广州市天河区", "成都市锦江区", "杭州市西湖区"]


def write_csv(path: Path, n: int, seed: int = 7) -> None:
    """A GBK export of `n` rows with 17 columns, a quoted field now and then, one bad-byte line."""
    rnd = random.Random(seed)
    with path.open("wb") as fh:
        fh.write((",".join(HEADERS) + "\r\n").encode("gbk"))
        buf = []
        for i in range(n):
            brand = rnd.choice(BRANDS)
            city = rnd.choice(CITIES)
            name = f"{city[:2]}{brand}科技有限公司"
            address = (
                f'"{city}建设路{rnd.randint(1, 999)}号, {rnd.randint(1, 30)}楼"'
                if i % 7 == 0
                else f"{city}人民路{i % 500}号"
            )
            cells = [
                f"C{i:07d}", name, brand, f"0{rnd.randint(1, 9)}", str(rnd.randint(110000, 659000)),
                str(rnd.randint(1, 5)), f"91310000{rnd.randint(10**9, 10**10 - 1)}", "张伟",
                f"13{rnd.randint(100000000, 999999999)}", f"021-{rnd.randint(1000000, 9999999)}",
                f"user{i}@example.com", address, str(rnd.randint(100000, 999999)), "正常",
                f"20{rnd.randint(10, 25)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}", "否", "N",
            ]  # fmt: skip
            buf.append(",".join(cells))
            if len(buf) == 50_000:
                fh.write(("\r\n".join(buf) + "\r\n").encode("gbk"))
                buf = []
        if buf:
            fh.write(("\r\n".join(buf) + "\r\n").encode("gbk"))
        fh.write("C9999999,坏字节".encode("gbk") + b"\xff" + b",x" * 15 + b"\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        path = tmp_path / "erp.csv"
        t0 = time.perf_counter()
        write_csv(path, args.rows)
        print(
            f"generated {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f}s"
        )
        raw = {
            "project": {"name": "bench"},
            "sources": [
                {
                    "name": "erp",
                    "path": "erp.csv",
                    "id_column": "客户编码",
                    "columns": {
                        "客户编码": {"field": "customer_id", "kind": "id"},
                        "客户名称": "customer_name",
                    },
                }
            ],
        }
        config = parse_config(raw, tmp_path / "workbench.yaml")
        con = connect(tmp_path / "bench.duckdb")

        t0 = time.perf_counter()
        result = ingest_source(config, "erp", con)
        ours = time.perf_counter() - t0
        print(
            f"ingest_source: {result.file_rows:,} rows ({result.staged_rows:,} staged, "
            f"{result.quarantined_rows:,} quarantined, encoding {result.encoding}) in {ours:.1f}s "
            f"= {result.file_rows / ours:,.0f} rows/s"
        )

        # baseline: DuckDB's CSV reader on a UTF-8 copy (it does not read GBK without an extension)
        utf8 = tmp_path / "erp_utf8.csv"
        utf8.write_bytes(path.read_bytes().decode("gb18030", errors="replace").encode("utf-8"))
        t0 = time.perf_counter()
        con.execute(
            "create or replace table baseline as select * from read_csv(?, all_varchar = true, "
            "header = true, ignore_errors = true)",
            [str(utf8)],
        )
        base = time.perf_counter() - t0
        n = con.execute("select count(*) from baseline").fetchall()[0][0]
        print(f"baseline duckdb read_csv (utf-8 copy): {n:,} rows in {base:.1f}s = {n / base:,.0f} rows/s")
        print(f"ratio ingest / baseline: {ours / base:.1f}x")
        con.close()


if __name__ == "__main__":
    main()
