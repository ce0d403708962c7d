"""The Erlang A figures of the busy-hour benchmark against what they must agree with."""

from __future__ import annotations

import math

from alo185.queues import erlang
from bench.busy_hour_model import _hypoexp_cdf, erlang_a, simulate

LAMBDA, MU, AGENTS = 0.85 * 5 / 7, 1 / 7, 5


def test_abandon_share_is_queue_managers_erlang_a() -> None:
    figures = erlang_a(LAMBDA, MU, AGENTS, 1 / 15, 5)
    assert math.isclose(figures["abandon"], erlang.erlang_a_abandon(LAMBDA, MU, AGENTS, 1 / 15), rel_tol=1e-9)


def test_almost_infinite_patience_is_erlang_c() -> None:
    figures = erlang_a(LAMBDA, MU, AGENTS, 1e-7, 5)
    assert math.isclose(figures["sl"], erlang.service_level(LAMBDA, MU, AGENTS, 5), abs_tol=1e-4)
    assert math.isclose(figures["asa_answered_s"], erlang.asa(LAMBDA, MU, AGENTS), rel_tol=1e-3)
    assert math.isclose(figures["p_wait"], erlang.erlang_c(LAMBDA, MU, AGENTS), abs_tol=1e-4)


def test_impatience_answers_fewer_and_sooner() -> None:
    patient, impatient = erlang_a(LAMBDA, MU, AGENTS, 1 / 60, 5), erlang_a(LAMBDA, MU, AGENTS, 1 / 5, 5)
    assert impatient["abandon"] > patient["abandon"] and impatient["asa_answered_s"] < patient["asa_answered_s"]


def test_hypoexponential_cdf() -> None:
    assert math.isclose(_hypoexp_cdf([0.5], 3.0), 1 - math.exp(-1.5), rel_tol=1e-9)
    a, b, t = 0.5, 2.0, 1.7  # two stages: 1 - (b e^-at - a e^-bt) / (b - a)
    assert math.isclose(_hypoexp_cdf([a, b], t), 1 - (b * math.exp(-a * t) - a * math.exp(-b * t)) / (b - a))


def test_simulation_without_polling_is_erlang_a() -> None:
    model = erlang_a(LAMBDA, MU, AGENTS, 1 / 15, 5)
    sim = simulate(LAMBDA, MU, AGENTS, 1 / 15, 5, poll_s=0.0, callers=50_000, seed=7)
    assert abs(sim["sl"] - model["sl"]) < 0.015 and abs(sim["abandon"] - model["abandon"]) < 0.01
    assert abs(sim["asa_answered_s"] - model["asa_answered_s"]) < 0.1


def test_looking_again_only_every_second_answers_later() -> None:
    at_once = simulate(LAMBDA, MU, AGENTS, 1 / 15, 5, poll_s=0.0, callers=20_000, seed=7)
    polled = simulate(LAMBDA, MU, AGENTS, 1 / 15, 5, poll_s=1.0, callers=20_000, seed=7)
    assert polled["asa_answered_s"] > at_once["asa_answered_s"] and polled["abandon"] > at_once["abandon"]
