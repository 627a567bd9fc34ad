"""A workspace with planted duplicates and decoys, for `dpsql overlap`."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_files

READINGS_CSV = """\
meter_id,region,kwh,ts,status
1,north,120.5,2024-01-01 10:00:00,ok
2,south,8.0,2024-01-02 11:00:00,ok
3,north,55.0,2024-02-03 12:00:00,bad
"""
METERS_CSV = """\
meter_id,tariff
1,0.25
2,0.30
"""


def _product(name: str, domain: str, inputs: str, outputs: str) -> str:
    return (f"name: {name}\ndomain: {domain}\nowner: {name}@example.com\n"
            f"description: The {name} product.\nversion: 1.0.0\n"
            f"inputs:\n{inputs}outputs:\n{outputs}")


def _port(name: str) -> str:
    return f"  - name: {name}\n    model: {name}\n"


def _reads(*ports: str) -> str:
    return "".join(f"  - name: {p.split('.')[1]}\n    product: {p.split('.')[0]}\n"
                   f"    port: {p.split('.')[1]}\n" for p in ports)


MODELS: dict[str, str] = {
    # the sources, and a plain re-publish of one of them
    "readings/models/readings.sql": "select meter_id::bigint as meter_id, region, kwh::double as kwh,"
                                    " ts::date as day, status from {{ input('raw') }}",
    "meters/models/meters.sql": "select meter_id::bigint as meter_id, tariff::double as tariff "
                                "from {{ input('raw') }}",
    "mirror/models/readings_copy.sql": "select * from readings.readings",
    # A) an exact copy
    "billing/models/peaks.sql": "select region, max(kwh) as peak from readings.readings "
                                "group by region\n",
    "grid/models/peaks_copy.sql": "select region, max(kwh) as peak from readings.readings "
                                  "group by region\n",
    # B) aliases, formatting, column order and join order rewritten
    "billing/models/costed.sql": """
        select r.meter_id, r.kwh * m.tariff as cost
        from readings.readings r
        join meters.meters m on r.meter_id = m.meter_id
        where r.kwh > 0 and r.status = 'ok'
        """,
    "grid/models/cost_view.sql": """
        -- the same, written differently
        SELECT  M.tariff*R.kwh  AS price,
                R.meter_id AS meter
        FROM meters.meters AS M
        INNER JOIN readings.readings AS R ON M.meter_id = R.meter_id
        WHERE R.status = 'ok'
          AND R.kwh > 0
        """,
    # C) the same aggregation over the port and over a re-published copy of it
    "billing/models/usage_daily.sql": """
        select meter_id, day, sum(kwh) as kwh
        from readings.readings
        where status = 'ok'
        group by meter_id, day
        """,
    "grid/models/daily_load.sql": """
        select c.day as d, c.meter_id as m, sum(c.kwh) as total
        from mirror.readings_copy as c
        where not c.status <> 'ok'
        group by c.day, c.meter_id
        """,
    # D) a CTE that duplicates another product's model
    "billing/models/monthly.sql": """
        select meter_id, date_trunc('month', day) as month, count(*) as n
        from readings.readings
        group by meter_id, date_trunc('month', day)
        """,
    "grid/models/busiest.sql": """
        with per_month as (
            select meter_id, date_trunc('month', day) as month, count(1) as n
            from readings.readings
            group by meter_id, date_trunc('month', day)
        )
        select meter_id, max(n) as busiest from per_month group by meter_id
        """,
    # E) one shared CASE expression in otherwise different models
    "billing/models/tiers.sql": """
        select meter_id,
               case when kwh >= 100 then 'high' when kwh >= 10 then 'mid' else 'low' end as tier
        from readings.readings
        """,
    "grid/models/bands.sql": """
        select meter_id, day,
               case when kwh >= 100 then 'high' when kwh >= 10 then 'mid' else 'low' end as band
        from readings.readings
        where status = 'ok'
        """,
    # decoys: each pair differs in one thing
    "ops/models/big_a.sql": "select meter_id, sum(kwh) as kwh from readings.readings "
                            "where kwh > 50 group by meter_id",
    "ops/models/big_b.sql": "select meter_id, sum(kwh) as kwh from readings.readings "
                            "where kwh > 60 group by meter_id",
    "ops/models/region_sum.sql": "select region, sum(kwh) as v from readings.readings "
                                 "group by region",
    "ops/models/region_avg.sql": "select region, avg(kwh) as v from readings.readings "
                                 "group by region",
    "ops/models/count_by_meter.sql": "select region, count(*) as n from readings.readings "
                                     "group by region, meter_id",
    "ops/models/count_by_day.sql": "select region, count(*) as n from readings.readings "
                                   "group by region, day",
    "ops/models/left_tariff.sql": "select r.meter_id, r.kwh, m.tariff from readings.readings r "
                                  "left join meters.meters m on r.meter_id = m.meter_id",
    "ops/models/inner_tariff.sql": "select r.meter_id, r.kwh, m.tariff from readings.readings r "
                                   "inner join meters.meters m on r.meter_id = m.meter_id",
}

DECOYS = [("big_a", "big_b"), ("region_sum", "region_avg"), ("count_by_meter", "count_by_day"),
          ("left_tariff", "inner_tariff")]


def planted(root: Path) -> Path:
    files = {
        "dpsql.yml": "name: planted\nwarehouse: warehouse.duckdb\n",
        "data/readings.csv": READINGS_CSV,
        "data/meters.csv": METERS_CSV,
        "readings/product.yml": _product("readings", "energy",
                                         "  - name: raw\n    file: ../data/readings.csv\n",
                                         _port("readings")),
        "meters/product.yml": _product("meters", "energy",
                                       "  - name: raw\n    file: ../data/meters.csv\n",
                                       _port("meters")),
        "mirror/product.yml": _product("mirror", "energy", _reads("readings.readings"),
                                       _port("readings_copy")),
        "billing/product.yml": _product("billing", "finance",
                                        _reads("readings.readings", "meters.meters"),
                                        _port("usage_daily")),
        "grid/product.yml": _product("grid", "grid",
                                     _reads("readings.readings", "meters.meters",
                                            "mirror.readings_copy"), _port("daily_load")),
        "ops/product.yml": _product("ops", "ops",
                                    _reads("readings.readings", "meters.meters"), _port("big_a")),
        **MODELS,
    }
    return write_files(root, files)
