"""SQL bodies of the mesh's models, written once and resolved per layout.

Every model produces a fixed schema (the event stream or the per-entity summary) so that the
mesh can be chained without bookkeeping, yet the SQL is varied: CTEs, joins, window functions,
aggregates and CASE. No model multiplies or drops rows, so every table holds about as many
rows as a raw file whatever the depth of the product graph.
"""

from __future__ import annotations

from typing import Protocol

from dpsql.bench.spec import EVENT_COLUMNS, InputSpec, ModelSpec, ProductSpec


class Resolver(Protocol):
    """Turns a reference into the text a layout writes (Jinja call or relation name)."""

    def ref(self, product: ProductSpec, model: str) -> str: ...

    def input(self, product: ProductSpec, inp: InputSpec) -> str: ...


_EVENT_NAMES = [c.name for c in EVENT_COLUMNS]


def _select_list(exprs: dict[str, str], extra: str) -> str:
    """The event columns in order; `exprs` overrides some of them."""
    items = [exprs.get(name, name) + ("" if name not in exprs else f" as {name}") for name in _EVENT_NAMES]
    if extra:
        items.append(extra)
    return ",\n    ".join(items)


def _extra(edit: int) -> str:
    return f"{edit} as bench_edit" if edit else ""


def _stg_file(src: str, edit: int) -> str:
    extra = f",\n        {_extra(edit)}" if edit else ""
    return f"""with source as (
    select * from {src}
),

renamed as (
    select
        cast(id as bigint) as event_id,
        cast(entity_id as bigint) as entity_id,
        lower(trim(category)) as category,
        case
            when status in ('placed', 'shipped', 'returned') then status
            else 'other'
        end as status,
        cast(event_ts as date) as event_date,
        cast(amount as decimal(18, 2)) as amount,
        cast(quantity as integer) as quantity,
        cast(amount as double) * quantity / 100.0 as score{extra}
    from source
    where id is not null
)

select * from renamed
"""


def _stg_port(src: str, seed: int, edit: int) -> str:
    cols = _select_list(
        {
            "status": "case when status = 'other' then 'unknown' else status end",
            "score": f"round(score * 0.5 + {seed % 7}, 4)",
        },
        _extra(edit),
    )
    return f"""with upstream as (
    select * from {src}
    where event_date is not null
)

select
    {cols}
from upstream
"""


def _secondary_cte(src: str, inp: InputSpec) -> str:
    if inp.kind == "file":
        return f"""secondary as (
    select
        cast(entity_id as bigint) as entity_id,
        avg(cast(amount as double)) as metric,
        count(*) as n
    from {src}
    group by 1
)"""
    return f"""secondary as (
    select entity_id, avg_score as metric, n_events as n
    from {src}
)"""


def _enrich(prev: str, sec: str, inp: InputSpec, edit: int) -> str:
    cols = _select_list(
        {
            "score": "score * 0.5 + coalesce(metric, 0) / 100.0 + coalesce(secondary_n, 0) / 1000.0",
        },
        _extra(edit),
    )
    return f"""with {_secondary_cte(sec, inp)},

enriched as (
    select p.*, s.metric, s.n as secondary_n
    from {prev} as p
    left join secondary as s on p.entity_id = s.entity_id
)

select
    {cols}
from enriched
"""


def _dedup(prev: str, edit: int) -> str:
    return f"""with ranked as (
    select
        *,
        row_number() over (
            partition by event_id
            order by event_date desc, amount desc
        ) as rn
    from {prev}
)

select
    {_select_list({}, _extra(edit))}
from ranked
where rn = 1
"""


def _running(prev: str, edit: int) -> str:
    cols = _select_list(
        {
            "score": (
                "cast(score * 0.5 + (running_amount / entity_events) / 1000.0"
                " + coalesce(amount - prev_amount, 0) / 10000.0 as double)"
            )
        },
        _extra(edit),
    )
    return f"""with windowed as (
    select
        *,
        sum(amount) over (
            partition by entity_id
            order by event_date, event_id
            rows between unbounded preceding and current row
        ) as running_amount,
        lag(amount) over (partition by entity_id order by event_date, event_id) as prev_amount,
        count(*) over (partition by entity_id) as entity_events
    from {prev}
)

select
    {cols}
from windowed
"""


def _tiers(prev: str, edit: int) -> str:
    cols = _select_list(
        {
            "category": "case when tier = 'premium' and size_class = 'bulk' then 'vip' else category end",
            "score": (
                "case tier when 'premium' then score * 0.6 when 'standard' then score * 0.5"
                " else score * 0.4 end + 1"
            ),
        },
        _extra(edit),
    )
    return f"""with tiered as (
    select
        *,
        case
            when amount >= 750 then 'premium'
            when amount >= 250 then 'standard'
            else 'basic'
        end as tier,
        case when quantity > 10 then 'bulk' else 'single' end as size_class
    from {prev}
)

select
    {cols}
from tiered
"""


def _entity(prev: str, base: str, edit: int) -> str:
    cols = _select_list(
        {
            "status": "case when event_date = last_date then 'latest' else status end",
            "score": (
                "cast(score * 0.5 + coalesce(cast(amount as double) / nullif(avg_amount, 0), 0)"
                " + coalesce(n_categories, 0) as double)"
            ),
        },
        _extra(edit),
    )
    return f"""with entity_stats as (
    select
        entity_id,
        avg(amount) as avg_amount,
        max(event_date) as last_date,
        count(distinct category) as n_categories
    from {base}
    group by entity_id
),

joined as (
    select p.*, s.avg_amount, s.last_date, s.n_categories
    from {prev} as p
    left join entity_stats as s on p.entity_id = s.entity_id
)

select
    {cols}
from joined
"""


def _rank(prev: str, edit: int) -> str:
    cols = _select_list(
        {
            "status": "case when amount_rank <= 10 then 'top' else status end",
            "score": "score * 0.5 + score_quartile",
        },
        _extra(edit),
    )
    return f"""with ranked as (
    select
        *,
        dense_rank() over (partition by category order by amount desc) as amount_rank,
        ntile(4) over (partition by category order by score, event_id) as score_quartile
    from {prev}
)

select
    {cols}
from ranked
"""


def _monthly(prev: str, edit: int) -> str:
    cols = _select_list({"score": "score * 0.5 + month_quantity / 100.0"}, _extra(edit))
    return f"""with monthly as (
    select
        entity_id,
        date_trunc('month', event_date) as month_start,
        sum(quantity) as month_quantity
    from {prev}
    group by 1, 2
),

joined as (
    select e.*, m.month_quantity
    from {prev} as e
    inner join monthly as m
        on e.entity_id = m.entity_id
        and date_trunc('month', e.event_date) = m.month_start
)

select
    {cols}
from joined
"""


def _fct(prev: str, sec: tuple[str, InputSpec] | None) -> str:
    casts = ",\n    ".join(
        f"cast({c.name} as {c.type.replace(',', ', ')}) as {c.name}" for c in EVENT_COLUMNS
    )
    if sec is None:
        return f"""with final as (
    select * from {prev}
)

select
    {casts}
from final
"""
    src, inp = sec
    casts = casts.replace("cast(score as double)", "cast(score + coalesce(metric, 0) / 100.0 as double)")
    return f"""with {_secondary_cte(src, inp)},

final as (
    select p.*, s.metric
    from {prev} as p
    left join secondary as s on p.entity_id = s.entity_id
)

select
    {casts}
from final
"""


def _agg(prev: str) -> str:
    return f"""with events as (
    select * from {prev}
)

select
    cast(entity_id as bigint) as entity_id,
    cast(count(*) as bigint) as n_events,
    cast(sum(amount) as decimal(18, 2)) as total_amount,
    cast(sum(quantity) as bigint) as total_quantity,
    cast(avg(score) as double) as avg_score,
    min(event_date) as first_date,
    max(event_date) as last_date,
    cast(arg_max(category, amount) as varchar) as top_category
from events
group by entity_id
"""


def model_body(product: ProductSpec, model: ModelSpec, r: Resolver, edit: int = 0) -> str:
    """The SELECT of `model`, references resolved by `r`; `edit` > 0 adds a literal column."""
    t = model.template
    prev = r.ref(product, model.prev) if model.prev else ""
    inp = product.get_input(model.input) if model.input else None
    src = r.input(product, inp) if inp else ""
    if t == "stg_file":
        return _stg_file(src, edit)
    if t == "stg_port":
        return _stg_port(src, product.index, edit)
    if t == "enrich":
        assert inp is not None
        return _enrich(prev, src, inp, edit)
    if t == "fct":
        return _fct(prev, (src, inp) if inp else None)
    if t == "agg":
        return _agg(prev)
    simple = {"dedup": _dedup, "running": _running, "tiers": _tiers, "rank": _rank, "monthly": _monthly}
    if t in simple:
        return simple[t](prev, edit)
    if t == "entity":
        assert model.base is not None
        return _entity(prev, r.ref(product, model.base), edit)
    raise ValueError(f"unknown template {t}")
