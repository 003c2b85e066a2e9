"""``python -m tests.conformance [-v] [NAME ...]``: run the conformance suite alone.

Prints one line per scenario (MATCH / DIFFER with its CONFORMANCE.md entry),
the differences of the unexpected ones, and the summary line. ``-v`` prints
both traces of every scenario that is not MATCH, ``-vv`` of every scenario. Needs root (it creates a
private network namespace for the kernel side).
"""

from __future__ import annotations

import argparse
import sys

from .harness import describe
from .runner import cannot_run_reason, collect, summary, worker


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: traces of the scenarios that differ; -vv: of every scenario",
    )
    parser.add_argument("--worker", choices=("linux", "stack"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.names, args.out)
        return 0
    reason = cannot_run_reason()
    if reason is not None:
        print(f"conformance: cannot run: {reason}", file=sys.stderr)
        return 2
    outcomes, settings = collect(args.names)
    print("kernel settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    bad = 0
    for name, o in outcomes.items():
        mark = "" if o.as_expected else "   <-- UNEXPECTED"
        bad += not o.as_expected
        entry = f" [{o.scenario.expected_difference}]" if o.scenario.expected_difference else ""
        print(f"{o.verdict:6} {name}{entry}{mark}")
        if o.error:
            print(o.error)
        if (args.verbose and o.verdict != "MATCH") or not o.as_expected:
            for d in o.differences:
                print(f"         {d}")
        if args.verbose > 1 or (args.verbose and o.verdict != "MATCH"):
            steps = o.scenario.steps
            print("       linux:\n" + describe(o.linux, steps))  # type: ignore[arg-type]
            print("       aionetstack:\n" + describe(o.stack, steps))  # type: ignore[arg-type]
    print(summary(outcomes) + (f", {bad} not as expected" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
