"""Erlang A (M/M/N+M) figures the busy-hour benchmark needs beyond ``alo185.queues.erlang``.

``alo185.queues.erlang`` gives Erlang C's SL and ASA (nobody abandons) and Erlang A's abandon share.
A queue whose callers do abandon answers fewer, and sooner, than Erlang C says, so the measured SL
and ASA are also put next to Erlang A's: P(answered within T) over all callers, and the mean wait
of the answered (the ASA of the figures).

A caller who arrives to find ``q`` callers already waiting (all N agents busy) moves up one place at
rate Nμ + jθ while j are ahead of it, and gives up at rate θ. The time it spends with j ahead is
exponential with rate Nμ + (j+1)θ whichever happens, so its wait, if it is answered, is the sum of
those times, and it is answered with probability Π (Nμ + jθ) / (Nμ + (j+1)θ).
"""

from __future__ import annotations

import heapq
import math
import random

from alo185.queues.erlang import stationary


def _hypoexp_cdf(rates: list[float], t: float) -> float:
    """P(the sum of independent Exp(rates) ≤ t), by uniformisation (stable for many close rates)."""
    top = max(rates)
    mean = top * t
    stages = len(rates)
    dist = [0.0] * (stages + 1)  # stages completed so far
    dist[0] = 1.0
    weight = math.exp(-mean)  # Poisson(m; mean) for m = 0, 1, …
    done = weight * dist[stages]
    jumps = int(mean + 12 * math.sqrt(mean + 1) + 20)
    for m in range(1, jumps + 1):
        step = [0.0] * (stages + 1)
        step[stages] = dist[stages]
        for k in range(stages):
            moved = dist[k] * rates[k] / top
            step[k + 1] += moved
            step[k] += dist[k] - moved
        dist = step
        weight *= mean / m
        done += weight * dist[stages]
    return min(1.0, done)


def erlang_a(
    arrival_rate: float, service_rate: float, agents: int, patience_rate: float, target_s: float
) -> dict[str, float]:
    """SL at ``target_s`` (of all callers), ASA of the answered, and the abandon share, under Erlang A."""
    if patience_rate <= 0:
        raise ValueError("patience_rate must be positive")
    probs = stationary(arrival_rate, service_rate, agents, patience_rate)
    answered = within = wait_sum = 0.0
    for n, p in enumerate(probs):
        if n < agents:
            answered += p
            within += p
            continue
        ahead = n - agents
        rates = [agents * service_rate + (j + 1) * patience_rate for j in range(ahead, -1, -1)]
        served = math.prod(agents * service_rate + j * patience_rate for j in range(ahead + 1)) / math.prod(rates)
        answered += p * served
        within += p * served * _hypoexp_cdf(rates, target_s)
        wait_sum += p * served * sum(1 / r for r in rates)
    return {
        "sl": within,
        "asa_answered_s": wait_sum / answered,
        "abandon": 1.0 - answered,
        "p_wait": sum(probs[agents:]),
    }


def simulate(
    arrival_rate: float,
    service_rate: float,
    agents: int,
    patience_rate: float,
    target_s: float,
    poll_s: float,
    callers: int = 50_000,
    seed: int = 1,
) -> dict[str, float]:
    """The same queue, simulated, with Asterisk's way of handing a free operator to a waiting caller.

    A caller who finds every operator busy looks again every ``poll_s`` from joining (app_queue's
    ``retry`` for the head of the line, its one-second recheck for the others) and is connected at the
    first look that finds an operator free for its place in line. With ``poll_s`` = 0 the waiting
    caller is connected the moment an operator frees up: Erlang A itself (a check of the simulation).
    """
    rng, t, drawn = random.Random(seed), 0.0, []
    for _ in range(callers):
        t += rng.expovariate(arrival_rate)
        drawn.append((t, rng.expovariate(service_rate), rng.expovariate(patience_rate)))
    return replay(drawn, agents, target_s, poll_s)


def replay(
    callers: list[tuple[float, float, float]], agents: int, target_s: float, poll_s: float, measured_from: float = 0.0
) -> dict[str, float]:
    """FCFS queue with abandonment for given (join time, handle time, patience) callers, as ``simulate`` describes.

    Figures over the callers joining from ``measured_from`` on (the others still load the operators).
    """
    events: list[tuple[float, int, int]] = []  # (time, kind, caller): 0 join, 1 look, 2 call ends, 3 patience ends
    settled = [False] * len(callers)
    for i, (joined, _handle, _patience) in enumerate(callers):
        heapq.heappush(events, (joined, 0, i))
    busy = 0
    line: list[int] = []  # the callers waiting, in order
    answered = abandoned = within = 0
    wait_sum = 0.0

    def connect(now: float, i: int) -> None:
        nonlocal busy, answered, within, wait_sum
        settled[i], busy = True, busy + 1
        heapq.heappush(events, (now + callers[i][1], 2, i))
        if callers[i][0] >= measured_from:
            answered += 1
            wait_sum += now - callers[i][0]
            within += now - callers[i][0] <= target_s

    while events:
        now, kind, i = heapq.heappop(events)
        if kind == 0:
            if busy < agents and not line:
                connect(now, i)
                continue
            line.append(i)
            heapq.heappush(events, (now + callers[i][2], 3, i))
            if poll_s:
                heapq.heappush(events, (now + poll_s, 1, i))
        elif kind == 1 and not settled[i]:
            if line.index(i) < agents - busy:
                line.remove(i)
                connect(now, i)
            else:
                heapq.heappush(events, (now + poll_s, 1, i))
        elif kind == 2:
            busy -= 1
            if not poll_s and line:
                connect(now, line.pop(0))
        elif kind == 3 and not settled[i]:
            settled[i] = True
            line.remove(i)
            abandoned += callers[i][0] >= measured_from
    total = answered + abandoned
    return {
        "sl": within / total if total else math.nan,
        "asa_answered_s": wait_sum / answered if answered else math.nan,
        "abandon": abandoned / total if total else math.nan,
    }
