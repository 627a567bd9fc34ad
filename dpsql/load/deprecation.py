"""A deprecated port's `use:` names another output port of its product (DP003 otherwise).

Another product's port (`use: orders2.orders`) is checked once every product is loaded, by the
compile (dpsql/compile/checks/deprecation.py).
"""

from __future__ import annotations

from dpsql.core.errors import Diagnostic, did_you_mean, error
from dpsql.core.specs import OutputSpec


def successor_problems(product: str, outputs: tuple[OutputSpec, ...]) -> list[Diagnostic]:
    names = [o.name for o in outputs]  # exact, as ports are named everywhere (DP209)
    found = []
    for out in outputs:
        succ = out.deprecated.successor(product) if out.deprecated is not None else None
        if out.deprecated is None or succ is None or succ[0] != product:
            continue
        where = out.deprecated.key_location("use")
        if succ[1] == out.name:
            found.append(error("DP003", f"port `{out.name}` names itself as its replacement",
                               where, "name the port that replaces it: `use: orders_v2`"))
        elif succ[1] not in names:
            found.append(error(
                "DP003", f"`use: {out.deprecated.use}`: product `{product}` has no output port "
                f"`{succ[1]}`", where,
                did_you_mean(succ[1], [n for n in names if n != out.name])))
    return found
