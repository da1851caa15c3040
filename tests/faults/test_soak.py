"""A bounded, seeded soak: the engine's report must be exactly true after every run."""

from __future__ import annotations

from pulumi_dcs_migration.simulator import RunningSimulator

from .soak import soak


def test_soak_reports_exactly_what_happened(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim: RunningSimulator = simulator_factory(stop_delay=0.2, rng_seed=5)
    result = soak(sim, seed=20261128, runs=25, max_seconds=150)
    print(result.summary())
    assert result.runs >= 10  # the bound in time must still leave a meaningful sample
    assert result.faults_injected > 0
    assert result.mismatches == []
    # Exhausted retries end a run with a clear error; with these fault rates that is rare.
    assert len(result.errors) <= result.runs // 5, result.errors
