"""A longer seeded soak than the test suite's (default 200 runs, 15 minutes at most).

    .venv/bin/python bench/soak.py [--runs N] [--seed S] [--max-seconds T]

Deterministic for a seed (see ``dcs_simulator.testing.soak``). Writes bench/soak-results.json;
exits non-zero on any mismatch between what the engine reported and the simulator's own state.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dcs_simulator.testing.soak import run_soak

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the soak; 1 on any mismatch."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    result = run_soak(seed=args.seed, runs=args.runs, max_seconds=args.max_seconds)
    print(result.summary())
    out = {
        "seed": args.seed,
        "runs": result.runs,
        "tasks": result.tasks,
        "faults_injected": result.faults_injected,
        "mismatches": result.mismatches,
        "errors": result.errors,
        "outcomes": result.outcomes,
        "digest": result.digest(),
        "seconds": result.seconds,
    }
    (HERE / "soak-results.json").write_text(json.dumps(out, indent=2) + "\n")
    return 1 if result.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
