"""Deprecated output ports (`deprecated:` in product.yml) and the products still reading them.

Every product that declares a deprecated port as an input hears about it at that input: a
warning (DP312) naming the port, its sunset date and its replacement, until the sunset date;
after it, an error (DP313). The replacement (`use:`) must be an output port of the same
product (checked when product.yml is read), or `product.port` of another (DP003 at the `use:`
line).

"Today" is the machine's date, or `DPSQL_TODAY` (YYYY-MM-DD) when it is set: for tests, and
for a CI that wants to see what a date will bring.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING

from dpsql.core.errors import Diagnostic, did_you_mean, error, warning
from dpsql.core.project import Product, Project
from dpsql.core.specs import Deprecation, InputSpec, OutputSpec

if TYPE_CHECKING:  # `dpsql ls` reads `readers` without loading the compiler
    from dpsql.compile.state import CompileState

log = logging.getLogger("dpsql")

TODAY = "DPSQL_TODAY"


def today(env: Mapping[str, str]) -> date:
    """The date sunsets are compared with: `DPSQL_TODAY` if set (and a date), else today."""
    text = (env.get(TODAY) or "").strip()
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            log.warning("%s=%s is not a date like 2027-06-30: using today's date", TODAY, text)
    return date.today()


def check_deprecations(state: CompileState) -> None:
    """DP312/DP313 at each input reading a deprecated port; DP003 for a `use:` port that does
    not exist."""
    project = state.project
    day = today(project.config.env)
    pending = False  # a warning today may be an error another day
    for product in project.products:
        for port in product.spec.outputs:
            if port.deprecated is not None:
                state.diagnostics.extend(_successor_problems(project, product, port.deprecated,
                                                             port))
        for spec in product.spec.inputs:
            found = deprecated_port(project, spec)
            if found is not None:
                producer, port = found
                diagnostic = _consumer(product, spec, producer, port, day,
                                       _reading_models(state, product, producer, port))
                sunset = port.deprecated.sunset if port.deprecated is not None else None
                pending |= sunset is not None and not diagnostic.is_error
                state.diagnostics.append(diagnostic)
    if pending:  # the compile stamp must not replay today's warnings once the sunset passed
        state.env_read[TODAY] = project.config.env.get(TODAY) or unset_on(day)


def unset_on(day: date) -> str:
    """How a compile records that it judged sunsets by the machine's date, `day`."""
    return f"(unset on {day.isoformat()})"


def same_day(recorded: str | None, environ: Mapping[str, str]) -> bool:
    """Whether sunsets are judged as when `recorded` (what a compile recorded for TODAY) was
    written: the same DPSQL_TODAY, or, unset, still the same day."""
    current = environ.get(TODAY)
    return current == recorded or (not current and recorded == unset_on(today(environ)))


def deprecated_port(project: Project, spec: InputSpec) -> tuple[Product, OutputSpec] | None:
    """The producer and port a `product:` input reads, when that port is deprecated."""
    if spec.kind != "product" or spec.product is None or spec.port is None:
        return None
    producer = project.product(spec.product)
    port = producer.spec.output(spec.port) if producer is not None else None
    if producer is None or port is None or port.deprecated is None:
        return None
    return producer, port


def _reading_models(state: CompileState, product: Product, producer: Product,
                    port: OutputSpec) -> list[str]:
    """The models of `product` that read `port` (after the bind pass)."""
    feeding = producer.port_model_id(port.name)
    return sorted(m.name for m in state.models.values()
                  if m.product == product.name and feeding in m.depends_on)


def readers(project: Project, producer: str, port: str) -> list[str]:
    """The products that declare `producer.port` as an input, by name."""
    return sorted({p.name for p in project.products for i in p.spec.inputs
                   if i.kind == "product" and i.product == producer and i.port == port})


def replacement(producer: str, deprecation: Deprecation) -> str | None:
    """The successor as `product.port`."""
    found = deprecation.successor(producer)
    return f"{found[0]}.{found[1]}" if found is not None else None


def _consumer(product: Product, spec: InputSpec, producer: Product, port: OutputSpec,
              day: date, models: list[str]) -> Diagnostic:
    dep = port.deprecated
    assert dep is not None
    name = f"{producer.name}.{port.name}"
    since = f" since {producer.name} {dep.since}" if dep.since is not None else ""
    succ = replacement(producer.name, dep)
    instead = f"; use `{succ}` instead" if succ else "; it names no replacement"
    hint = _move_hint(spec, producer, dep, name, models) if succ else (
        f"ask the owner of `{producer.name}`" + (f" ({producer.spec.owner})"
                                                  if producer.spec.owner else "")
        + " what replaces it, or stop reading it")
    if dep.sunset is not None and day > dep.sunset:
        hint += f"; or `{producer.name}` moves its `sunset:` later"
        return error("DP313", f"input `{spec.name}` of `{product.name}` reads port `{name}`, "
                     f"deprecated{since}, whose sunset date {dep.sunset} has passed{instead}",
                     spec.location, hint)
    sunset = (f"sunset date {dep.sunset} (reading it after that day is an error)"
              if dep.sunset is not None else "no sunset date yet")
    return warning("DP312", f"input `{spec.name}` of `{product.name}` reads port `{name}`, "
                   f"deprecated{since}, {sunset}{instead}", spec.location, hint)


def _move_hint(spec: InputSpec, producer: Product, dep: Deprecation, old: str,
               models: list[str]) -> str:
    found = dep.successor(producer.name)
    assert found is not None
    owner, port = found
    read = (f", and read `{owner}.{port}` instead of `{old}` in " + ", ".join(models)
            if models else "")
    if owner == producer.name:
        return f"write `port: {port}` in input `{spec.name}`{read}"
    return f"declare `product: {owner}` with `port: {port}` under `inputs:`{read}"


def _successor_problems(project: Project, product: Product, dep: Deprecation,
                        port: OutputSpec) -> Iterable[Diagnostic]:
    """`use: product.port` names an existing output port of another product."""
    found = dep.successor(product.name)
    if found is None:
        return
    owner_name, name = found
    where = dep.key_location("use")
    owner = project.product(owner_name)
    if owner_name == product.name:
        return  # a port of the same product: checked when product.yml is read
    if owner is None:
        yield error("DP003", f"`use: {dep.use}` names product `{owner_name}`, which does not "
                    "exist", where, did_you_mean(owner_name, list(project.by_name)))
    elif owner.spec.output(name) is None:
        yield error("DP003", f"`use: {dep.use}`: product `{owner.name}` has no output port "
                    f"`{name}`", where,
                    did_you_mean(name, [o.name for o in owner.spec.outputs if o is not port]))
