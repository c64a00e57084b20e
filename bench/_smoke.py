"""`--smoke` for every benchmark: a tiny run of a few seconds that CI makes (tests/bench/test_bench_smoke.py),
so a benchmark that breaks is noticed the day it breaks, not the day someone wants a figure from it."""
from __future__ import annotations

import argparse


def parse(ap: argparse.ArgumentParser, argv=None, **smoke) -> argparse.Namespace:
    """Parse the command line; with --smoke, the given options are replaced by the tiny values."""
    shown = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in smoke.items() if not isinstance(v, bool))
    ap.add_argument("--smoke", action="store_true",
                    help=f"a tiny run that only proves the benchmark works ({shown}); its figures mean nothing")
    args = ap.parse_args(argv)
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
    return args
