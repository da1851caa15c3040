"""One measured stop-and-wait run with this project's engine, in a process of its own.

Reads task ids from a file, stops them through the simulator at --endpoint, and prints one JSON
line: when the call started and returned (epoch seconds), the engine's request counts, the
outcomes, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter

from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient
from pulumi_dcs_migration.engine import StopEngine, StopOptions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--ids-file", required=True)
    args = parser.parse_args()
    with open(args.ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    auth = AkSkAuth(args.access_key, args.secret_key, project_id=args.project_id)
    with DcsClient(args.endpoint, args.project_id, auth) as client:
        started = time.time()
        report = StopEngine(client, StopOptions(timeout=600)).run(ids)
        returned = time.time()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcomes = Counter(o.outcome.value for o in report.outcomes)
    json.dump(
        {
            "started": started,
            "returned": returned,
            "requests": report.requests,
            "outcomes": dict(outcomes),
            "peak_rss_mb": peak_kb / 1024,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
