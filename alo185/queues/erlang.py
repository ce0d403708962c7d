"""Queueing predictions to compare measured figures with: Erlang C (no abandonment) and Erlang A.

λ: arrivals per second, μ: 1 / mean handle time, N: agents, θ: 1 / mean patience.
Erlang C gives the wait probability, the service level and the ASA of an M/M/N queue;
Erlang A (M/M/N+M) the share of callers who abandon, from its birth-death chain.
"""

from __future__ import annotations

import math


def _saturated(load: float, agents: int) -> bool:
    """The agents cannot keep up (with room for rounding: 100/h at 3 min is 5 Erlangs, not 4.999…)."""
    return load >= agents or math.isclose(load, agents, rel_tol=1e-9)


def erlang_c(arrival_rate: float, service_rate: float, agents: int) -> float:
    """P(a caller waits); 1.0 when the load is at or above the agents' capacity."""
    load = arrival_rate / service_rate
    if _saturated(load, agents):
        return 1.0
    term, total = 1.0, 1.0  # A^k / k!, summed for k < N
    for k in range(1, agents):
        term *= load / k
        total += term
    top = term * load / agents * agents / (agents - load)  # A^N / N! * N / (N - A)
    return top / (total + top)


def service_level(arrival_rate: float, service_rate: float, agents: int, target_s: float) -> float:
    """P(answered within ``target_s``) under Erlang C."""
    load = arrival_rate / service_rate
    if _saturated(load, agents):
        return 0.0
    return 1.0 - erlang_c(arrival_rate, service_rate, agents) * math.exp(-(agents - load) * service_rate * target_s)


def asa(arrival_rate: float, service_rate: float, agents: int) -> float:
    """Mean wait of all callers under Erlang C (infinite when overloaded)."""
    if _saturated(arrival_rate / service_rate, agents):
        return math.inf
    return erlang_c(arrival_rate, service_rate, agents) / (agents * service_rate - arrival_rate)


def erlang_a_abandon(arrival_rate: float, service_rate: float, agents: int, patience_rate: float) -> float:
    """P(a caller abandons) in M/M/N+M, from the stationary distribution of its birth-death chain."""
    if patience_rate <= 0:
        raise ValueError("patience_rate must be positive (use Erlang C without abandonment)")
    probs = stationary(arrival_rate, service_rate, agents, patience_rate)
    abandoning = sum(p * (k - agents) * patience_rate for k, p in enumerate(probs) if k > agents)
    return abandoning / arrival_rate


def stationary(arrival_rate: float, service_rate: float, agents: int, patience_rate: float) -> list[float]:
    """P(n callers in the system) of M/M/N+M; what an arrival sees (Poisson arrivals see time averages)."""
    weights = [1.0]
    n = 0
    while True:
        n += 1
        death = min(n, agents) * service_rate + max(n - agents, 0) * patience_rate
        weights.append(weights[-1] * arrival_rate / death)
        if n > agents and weights[-1] < 1e-12 * sum(weights):
            break
    total = sum(weights)
    return [w / total for w in weights]
