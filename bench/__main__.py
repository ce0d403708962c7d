"""``python -m bench NAME [--quick] [--out DIR]``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from bench.common import write_results

BENCHMARKS = {
    "ami": "bench.ami",
    "busy_hour": "bench.busy_hour",
    "calls": "bench.calls",
    "ivr": "bench.ivr",
    "screenpop": "bench.screenpop",
    "sse": "bench.sse",
    "tickets": "bench.tickets",
    "transcribe": "bench.transcribe",
    "writes": "bench.writes",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="a smoke run: few iterations, same code path")
    parser.add_argument("--out", type=Path, help="where NAME.json goes (default bench/results)")
    args = parser.parse_args(argv)
    module = importlib.import_module(BENCHMARKS[args.name])
    figures = module.run(quick=args.quick)
    path = write_results(args.name, figures, args.quick, args.out)
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    print(f"written to {path}")
    if figures.get("state_ok") is False:  # a benchmark that checks its end state fails when it is wrong
        print("the end state is wrong: see 'state'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
