"""A bounded, seeded soak: the engine's report must be exactly true after every run, and the
same seed must give the same runs."""

from __future__ import annotations

from dcs_simulator.testing.soak import run_soak


def test_soak_reports_exactly_what_happened() -> None:
    result = run_soak(seed=20261128, runs=40, max_seconds=600)
    print(result.summary())
    assert result.runs == 40
    assert result.faults_injected > 0
    assert result.mismatches == []
    # Exhausted retries end a run with a clear error; with these fault rates that is rare.
    assert len(result.errors) <= result.runs // 5, result.errors


def test_soak_is_deterministic_for_a_seed() -> None:
    first = run_soak(seed=77, runs=15, max_seconds=600)
    second = run_soak(seed=77, runs=15, max_seconds=600)
    assert first.runs == second.runs == 15
    assert first.trace == second.trace
    assert (first.faults_injected, first.outcomes, first.errors) == (
        second.faults_injected,
        second.outcomes,
        second.errors,
    )
