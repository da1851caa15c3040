"""`make demo`: the main job on the embedded default, end to end.

Starts the DCS simulator with running migration tasks, runs `pulumi preview` and `pulumi up` on the
`local` stack (file backend under .state/), shows every task TERMINATED, and stops the simulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dcs_simulator import DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY
from pulumi_dcs_migration.auth import AkSkAuth
from pulumi_dcs_migration.client import DcsClient

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
PORT = 18950  # the `local` stack's dcs:endpoint points here
SEEDED_TASKS = 5  # the ids in stacks/Pulumi.local.yaml are those of `dcs-simulator --seed 5`


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "dcs-simulator"),
            "--port",
            str(PORT),
            "--seed",
            str(SEEDED_TASKS),
            "--stop-delay",
            "2",
            "--stop-jitter",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        sys.exit(f"demo: the simulator did not start (is port {PORT} in use?): {line!r}")
    url = next(word for word in line.split() if word.startswith("http://"))
    print(f"demo: simulator at {url} with {SEEDED_TASKS} tasks in incremental sync", flush=True)
    return proc, url


def pulumi(*args: str, env: dict[str, str]) -> None:
    print(f"\n$ pulumi {' '.join(args)}", flush=True)
    subprocess.run([str(VENV_BIN / "pulumi"), *args], cwd=REPO, env=env, check=True)


def show_tasks(url: str) -> bool:
    with DcsClient(url, DEMO_PROJECT_ID, AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)) as client:
        tasks = list(client.iter_tasks())
    print("\ndemo: tasks in the simulator now:")
    for task in tasks:
        print(f"  {task.task_id}  {task.task_name or '':<20} {task.status}")
    return all(t.status == "TERMINATED" for t in tasks)


def main() -> int:
    state = REPO / ".state"
    (state / "backend").mkdir(parents=True, exist_ok=True)
    (state / "pulumi-home").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HW_", "HUAWEICLOUD_SDK_"))}
    env.update(
        PULUMI_BACKEND_URL=f"file://{state / 'backend'}",
        PULUMI_HOME=str(state / "pulumi-home"),
        PULUMI_CONFIG_PASSPHRASE=os.environ.get("PULUMI_CONFIG_PASSPHRASE", "local-demo"),
        # The simulator's documented demo keys, from the environment: never in stack state.
        HW_ACCESS_KEY=DEMO_ACCESS_KEY,
        HW_SECRET_KEY=DEMO_SECRET_KEY,
    )
    sim, url = start_simulator()
    try:
        pulumi("stack", "select", "--create", "local", "--non-interactive", env=env)
        pulumi("preview", "--diff", "--refresh", env=env)
        pulumi("up", "--yes", "--skip-preview", "--refresh", env=env)
        ok = show_tasks(url)
        print("\ndemo: every task is TERMINATED" if ok else "\ndemo: some tasks are NOT terminated")
        return 0 if ok else 1
    finally:
        sim.terminate()
        sim.wait(timeout=10)
        print("demo: simulator stopped")


if __name__ == "__main__":
    sys.exit(main())
