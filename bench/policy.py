"""`make bench-policy`: the request-policy targets of issue 21, side by side in one run.

Every measurement runs the product as users run it: ``dcs-migration stop`` in a process of its
own, with the product's defaults (no ``--max-rps``, no setting in the environment but the
simulator's keys), against a fresh ``dcs-simulator`` subprocess on 127.0.0.1 whose stops take
2 s +/- 50 % per task (seeded: the same task ids and delays on every run).

1. **Eight operators**: 8 ``dcs-migration stop`` processes started together, each with its own
   60 tasks, all in one project, against a gateway throttling at 4 requests/s per project
   (burst 4, 429 ``APIGW.0308`` with ``Retry-After``). Reported per run: wall time, the requests
   the simulator answered, the 429s among them and their share (target: at most 5 %), the peak
   requests in any one second, tasks stopped (target: all 480), the exit codes.
2. **1 and 10 tasks**: the product against the naive loop of the official SDK
   (``bench/baseline_sdk.py``: one batch-stop per 50 ids, then the details call for every
   unfinished task once a second), each a subprocess, no throttling. Reported: requests by kind
   (the simulator's counters) and *noticed within*: from the simulator's record of the last task
   reaching TERMINATED to the moment the process returned (as seen by this process, interpreter
   exit included, for both). Targets: the product sends at most 2x the naive loop's requests,
   and notices within 1 s.
3. **1,000 tasks**: the same comparison. Targets: the product returns at most 0.25 s after the
   last TERMINATED, with at least 25x fewer requests than the naive loop.

Requests are judged on the median of the runs, *noticed within* on the worst. The 16-stack fleet
against a 20/s gateway is not repeated here: ``make bench-throttle`` (bench/throttle.py).

Each measurement gets a fresh private runtime directory (``XDG_RUNTIME_DIR``, ``TMPDIR``) shared
by its processes, so that the request budget that ``dcs-migration`` processes of one machine
share starts afresh and meets no other run's; ``--separate-budgets`` gives each of the eight
operators its own instead (eight machines rather than one).

    .venv/bin/python bench/policy.py                 # writes bench/policy-results.json
    .venv/bin/python bench/policy.py --repeats 1 --parts small,large
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dcs_simulator import DEMO_ACCESS_KEY, DEMO_PROJECT_ID, DEMO_SECRET_KEY, SimulatorAdmin

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
DCS_MIGRATION = VENV_BIN / "dcs-migration"
DCS_SIMULATOR = VENV_BIN / "dcs-simulator"
BASELINE = HERE / "baseline_sdk.py"
RESULTS = HERE / "policy-results.json"

STOP_DELAY = 2.0  # seconds a stopped task reads TERMINATING ...
STOP_JITTER = 0.5  # ... +/- 50 % per task (as bench/throttle.py and bench/run.py)
SEED = 21  # the simulator's --rng-seed of the first run (ids and jitter); run i uses SEED + i

OPERATORS = 8
TASKS_PER_OPERATOR = 60
GATEWAY_RATE = 4.0  # requests per second per project ...
GATEWAY_BURST = 4  # ... from a bucket of 4
SMALL_SIZES = (1, 10)
LARGE_SIZE = 1000

SAMPLE_PERIOD = 0.05  # seconds between two looks at the counters while one process runs

TARGET_429_SHARE = 0.05
TARGET_SMALL_REQUEST_RATIO = 2.0  # product requests at most 2x the naive loop's
TARGET_SMALL_NOTICED_S = 1.0
TARGET_LARGE_OVERHEAD_S = 0.25
TARGET_LARGE_FEWER = 25.0  # the naive loop sends at least 25x the product's requests

NOT_REQUESTS = ("throttled", "fault", "unauthorized", "admin_refused")
TOOLS = ("product", "naive")
PARTS = ("operators", "small", "large")


# --- the simulator ----------------------------------------------------------------------------


class Simulator:
    """A ``dcs-simulator`` subprocess (its CPU is not ours), throttling when asked to."""

    def __init__(self, seed: int, throttle: tuple[float, int] | None = None) -> None:
        args = [
            str(DCS_SIMULATOR),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--stop-delay",
            str(STOP_DELAY),
            "--stop-jitter",
            str(STOP_JITTER),
            "--rng-seed",
            str(seed),
        ]
        if throttle is not None:
            args += ["--throttle-rate", str(throttle[0]), "--throttle-burst", str(throttle[1])]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        try:
            self.url = self._listening_url(timeout=30.0)
            self.admin = SimulatorAdmin(self.url)
            self.project_id = str(self.admin.health().get("project_id", DEMO_PROJECT_ID))
        except BaseException:
            self._stop_process()
            raise

    def _listening_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        url = next((w for w in line.split() if w.startswith("http://")), None)
        if url is None:
            raise RuntimeError(f"dcs-simulator did not start within {timeout:g} s: {line!r}")
        return url

    def _stop_process(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        try:
            self.admin.close()
        finally:
            self._stop_process()

    def stopped(self, ids: Sequence[str]) -> int:
        """How many of ``ids`` read TERMINATED in the simulator now."""
        return sum(status == "TERMINATED" for status in self.admin.statuses(list(ids)))


@contextmanager
def simulator(seed: int, throttle: tuple[float, int] | None = None) -> Iterator[Simulator]:
    sim = Simulator(seed, throttle)
    try:
        yield sim
    finally:
        sim.close()


def requests_of(counters: dict[str, int]) -> dict[str, int]:
    """DCS requests answered, by operation (a throttled one counts under its operation too)."""
    return {k: v for k, v in sorted(counters.items()) if v and k not in NOT_REQUESTS}


class Sampler:
    """The simulator's counters every ``period`` seconds while processes run (a timeline)."""

    def __init__(self, admin: SimulatorAdmin, period: float = 0.5) -> None:
        self._admin = admin
        self._period = period
        self._stop = threading.Event()
        self._started = time.perf_counter()
        self.samples: list[tuple[float, int, int]] = []  # (seconds, requests, 429s)
        self.last_request_seen: float | None = None  # epoch s: the last count increase seen
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            counters = self._admin.counters()
            elapsed = round(time.perf_counter() - self._started, 2)
            total = sum(requests_of(counters).values())
            if total > (self.samples[-1][1] if self.samples else 0):
                self.last_request_seen = time.time()
            self.samples.append((elapsed, total, counters.get("throttled", 0)))

    def peak_per_second(self) -> int:
        """The most requests answered in any one second (from samples a second apart)."""
        step = max(1, round(1.0 / self._period))
        pairs = zip(self.samples, self.samples[step:], strict=False)
        return max((b[1] - a[1] for a, b in pairs), default=0)


# --- processes --------------------------------------------------------------------------------


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    stdin: Path | None = None


@dataclass
class Finished:
    started: float  # epoch seconds, just before the process was started
    returned: float  # epoch seconds, as soon as this process saw it exit
    exit_code: int | None  # None: killed at the timeout
    stdout: str
    stderr: str


def run_together(commands: Sequence[Command], timeout: float) -> list[Finished]:
    """Start every command at once; each is killed if still running ``timeout`` s later.

    One thread per process waits for it, so that each exit is stamped when it happens."""
    with tempfile.TemporaryDirectory(prefix="policy-out-") as tmp:
        procs: list[tuple[subprocess.Popen[bytes], float]] = []
        results: list[Finished | None] = [None] * len(commands)
        try:
            for index, command in enumerate(commands):
                out = open(Path(tmp) / f"{index}.out", "wb")  # noqa: SIM115 (closed below)
                err = open(Path(tmp) / f"{index}.err", "wb")  # noqa: SIM115
                stdin = open(command.stdin, "rb") if command.stdin else subprocess.DEVNULL  # noqa: SIM115
                started = time.time()
                try:
                    proc = subprocess.Popen(
                        command.argv, stdin=stdin, stdout=out, stderr=err, env=command.env
                    )
                finally:
                    for f in (out, err, stdin):
                        if not isinstance(f, int):
                            f.close()
                procs.append((proc, started))
            deadline = time.monotonic() + timeout

            def wait(index: int) -> None:
                proc, started = procs[index]
                code: int | None
                try:
                    code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                    returned = time.time()
                except subprocess.TimeoutExpired:
                    returned = time.time()
                    proc.kill()
                    proc.wait()
                    code = None
                results[index] = Finished(
                    started,
                    returned,
                    code,
                    (Path(tmp) / f"{index}.out").read_text(errors="replace"),
                    (Path(tmp) / f"{index}.err").read_text(errors="replace"),
                )

            threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(procs))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:  # interrupted: no process of ours outlives the benchmark
            for proc, _ in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    done = [r for r in results if r is not None]
    assert len(done) == len(commands)
    return done


@contextmanager
def runtime_dirs(count: int) -> Iterator[list[Path]]:
    """``count`` fresh private directories (mode 0700), removed afterwards."""
    dirs = [Path(tempfile.mkdtemp(prefix="policy-runtime-")) for _ in range(count)]
    try:
        yield dirs
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def child_env(runtime: Path) -> dict[str, str]:
    """Our environment without any DCS setting, plus the simulator's keys and ``runtime`` as
    the directory where the processes of "one machine" meet (the shared request budget)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HW_", "HUAWEICLOUD_SDK_"))}
    env.update(
        HW_ACCESS_KEY=DEMO_ACCESS_KEY,
        HW_SECRET_KEY=DEMO_SECRET_KEY,
        XDG_RUNTIME_DIR=str(runtime),
        TMPDIR=str(runtime),
    )
    return env


def product_command(sim: Simulator, ids_file: Path, env: dict[str, str]) -> Command:
    """``dcs-migration stop`` as a user runs it: ids on stdin, defaults for everything else."""
    argv = [str(DCS_MIGRATION), "--endpoint", sim.url, "--project-id", sim.project_id]
    return Command([*argv, "stop", "-"], env, stdin=ids_file)


def naive_command(sim: Simulator, ids_file: Path, env: dict[str, str], timeout: float) -> Command:
    """The official SDK's naive loop (bench/baseline_sdk.py), in the venv's interpreter."""
    argv = [
        sys.executable,
        str(BASELINE),
        "--endpoint",
        sim.url,
        "--project-id",
        sim.project_id,
        "--access-key",
        DEMO_ACCESS_KEY,
        "--secret-key",
        DEMO_SECRET_KEY,
        "--ids-file",
        str(ids_file),
        "--timeout",
        str(timeout),
    ]
    return Command(argv, env)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def tail(text: str, limit: int = 1500) -> str:
    return text[-limit:]


# --- 1. eight operators -----------------------------------------------------------------------


def eight_operators(seed: int, separate: bool, timeout: float, workdir: Path) -> dict[str, Any]:
    """One run: OPERATORS processes of TASKS_PER_OPERATOR tasks each, one throttled project."""
    load = loadavg()
    with (
        simulator(seed, (GATEWAY_RATE, GATEWAY_BURST)) as sim,
        runtime_dirs(OPERATORS if separate else 1) as runtimes,
    ):
        ids = sim.admin.create_tasks(OPERATORS * TASKS_PER_OPERATOR)  # admin: never throttled
        shares = [
            ids[i * TASKS_PER_OPERATOR : (i + 1) * TASKS_PER_OPERATOR] for i in range(OPERATORS)
        ]
        commands = []
        for index, share in enumerate(shares):
            ids_file = workdir / f"operator-{seed}-{index}.txt"
            ids_file.write_text("\n".join(share) + "\n")
            env = child_env(runtimes[index % len(runtimes)])
            commands.append(product_command(sim, ids_file, env))
        sim.admin.reset_counters()
        with Sampler(sim.admin) as sampler:
            finished = run_together(commands, timeout)
        counters = sim.admin.counters()
        by_kind = requests_of(counters)
        stopped = sim.stopped(ids)
        last_each = [sim.admin.last_terminated_at(share) for share in shares]
    started = min(f.started for f in finished)
    requests = sum(by_kind.values())
    throttled = counters.get("throttled", 0)
    noticed = [
        round(f.returned - last, 3)
        for f, last in zip(finished, last_each, strict=True)
        if last is not None and f.exit_code == 0
    ]
    return {
        "seed": seed,
        "budgets": "separate" if separate else "shared",
        "loadavg_at_start": load,
        "wall_s": round(max(f.returned for f in finished) - started, 2),
        "process_wall_s": [round(f.returned - f.started, 2) for f in finished],
        "requests": requests,
        "requests_by_kind": by_kind,
        "throttled_429": throttled,
        "share_429": round(throttled / requests, 4) if requests else 0.0,
        "peak_requests_per_second": sampler.peak_per_second(),
        "tasks": len(ids),
        "tasks_stopped": stopped,
        "exit_codes": [f.exit_code for f in finished],
        "noticed_s": noticed,  # per operator: its return after its own last TERMINATED
        "timeline": sampler.samples,
        "stderr_tails": [tail(f.stderr) for f in finished if f.exit_code != 0],
    }


def operators_verdict(run: dict[str, Any]) -> str:
    gaps = []
    if run["tasks_stopped"] != run["tasks"]:
        gaps.append(f"{run['tasks'] - run['tasks_stopped']} task(s) not stopped")
    bad = [c for c in run["exit_codes"] if c != 0]
    if bad:
        gaps.append(f"{len(bad)} process(es) exited {sorted(set(map(str, bad)))}")
    if run["share_429"] > TARGET_429_SHARE:
        gaps.append(f"429 share {100 * run['share_429']:.1f} % > {100 * TARGET_429_SHARE:g} %")
    return "met" if not gaps else "; ".join(gaps)


# --- 2 and 3. the product against the naive SDK loop ------------------------------------------


def one_stop(tool: str, n: int, seed: int, timeout: float, workdir: Path) -> dict[str, Any]:
    """One process of ``tool`` stopping ``n`` tasks (all the project holds) in a fresh simulator."""
    load = loadavg()
    with simulator(seed) as sim, runtime_dirs(1) as runtimes:
        ids = sim.admin.create_tasks(n)
        ids_file = workdir / f"{tool}-{n}-{seed}.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        env = child_env(runtimes[0])
        if tool == "product":
            command = product_command(sim, ids_file, env)
        else:
            command = naive_command(sim, ids_file, env, timeout=max(1.0, timeout - 5.0))
        sim.admin.reset_counters()
        with Sampler(sim.admin, period=SAMPLE_PERIOD) as sampler:
            (finished,) = run_together([command], timeout)
        by_kind = requests_of(sim.admin.counters())
        last = sim.admin.last_terminated_at(ids)
        stopped = sim.stopped(ids)
    seen = sampler.last_request_seen
    complete = stopped == n and last is not None and finished.exit_code == 0
    run: dict[str, Any] = {
        "tool": tool,
        "n": n,
        "seed": seed,
        "loadavg_at_start": load,
        "exit_code": finished.exit_code,
        "wall_s": round(finished.returned - finished.started, 3),
        "physical_limit_s": round(last - finished.started, 3) if last is not None else None,
        "noticed_s": round(finished.returned - last, 3) if complete and last is not None else None,
        # the split of noticed_s (to within SAMPLE_PERIOD): the last request the simulator
        # answered, after the last TERMINATED; then the process's exit, after that request
        "last_request_after_terminated_s": (
            round(seen - last, 3) if seen is not None and last is not None else None
        ),
        "exit_after_last_request_s": (
            round(finished.returned - seen, 3) if seen is not None else None
        ),
        "requests": sum(by_kind.values()),
        "requests_by_kind": by_kind,
        "tasks_stopped": stopped,
        "stderr_tail": tail(finished.stderr) if finished.exit_code != 0 else "",
    }
    if tool == "naive" and finished.exit_code == 0:
        own = json.loads(finished.stdout)  # its own clock: the loop's end, before exiting
        if last is not None:
            run["noticed_in_process_s"] = round(own["returned"] - last, 3)
    return run


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs (requests, noticed, wall), the worst noticed, every run."""
    noticed = [r["noticed_s"] for r in runs if r["noticed_s"] is not None]
    by_kind: dict[str, float] = {}
    for kind in sorted({k for r in runs for k in r["requests_by_kind"]}):
        by_kind[kind] = statistics.median(r["requests_by_kind"].get(kind, 0) for r in runs)
    return {
        "runs_complete": len(noticed),
        "runs": len(runs),
        "requests_median": statistics.median(r["requests"] for r in runs),
        "requests_by_kind_median": by_kind,
        "noticed_median_s": round(statistics.median(noticed), 3) if noticed else None,
        "noticed_worst_s": max(noticed) if len(noticed) == len(runs) else None,
        "wall_median_s": round(statistics.median(r["wall_s"] for r in runs), 3),
        "last_request_after_terminated_median_s": median_of(
            runs, "last_request_after_terminated_s"
        ),
        "exit_after_last_request_median_s": median_of(runs, "exit_after_last_request_s"),
        "tasks_stopped_min": min(r["tasks_stopped"] for r in runs),
    }


def compare(n: int, repeats: int, timeout: float, workdir: Path) -> dict[str, Any]:
    """Both tools at ``n`` tasks, interleaved so that the machine's load hits them alike."""
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    for repeat in range(repeats):
        for tool in TOOLS:
            run = one_stop(tool, n, SEED + repeat, timeout, workdir)
            runs[tool].append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
    row: dict[str, Any] = {"n": n}
    for tool in TOOLS:
        row[tool] = {**summarize(runs[tool]), "each": runs[tool]}
    product, naive = row["product"], row["naive"]
    row["product_over_naive_requests"] = (
        round(product["requests_median"] / naive["requests_median"], 2)
        if naive["requests_median"]
        else None
    )
    row["naive_over_product_requests"] = (
        round(naive["requests_median"] / product["requests_median"], 1)
        if product["requests_median"]
        else None
    )
    row["verdict"] = compare_verdict(row)
    return row


def compare_verdict(row: dict[str, Any]) -> str:
    product = row["product"]
    gaps = []
    if product["runs_complete"] != product["runs"]:
        gaps.append("a product run did not stop every task")
    worst = product["noticed_worst_s"]
    if row["n"] >= LARGE_SIZE:
        fewer = row["naive_over_product_requests"]
        if fewer is None or fewer < TARGET_LARGE_FEWER:
            gaps.append(f"{fewer}x fewer requests < {TARGET_LARGE_FEWER:g}x")
        if worst is None or worst > TARGET_LARGE_OVERHEAD_S:
            gaps.append(f"overhead {worst} s > {TARGET_LARGE_OVERHEAD_S:g} s")
    else:
        ratio = row["product_over_naive_requests"]
        if ratio is None or ratio > TARGET_SMALL_REQUEST_RATIO:
            gaps.append(f"{ratio}x the naive loop's requests > {TARGET_SMALL_REQUEST_RATIO:g}x")
        if worst is None or worst > TARGET_SMALL_NOTICED_S:
            gaps.append(f"noticed within {worst} s > {TARGET_SMALL_NOTICED_S:g} s")
    return "met" if not gaps else "; ".join(gaps)


# --- output -----------------------------------------------------------------------------------


def kinds(by_kind: dict[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in by_kind.items()) or "-"


def ratio_cell(row: dict[str, Any]) -> str:
    ratio, fewer = row["product_over_naive_requests"], row["naive_over_product_requests"]
    if ratio is None:
        return "-"
    return f"{ratio:g}x" if ratio >= 1 or fewer is None else f"{ratio:g}x ({fewer:g}x fewer)"


def seconds(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    operators = results.get("operators")
    if operators:
        lines += [
            f"### 1. Eight operators: {OPERATORS} x `dcs-migration stop` of {TASKS_PER_OPERATOR} "
            f"tasks, one project, gateway {GATEWAY_RATE:g}/s (burst {GATEWAY_BURST})",
            "",
            "| run | budgets | wall (s) | requests | 429s | 429 share | peak req/s "
            "| tasks stopped | exit codes | noticed s (median / max) | target |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
        ]
        for i, r in enumerate(operators["runs"]):
            noticed = r["noticed_s"]
            noticed_cell = (
                f"{statistics.median(noticed):.2f} / {max(noticed):.2f}" if noticed else "-"
            )
            codes = " ".join("killed" if c is None else str(c) for c in r["exit_codes"])
            lines.append(
                f"| {i + 1} | {r['budgets']} | {r['wall_s']:.1f} | {r['requests']} | "
                f"{r['throttled_429']} | {100 * r['share_429']:.1f} % | "
                f"{r['peak_requests_per_second']} | {r['tasks_stopped']}/{r['tasks']} | "
                f"{codes} | {noticed_cell} | {operators_verdict(r)} |"
            )
        m = operators["median"]
        lines += [
            f"| median | | {m['wall_s']:.1f} | {m['requests']:g} | {m['throttled_429']:g} | "
            f"{100 * m['share_429']:.1f} % | | | | | |",
            "",
            f"Targets: 429s at most {100 * TARGET_429_SHARE:g} % of all responses, all "
            f"{OPERATORS * TASKS_PER_OPERATOR} tasks stopped, every process exits 0. Requests "
            f"by kind (run 1): {kinds(operators['runs'][0]['requests_by_kind'])}.",
            "",
        ]
    rows = results.get("compare", [])
    if rows:
        lines += [
            "### 2-3. `dcs-migration stop` vs the official SDK's naive loop (polls every second)",
            "",
            "| N | product requests (median) | naive requests (median) | product / naive "
            "| product noticed s (median / worst) | of which: last request / exit "
            "| naive noticed s (median / worst) | product wall s | naive wall s | target "
            "| verdict |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for row in rows:
            p, b = row["product"], row["naive"]
            if row["n"] >= LARGE_SIZE:
                target = (
                    f">= {TARGET_LARGE_FEWER:g}x fewer, overhead <= {TARGET_LARGE_OVERHEAD_S:g} s"
                )
            else:
                target = f"<= {TARGET_SMALL_REQUEST_RATIO:g}x, within {TARGET_SMALL_NOTICED_S:g} s"
            lines.append(
                f"| {row['n']:,} | {p['requests_median']:g} ({kinds(p['requests_by_kind_median'])}) "
                f"| {b['requests_median']:g} ({kinds(b['requests_by_kind_median'])}) "
                f"| {ratio_cell(row)} "
                f"| {seconds(p['noticed_median_s'])} / {seconds(p['noticed_worst_s'])} "
                f"| {seconds(p['last_request_after_terminated_median_s'], 2)} / "
                f"{seconds(p['exit_after_last_request_median_s'], 2)} "
                f"| {seconds(b['noticed_median_s'])} / {seconds(b['noticed_worst_s'])} "
                f"| {seconds(p['wall_median_s'], 2)} | {seconds(b['wall_median_s'], 2)} "
                f"| {target} | {row['verdict']} |"
            )
        lines += [
            "",
            "*Noticed*: from the simulator's record of the last task reaching TERMINATED to the "
            "process's exit as this benchmark saw it (interpreter exit included, for both tools); "
            "requests judged on the median, noticed on the worst run. *Of which* (medians, to "
            f"within {SAMPLE_PERIOD:g} s, from the simulator's counters sampled meanwhile): the "
            "product's last request after the last TERMINATED, then its exit after that request.",
            "",
        ]
    machine = results["machine"]
    lines += [
        f"Stop delay {STOP_DELAY:g} s +/- {100 * STOP_JITTER:g} %; {results['settings']['repeats']} "
        f"run(s) of each; {machine['cpus']} cores, load average (1/5/15 min) before "
        f"{'/'.join(map(str, machine['loadavg_before']))}, after "
        f"{'/'.join(map(str, machine['loadavg_after']))}; {results['elapsed_s']:.0f} s in all.",
        "The 16-stack fleet against a 20/s gateway (issue 14) is not repeated here: "
        "`make bench-throttle` (bench/throttle.py, bench/throttle-results.json).",
    ]
    return "\n".join(lines)


def code_measured(label: str) -> dict[str, Any]:
    """Which product the processes ran: its version and where it was imported from (a
    ``PYTHONPATH`` can point at another copy), and the repository's commit."""
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pulumi_dcs_migration as p, dcs_simulator as s; print(p.__file__); print(s.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    head = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=60
    )
    version = subprocess.run(
        [str(DCS_MIGRATION), "--version"], capture_output=True, text=True, timeout=60
    )
    return {
        "label": label,
        "git_head": head.stdout.strip() or None,
        "pythonpath": os.environ.get("PYTHONPATH"),
        "modules": probe.stdout.split() or probe.stderr[-500:],
        "version": version.stdout.strip() or version.stderr[-500:],
    }


def operators_median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        key: statistics.median(r[key] for r in runs)
        for key in ("wall_s", "requests", "throttled_429", "share_429")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each case (default 2)")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="which parts, comma-separated: operators (1), small (2: N=1,10), large (3: N=1000)",
    )
    parser.add_argument(
        "--separate-budgets",
        action="store_true",
        help="give each operator its own runtime directory (eight machines, not one)",
    )
    parser.add_argument(
        "--operators-timeout", type=float, default=600.0, help="seconds per eight-operator run"
    )
    parser.add_argument(
        "--process-timeout", type=float, default=180.0, help="seconds per compared process"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON results file")
    parser.add_argument("--label", default="", help="free text kept in the results (which code)")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown or args.repeats < 1:
        parser.error(f"unknown part(s) {sorted(unknown)} or --repeats < 1")

    began = time.perf_counter()
    load_before = loadavg()
    print(f"load average before: {load_before}", file=sys.stderr, flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="policy-bench-") as tmp:
        workdir = Path(tmp)
        if "operators" in parts:
            runs = []
            for repeat in range(args.repeats):
                run = eight_operators(
                    SEED + repeat, args.separate_budgets, args.operators_timeout, workdir
                )
                runs.append(run)
                shown = {k: v for k, v in run.items() if k != "timeline"}
                print(json.dumps(shown), file=sys.stderr, flush=True)
            results["operators"] = {"median": operators_median(runs), "runs": runs}
        sizes = [
            *(SMALL_SIZES if "small" in parts else ()),
            *((LARGE_SIZE,) if "large" in parts else ()),
        ]
        if sizes:
            results["compare"] = [
                compare(n, args.repeats, args.process_timeout, workdir) for n in sizes
            ]
    load_after = loadavg()
    print(f"load average after: {load_after}", file=sys.stderr, flush=True)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "settings": {
            "repeats": args.repeats,
            "parts": parts,
            "operators": OPERATORS,
            "tasks_per_operator": TASKS_PER_OPERATOR,
            "gateway_rate": GATEWAY_RATE,
            "gateway_burst": GATEWAY_BURST,
            "budgets": "separate" if args.separate_budgets else "shared",
            "stop_delay": STOP_DELAY,
            "stop_jitter": STOP_JITTER,
            "seed": SEED,
            "sizes": sizes,
        },
        "code": code_measured(args.label),
        "elapsed_s": round(time.perf_counter() - began, 1),
        **results,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    main()
