"""How soon after both bounds the key check's stop arrives through the real front ends (issue 23).

`bench/guard.py --keys` measures the engine in this process; this runs the installed
`dcs-migration stop` and a YAML program through `pulumi up` (the provider plugin), each against a
`dcs-simulator` subprocess. TASKS tasks have frozen sources and lags draining at DRAIN bytes/s
that reach 0 one after another (from FIRST seconds on, after the front end has started); the
simulator's target lacks a key per 100 bytes of lag, so each task reaches both bounds
(`max_offset = 100`, `max_key_difference = 0`) when its lag reaches 0. Reported per front end and
rate limit (`HW_DCS_MAX_REQUESTS_PER_SECOND`: the default 10, and 1,000): the delay from that
moment to the stop in the simulator's own record, and that every stop came with the same count.
``--lag-only`` measures the guard without the key check the same way (the moment: the lag reaching
``max_offset``), for comparison. Results: bench/guard-keys-front-ends-results.json (``--lag-only``:
bench/guard-lag-front-ends-results.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dcs_simulator import SimulatorAdmin, SimulatorConfig

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the tests' Pulumi project helper

from tests.e2e.test_cutover_guard import GUARDED_YAML, KEYED_YAML  # noqa: E402
from tests.plugin.project import LanguageProject  # noqa: E402

VENV_BIN = Path(sys.executable).parent
TASKS, DRAIN, BOUND, SPACING = 5, 5000.0, 100, 1.3
FIRST = {"cli": 4.0, "yaml": 10.0}  # seconds: after the front end's start-up
RATES = ("10", "1000")
CONFIG = SimulatorConfig()
KEYS = "--lag-only" not in sys.argv[1:]
REACHED = 0 if KEYS else BOUND  # the lag at which a task reaches its bound(s)


@contextmanager
def simulator() -> Iterator[tuple[str, SimulatorAdmin]]:
    sim = subprocess.Popen(
        [str(VENV_BIN / "dcs-simulator"), "--port", "0", "--stop-delay", "0.3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        url = next(w for w in sim.stdout.readline().split() if w.startswith("http://"))
        admin = SimulatorAdmin(url)
        yield url, admin
        admin.close()
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def catching_up(admin: SimulatorAdmin, first: float) -> tuple[list[str], dict[str, float]]:
    """Tasks reaching lag 0 (and the same count) at first, first + SPACING, ... seconds."""
    ids = admin.create_tasks(TASKS)
    for n, task_id in enumerate(ids):
        lag = REACHED + DRAIN * (first + SPACING * n)
        admin.set_lag(task_id, offset=lag, drain_rate=DRAIN, frozen=True)
    views = {t: admin.task(t) for t in ids}
    return ids, {t: v["lag_since"] + (v["lag"] - REACHED) / DRAIN for t, v in views.items()}


def delays(admin: SimulatorAdmin, ids: list[str], in_sync_at: dict[str, float]) -> list[float]:
    records = {r["task_id"]: r for r in admin.stop_records(ids)}
    assert sorted(records) == sorted(ids), records
    assert all(r["offset"] <= BOUND for r in records.values()), records
    assert not KEYS or all(r["source_keys"] == r["target_keys"] for r in records.values()), records
    return [round(records[t]["at"] - in_sync_at[t], 4) for t in ids]


def through_cli(rate: str) -> list[float]:
    with simulator() as (url, admin):
        ids, in_sync_at = catching_up(admin, FIRST["cli"])
        env = {k: v for k, v in os.environ.items() if not k.startswith("HW_")}
        env.update(
            HW_ACCESS_KEY=CONFIG.access_key,
            HW_SECRET_KEY=CONFIG.secret_key,
            HW_PROJECT_ID=CONFIG.project_id,
            HW_DCS_MAX_REQUESTS_PER_SECOND=rate,
        )
        guard = ["--max-offset", str(BOUND), *(["--max-key-difference", "0"] if KEYS else [])]
        command = [str(VENV_BIN / "dcs-migration"), "--endpoint", url, "stop", *guard, *ids]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return delays(admin, ids, in_sync_at)


class _Sim:
    """What LanguageProject.init_for reads of a simulator."""

    def __init__(self, url: str) -> None:
        self.url, self.config = url, CONFIG


def through_yaml(rate: str) -> list[float]:
    with simulator() as (url, admin), tempfile.TemporaryDirectory() as tmp:
        program = KEYED_YAML if KEYS else GUARDED_YAML
        project = LanguageProject(Path(tmp), files={"Pulumi.yaml": program})
        project.init_for(_Sim(url), ["0" * 32])  # type: ignore[arg-type]
        project.extra_env["HW_DCS_MAX_REQUESTS_PER_SECOND"] = rate
        settings = [("maxOffset", BOUND), ("syncTimeoutSeconds", 60)]
        for key, value in settings + ([("maxKeyDifference", 0)] if KEYS else []):
            project.pulumi("config", "set", key, str(value))
        ids, in_sync_at = catching_up(admin, FIRST["yaml"])
        project.set_task_ids(ids)
        project.pulumi("up", "--yes", "--skip-preview")
        return delays(admin, ids, in_sync_at)


def main() -> int:
    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {"tasks": TASKS, "drain_bytes_per_s": DRAIN, "max_offset": BOUND}
    for rate in RATES:
        for name, run in (("cli", through_cli), ("yaml", through_yaml)):
            measured = run(rate)
            results[f"{name}_at_{rate}_rps_delays_s"] = measured
            print(
                f"{name}, {rate} requests/s: stop {min(measured)}-{max(measured)} s after both bounds"
            )
    results.update(load_before=load_before, load_after=os.getloadavg()[0])
    name = "guard-keys-front-ends-results.json" if KEYS else "guard-lag-front-ends-results.json"
    (HERE / name).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
