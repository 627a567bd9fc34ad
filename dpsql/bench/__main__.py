"""`python -m dpsql.bench`: generate meshes, time dpsql, the DuckDB floor and the peers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dpsql.bench.runner import ALL_TOOLS, BenchConfig, run_bench

QUICK_SIZES = [9]
QUICK_MODELS_PER_PRODUCT = 3
QUICK_ROWS = 200


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes takes numbers separated by commas: {exc}") from exc
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError("--sizes needs model counts of at least 2")
    return sizes


def _tools(text: str) -> tuple[str, ...]:
    tools = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = sorted(set(tools) - set(ALL_TOOLS))
    if unknown or not tools:
        raise argparse.ArgumentTypeError(f"--tools takes some of {','.join(ALL_TOOLS)}")
    return tools


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dpsql.bench",
        description="Time dpsql against dbt, SQLMesh and plain DuckDB on generated meshes.",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[100, 1000],
        help="total models per mesh, comma separated (default 100,1000; 10000 works too)",
    )
    parser.add_argument("--rows", type=int, default=10_000, help="rows per raw table (default 10000)")
    parser.add_argument(
        "--models-per-product", type=int, default=10, help="models in each product (default 10)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("target/bench/results.json"),
        help="results JSON; the markdown goes next to it (default target/bench/results.json)",
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="where meshes are generated (default: the folder of --out)"
    )
    _add_run_options(parser)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Which tools run, how often and for how long."""
    parser.add_argument(
        "--peers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time dbt and SQLMesh when .bench/venv-*/ has them",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600.0, help="seconds allowed for one step (default 3600)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each tool's steps N times and keep each step's fastest time (default 1)",
    )
    parser.add_argument(
        "--tools",
        type=_tools,
        default=ALL_TOOLS,
        help="which of floor,dpsql,general,dbt,sqlmesh to time, comma separated (default all; "
        "general is dpsql without its fast paths)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a tiny mesh ({QUICK_SIZES[0]} models, {QUICK_ROWS} rows) to check that everything runs",
    )


def parse_args(argv: list[str]) -> BenchConfig:
    parser = build_parser()
    args = parser.parse_args(argv)
    cfg = BenchConfig(
        sizes=args.sizes,
        rows=args.rows,
        models_per_product=args.models_per_product,
        out=args.out,
        work=args.work or args.out.parent,
        peers=args.peers,
        timeout=args.timeout,
        seed=args.seed,
        repeat=args.repeat,
        tools=args.tools,
    )
    if args.quick:
        cfg.sizes, cfg.rows = QUICK_SIZES, QUICK_ROWS
        cfg.models_per_product = QUICK_MODELS_PER_PRODUCT
    if cfg.rows < 1 or cfg.models_per_product < 2:
        parser.error("--rows must be at least 1 and --models-per-product at least 2")
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(sys.argv[1:] if argv is None else argv)

    def log(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    results = run_bench(cfg, log)
    log("")
    log(cfg.out.with_suffix(".md").read_text(encoding="utf-8"))
    log(f"results: {cfg.out} and {cfg.out.with_suffix('.md')}")
    failed = [
        t
        for t in results["runs"]
        if "floor" in t["tools"] and not t["tools"]["floor"]["build_full"].get("ok")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
