"""A longer randomized soak than the test suite's (default 200 runs, 15 minutes at most).

    .venv/bin/python bench/soak.py [--runs N] [--seed S] [--max-seconds T]

Writes bench/soak-results.json; exits non-zero on any mismatch between what the engine
reported and the simulator's own state.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.faults.soak import soak  # noqa: E402  (the test suite's soak, run longer)

from pulumi_dcs_migration.simulator import SimulatorConfig, start_simulator  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    with start_simulator(SimulatorConfig(stop_delay=0.2, rng_seed=args.seed)) as sim:
        result = soak(sim, seed=args.seed, runs=args.runs, max_seconds=args.max_seconds)
    print(result.summary())
    out = {
        "seed": args.seed,
        "runs": result.runs,
        "tasks": result.tasks,
        "faults_injected": result.faults_injected,
        "mismatches": result.mismatches,
        "errors": result.errors,
        "outcomes": result.outcomes,
        "seconds": result.seconds,
    }
    (REPO / "bench" / "soak-results.json").write_text(json.dumps(out, indent=2) + "\n")
    return 1 if result.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
