"""100,000 tasks: created in one admin call, listed a 1,000-task page at a time.

No wall-clock assertion (machines differ); the time is printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import time

import httpx

from dcs_simulator import RunningSimulator

from .sim_helpers import P

N = 100_000


def test_list_page_of_1000_among_100k(simulator: RunningSimulator, dcs: httpx.Client) -> None:
    started = time.perf_counter()
    ids = simulator.admin.create_tasks(N)
    created = time.perf_counter() - started
    assert len(ids) == N and len(set(ids)) == N

    timings = []
    for offset in (0, 50_000, N - 1000):
        started = time.perf_counter()
        response = dcs.get(f"{P}/migration-tasks", params={"offset": offset, "limit": 1000})
        timings.append(time.perf_counter() - started)
        body = response.json()
        assert response.status_code == 200
        assert body["count"] == N
        assert [t["task_id"] for t in body["migration_tasks"]] == ids[offset : offset + 1000]

    # a stop of a whole page and a page read afterwards see the lazily computed statuses
    page = ids[:1000]
    stop = dcs.post(f"{P}/migration-task/batch-stop", json={"migration_tasks": page})
    assert all(i["result"] == "success" for i in stop.json()["migration_tasks"])
    body = dcs.get(f"{P}/migration-tasks", params={"offset": 0, "limit": 1000}).json()
    assert {t["status"] for t in body["migration_tasks"]} <= {"TERMINATING", "TERMINATED"}
    print(
        f"\n100k tasks: create {created:.3f}s; 1000-task list pages "
        + ", ".join(f"{t * 1000:.1f}ms" for t in timings)
    )
