"""The baseline a user would write with the official SDK, in a process of its own.

One batch-stop call per 50 ids, then, once a second, the details call for every task that is not
yet TERMINATED, until all are. Prints one JSON line like stop_once.py.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkdcs.v2 import (
    BatchStopMigrationTasksBody,
    BatchStopMigrationTasksRequest,
    DcsClient,
    ShowMigrationTaskRequest,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--project-id", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--ids-file", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    with open(args.ids_file) as f:
        ids = [line.strip() for line in f if line.strip()]
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    client = (
        DcsClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(args.access_key, args.secret_key, args.project_id))
        .with_endpoints([args.endpoint])
        .build()
    )
    requests = {"batch_stop": 0, "show": 0}
    started = time.time()
    for i in range(0, len(ids), 50):
        body = BatchStopMigrationTasksBody(migration_tasks=ids[i : i + 50])
        client.batch_stop_migration_tasks(BatchStopMigrationTasksRequest(body=body))
        requests["batch_stop"] += 1
    pending = list(ids)
    while pending and time.time() - started < args.timeout:
        time.sleep(1.0)
        still = []
        for task_id in pending:
            requests["show"] += 1
            status = client.show_migration_task(ShowMigrationTaskRequest(task_id=task_id)).status
            if status != "TERMINATED":
                still.append(task_id)
        pending = still
    returned = time.time()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    json.dump(
        {
            "started": started,
            "returned": returned,
            "requests": requests,
            "outcomes": {"stopped": len(ids) - len(pending), "timed_out": len(pending)},
            "peak_rss_mb": peak_kb / 1024,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
