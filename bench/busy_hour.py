"""A time-compressed busy hour through the real Asterisk, next to Erlang C and Erlang A for the same load.

Callers arrive as a Poisson stream (a seeded RNG), each with an exponential handle time and an
exponential patience drawn once, and go through the real IVR (recording notice, Türkçe, 3: the
cleaning queue) into one queue answered by N simulated operators. The same callers, with the same
draws, make two runs on one instance:

- plain: no overflow offer; a caller waits until answered or until their patience runs out;
- callback: the overflow offer on (``overflow_offer``); a caller offered the callback takes it
  (presses 1 during the offer), hangs up, and is called back when their placeholder's turn comes.

How the pieces are simulated (``asterisk_conf/extensions.conf``):

- an operator is the queue member ``Local/a-<n>@alo185-sim-operator``: it answers at once (no ring
  time) and talks the caller's own handle time, which the caller carries as the inherited channel
  variable ``ALO185_SIM_TALK_S``;
- a callback's placeholder carries no handle time: the operator stays on until the citizen called
  back (``[alo185-sim-timed-citizen]``, answering at once) hangs up, after the handle time stored for
  their number in AstDB plus the greeting. A callback therefore costs the operator the notice and the
  greeting on top of the handle time, as a real one does. Those two prompts (about 4.5 s and 7 s)
  are compressed like the hour: the instance gets uploaded recordings of silence as long as the
  real prompt divided by the compression (``REAL_AHT_S`` / mean handle time); uncompressed they would
  cost more operator time than the conversation;
- patience is counted from the moment the caller joins the queue (AMI ``QueueCallerJoin``): the
  benchmark hangs the caller up (AMI ``Hangup``) when it runs out before an operator answered;
- once the operator hangs up, the benchmark hangs up the caller too (no survey: it is not the
  subject, and its AGI sessions would only add load).

Measured figures come from the call records (``wait_s`` is Asterisk's whole-second hold time) and
are checked against ``queue_log``; the same waits from AMI event timestamps (sub-second) are given
too. Calls arriving in the first ``warmup_s`` of each run are not measured: the queue starts empty.

Predicted: Erlang C and Erlang A for the nominal load and for the realised one (the arrival rate
measured at the queue, the operators' mean time per call), and the same M/M/N+M queue simulated with
Asterisk's ``retry`` (a waiting caller looks for a free operator once a second), which a compressed
hour feels far more than a real one (``bench/busy_hour_model.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import statistics
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from panoramisk import Manager
from sqlalchemy import select

from alo185 import services
from alo185.callbacks.models import PLACEHOLDER_PREFIX, Callback
from alo185.calls.models import CallRecord
from alo185.core import ami, db, procs
from alo185.core.settings import Settings
from alo185.queues import erlang
from alo185.queues.service_level import figures, figures_from_records, parse
from bench.busy_hour_model import erlang_a, replay, simulate
from harness.instance import Stack, isolated_settings, running_stack

QUEUE, PATH = "temizlik", "1w3"  # Türkçe, then 3: cleaning (open around the clock)
# Asterisk's Answer() waits up to 0.5 s for media before the dialplan goes on, and a Local channel has none:
# a simulated operator (or citizen) talks that much longer than its Wait(), so it is given that much less.
ANSWER_MEDIA_WAIT_S = 0.5
REAL_AHT_S = 180.0  # the handle time of a real hotline call the compressed mean stands for
CALLBACK_PROMPTS = ("callback_notice", "callback_greeting")  # what a callback costs the operator besides the talk
OPERATOR = "Local/a-{n}@alo185-sim-operator/n"
CITIZEN_DIAL = "Local/{digits}@alo185-sim-timed-citizen"


@dataclass(frozen=True)
class Load:
    """The compressed hour: N operators at utilisation ρ, so λ = ρ N / mean handle time."""

    operators: int
    handle_s: float  # mean handle time (exponential)
    patience_s: float  # mean patience (exponential)
    utilisation: float
    window_s: float  # arrivals for this long, per run
    warmup_s: float  # arrivals before this are not measured
    target_s: float = 5.0
    seed: int = 185

    @property
    def arrival_rate(self) -> float:
        return self.utilisation * self.operators / self.handle_s


FULL = Load(operators=5, handle_s=7.0, patience_s=15.0, utilisation=0.85, window_s=230.0, warmup_s=20.0)
QUICK = Load(operators=3, handle_s=2.0, patience_s=5.0, utilisation=0.9, window_s=8.0, warmup_s=0.0)


@dataclass(frozen=True)
class Arrival:
    index: int
    at_s: float
    handle_s: float
    patience_s: float


def arrivals(load: Load) -> list[Arrival]:
    """The callers of one run, the same for both runs (common random numbers make the policies comparable)."""
    rng, t = random.Random(load.seed), 0.0
    found: list[Arrival] = []
    while True:
        t += rng.expovariate(load.arrival_rate)
        if t >= load.window_s:
            return found
        handle, patience = rng.expovariate(1 / load.handle_s), rng.expovariate(1 / load.patience_s)
        found.append(Arrival(len(found), round(t, 3), round(max(handle, 0.05), 2), round(patience, 2)))


@dataclass
class Seen:
    """What AMI told about one call (timestamps are Asterisk's, in seconds)."""

    arrival: Arrival | None
    channel: str = ""
    joined: float | None = None
    connected: float | None = None
    completed: float | None = None
    abandoned: float | None = None
    ended: bool = False
    patience_hangup: bool = False
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Driver:
    """Places the calls at their times and plays the callers' patience, from one AMI connection."""

    def __init__(self, stack: Stack, tag: str, keys: str, citizen_extra_s: float) -> None:
        self.stack, self.tag, self.keys, self.citizen_extra_s = stack, tag, keys, citizen_extra_s
        self.calls: dict[str, Seen] = {}
        self.placeholders: dict[str, Seen] = {}
        self.manager: Manager | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Future] = set()

    def uniqueid(self, a: Arrival) -> str:
        return f"bh{self.tag}{a.index:04d}-{int(time.time())}"

    @staticmethod
    def number(tag: str, a: Arrival) -> str:
        return f"+9053{'2' if tag == 'p' else '3'}7{a.index:06d}"

    def _seen(self, message: Any) -> Seen | None:
        uid = str(message.get("Uniqueid", ""))
        if uid in self.calls:
            return self.calls[uid]
        if uid.startswith(PLACEHOLDER_PREFIX) and uid.endswith("-q"):
            return self.placeholders.setdefault(uid, Seen(None))
        return None

    @staticmethod
    def _ts(message: Any) -> float:
        try:
            return float(message.get("Timestamp", ""))
        except ValueError:
            return time.time()

    def on_join(self, _manager: Manager, message: Any) -> None:
        seen = self._seen(message)
        if seen is None:
            return
        seen.joined, seen.channel = self._ts(message), str(message.get("Channel", ""))
        if seen.arrival is not None and self.loop is not None:
            seen.timer = self.loop.call_later(seen.arrival.patience_s, self._give_up, seen)

    def on_connect(self, _manager: Manager, message: Any) -> None:
        if (seen := self._seen(message)) is not None:
            seen.connected = self._ts(message)
            if seen.timer is not None:
                seen.timer.cancel()

    def on_complete(self, _manager: Manager, message: Any) -> None:
        if (seen := self._seen(message)) is not None:
            seen.completed = self._ts(message)
            if seen.arrival is not None and not seen.ended:
                self._hang_up(seen)  # the operator is done: the caller goes too (no survey)

    def on_abandon(self, _manager: Manager, message: Any) -> None:
        if (seen := self._seen(message)) is not None:
            seen.abandoned = self._ts(message)

    def on_hangup(self, _manager: Manager, message: Any) -> None:
        if (seen := self._seen(message)) is not None:
            seen.ended = True
            if seen.timer is not None:
                seen.timer.cancel()

    def _give_up(self, seen: Seen) -> None:
        if seen.connected is None and not seen.ended:
            seen.patience_hangup = True
            self._hang_up(seen)

    def _hang_up(self, seen: Seen) -> None:
        if self.manager is not None and seen.channel:
            hangup = ami.action(self.manager, {"Action": "Hangup", "Channel": seen.channel})
            task = asyncio.ensure_future(_quietly(hangup))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _place(self, a: Arrival) -> None:
        assert self.manager is not None
        uid, number = self.uniqueid(a), self.number(self.tag, a)
        self.calls[uid] = Seen(a)
        digits = number.lstrip("+")  # the citizen's phone, if called back, talks as long (after the greeting)
        talk = f"{self.citizen_extra_s + _wait_for(a.handle_s):.2f}"
        await ami.action(self.manager, {"Action": "DBPut", "Family": "alo185sim", "Key": f"talk/{digits}", "Val": talk})
        await ami.action(
            self.manager,
            {
                "Action": "Originate",
                "Channel": f"Local/k{self.keys}@alo185-sim-caller/n",
                "Context": "alo185-inbound",
                "Exten": "185",
                "Priority": "1",
                "CallerID": f'"Vatandaş" <{number}>',
                "ChannelId": uid,
                "OtherChannelId": f"{uid}-phone",
                "Variable": f"__ALO185_SIM_TALK_S={_wait_for(a.handle_s):.2f}",
                "Timeout": "30000",
                "Async": "true",
            },
        )

    async def drive(self, calls: list[Arrival], drain_s: float) -> None:
        """Place every call at its time; return once all have ended and no placeholder is left."""
        self.loop = asyncio.get_running_loop()
        self.manager = await ami.connect(self.stack.settings)
        routes = {
            "QueueCallerJoin": self.on_join,
            "AgentConnect": self.on_connect,
            "AgentComplete": self.on_complete,
            "QueueCallerAbandon": self.on_abandon,
            "Hangup": self.on_hangup,
        }
        for name, handler in routes.items():
            self.manager.register_event(name, handler)
        try:
            start, tasks = self.loop.time(), []
            for a in calls:
                await asyncio.sleep(max(0.0, start + a.at_s - self.loop.time()))
                tasks.append(asyncio.ensure_future(self._place(a)))
            await asyncio.gather(*tasks)
            deadline = self.loop.time() + drain_s
            while self.loop.time() < deadline:
                open_calls = [s for s in self.calls.values() if not s.ended]
                open_holds = [s for s in self.placeholders.values() if not s.ended]
                if not open_calls and not open_holds and await self._callbacks_settled():
                    break
                await asyncio.sleep(0.5)
        finally:
            ami.disconnect(self.manager)

    async def _callbacks_settled(self) -> bool:
        def check() -> bool:
            with db.session_factory(self.stack.settings.database_url)() as s:
                rows = s.scalars(select(Callback.state).where(Callback.call_uniqueid.in_(list(self.calls)))).all()
            return all(state in ("connected", "failed", "cancelled") for state in rows)

        return await asyncio.get_running_loop().run_in_executor(None, check)


def _wait_for(handle_s: float) -> float:
    """The Wait() after Answer() that keeps the channel up ``handle_s`` in all."""
    return max(0.0, handle_s - ANSWER_MEDIA_WAIT_S)


def _note(what: str, t0: float) -> None:
    print(f"{time.monotonic() - t0:7.1f} s  {what}", file=sys.stderr, flush=True)


async def _quietly(action: Any) -> None:
    with contextlib.suppress(ami.AmiError, TimeoutError):
        await action


def _wav_s(path: Path) -> float:
    if not path.exists():
        return 0.0
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _prompt_s(stack: Stack, prompt_id: str) -> float:
    from alo185.menu.prompt_files import PromptFiles

    return _wav_s(PromptFiles(stack.pbx.instance_dir / "sounds").file("tr", prompt_id))


def _compress_prompts(stack: Stack, factor: float) -> dict[str, float]:
    """Upload silence as long as each callback prompt over ``factor``; returns the real and compressed lengths."""
    from alo185.menu.prompt_files import PromptFiles

    files, lengths = PromptFiles(stack.pbx.instance_dir / "sounds"), {}
    for prompt_id in CALLBACK_PROMPTS:
        real = _wav_s(files.file("tr", prompt_id))
        short = round(real / factor, 2)
        target = files.uploaded("tr", prompt_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(target), "wb") as w:  # as the admin's upload leaves it: 8 kHz mono 16-bit
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * int(short * 8000))
        lengths[f"{prompt_id}_s"], lengths[f"{prompt_id}_compressed_s"] = round(real, 2), short
    return lengths


def _staff(stack: Stack, count: int) -> None:
    async def go() -> None:
        async with ami.session(stack.settings) as manager:
            for n in range(1, count + 1):
                fields = {"Queue": QUEUE, "Interface": OPERATOR.format(n=n), "MemberName": f"Yoğun saat {n}"}
                await ami.action(manager, {"Action": "QueueAdd", **fields})

    asyncio.run(go())


def _offer_on(stack: Stack) -> None:
    """The IVR's process again with the overflow offer on (the setting is read at its start)."""
    procs.stop(stack.settings, "agi")
    services.start_process(stack.settings.replace(overflow_offer=True), services.process("agi"))


def _records(settings: Settings, uids: list[str]) -> dict[str, CallRecord]:
    """The calls' records once each is finished (ended, and its talk time known if answered)."""

    def done(r: CallRecord) -> bool:
        return r.ended_at is not None and (not r.answered or r.talk_s is not None)

    found: dict[str, CallRecord] = {}

    def check() -> bool:
        with db.session_factory(settings.database_url)() as s:
            for r in s.scalars(select(CallRecord).where(CallRecord.uniqueid.in_(uids))):
                if done(r):
                    s.expunge(r)
                    found[r.uniqueid] = r
        return len(found) == len(uids)

    procs.wait_until(check, 60, interval=0.5)
    return found


def _callbacks(settings: Settings, uids: list[str]) -> list[Callback]:
    with db.session_factory(settings.database_url)() as s:
        rows = list(s.scalars(select(Callback).where(Callback.call_uniqueid.in_(uids))))
        for row in rows:
            s.expunge(row)
        return rows


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _handoff_gaps(callers: list[Seen], everything: list[Seen]) -> list[float]:
    """For callers who waited while every operator was busy: from the call that freed their operator ending to them
    being connected. Zero in the model; Asterisk's queue looks again only every ``retry`` (1 s) second."""
    ends = sorted(s.completed for s in everything if s.completed is not None)
    gaps = []
    for s in callers:
        if s.joined is None or s.connected is None or s.connected - s.joined < 0.05:
            continue
        freed = [t for t in ends if s.joined <= t <= s.connected]
        if freed:
            gaps.append(s.connected - freed[-1])
    return gaps


def measure(stack: Stack, driver: Driver, load: Load) -> dict[str, Any]:
    """One run's figures over the measured callers (those arriving after the warm-up)."""
    measured = [u for u, s in driver.calls.items() if s.arrival is not None and s.arrival.at_s >= load.warmup_s]
    records = _records(stack.settings, measured)
    rs = [records[u] for u in measured if u in records]
    queued = [r for r in rs if r.answered or r.abandoned]
    answered = [r for r in queued if r.answered]
    took_callback = [r for r in rs if r.outcome == "callback"]
    waits = [float(r.wait_s or 0) for r in answered]
    seen = [driver.calls[u] for u in measured]
    precise = [s.connected - s.joined for s in seen if s.connected is not None and s.joined is not None]
    busy = [
        s.completed - s.connected
        for s in (*driver.calls.values(), *driver.placeholders.values())
        if s.completed is not None and s.connected is not None
    ]
    joins = sorted(s.joined for s in seen if s.joined is not None)
    gaps = _handoff_gaps(seen, [*driver.calls.values(), *driver.placeholders.values()])
    ours = figures_from_records(queued, short_abandon_s=load.target_s).get(QUEUE)
    log = stack.pbx.instance_dir / "log" / "queue_log"
    from_log = figures(parse(log.read_text().splitlines()), short_abandon_s=load.target_s, callids=set(measured))[0]
    theirs = from_log.get(QUEUE)
    callbacks = _callbacks(stack.settings, measured)
    connected = [c for c in callbacks if c.state == "connected"]
    delays = [(c.ended_at - c.requested_at).total_seconds() for c in connected if c.ended_at and c.requested_at]
    everyone = len(queued) + len(took_callback)  # callers who reached the queue or took the callback instead
    result = {
        "callers": len(measured),
        "records": len(rs),
        "queued": len(queued),
        "answered": len(answered),
        "abandoned": sum(1 for r in queued if r.abandoned),
        "took_callback": len(took_callback),
        "other_outcomes": len(rs) - len(queued) - len(took_callback),
        "abandon": _share(sum(1 for r in queued if r.abandoned), everyone),
        "sl": _share(sum(1 for w in waits if w <= load.target_s), len(queued)),
        "sl_precise": _share(sum(1 for w in precise if w <= load.target_s), len(queued)),
        "sl_figures": ours.as_dict((load.target_s,))[f"sl_{int(load.target_s)}s"] if ours else None,
        "asa_s": _mean(waits),
        "asa_precise_s": _mean(precise),
        "aht_s": _mean([float(r.talk_s) for r in answered if r.talk_s is not None]),
        "patience_hangups": sum(1 for s in seen if s.patience_hangup),
        "arrival_rate_at_queue": round((len(joins) - 1) / (joins[-1] - joins[0]), 4) if len(joins) > 1 else None,
        "mean_operator_time_per_call_s": _mean(busy),
        "handoff_gap_s": _mean(gaps),
        "handoffs": len(gaps),
        "callbacks_made": len(callbacks),
        "callbacks_connected": len(connected),
        "callback_delay_s": _mean(delays),
        "queue_log": theirs.as_dict((load.target_s,)) if theirs else None,
    }
    if ours and theirs:
        a, b = ours.as_dict((load.target_s,)), theirs.as_dict((load.target_s,))
        result["queue_log_agrees"] = all(a[k] == b[k] for k in ("offered", "answered", "abandoned"))
    return result


def queue_retry_s() -> float:
    """The queues' ``retry`` (``asterisk_conf/queues.conf``): how often a waiting caller looks for a free operator."""
    conf = Path(__file__).resolve().parents[1] / "asterisk_conf" / "queues.conf"
    found = re.search(r"^retry\s*=\s*([0-9.]+)", conf.read_text(), re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def predict(load: Load, arrival_rate: float, handle_s: float) -> dict[str, float]:
    """Erlang C and Erlang A for the load (λ, μ = 1/handle, N, θ = 1/patience), and the same queue simulated
    with Asterisk's retry: what the compression leaves of that one-second granularity."""
    mu, theta = 1 / handle_s, 1 / load.patience_s
    a = erlang_a(arrival_rate, mu, load.operators, theta, load.target_s)
    sim = simulate(arrival_rate, mu, load.operators, theta, load.target_s, poll_s=queue_retry_s(), seed=load.seed)
    return {
        "arrival_rate": round(arrival_rate, 4),
        "handle_s": round(handle_s, 3),
        "utilisation": round(arrival_rate * handle_s / load.operators, 4),
        "sl_erlang_c": round(erlang.service_level(arrival_rate, mu, load.operators, load.target_s), 4),
        "asa_erlang_c_s": round(erlang.asa(arrival_rate, mu, load.operators), 3),
        **_queue_figures(a, "_erlang_a"),
        **_queue_figures(sim, "_sim_retry"),
    }


def same_callers(load: Load, calls: list[Arrival]) -> dict[str, float]:
    """The run's own callers (arrival, handle time, patience) through the model's queue, without and with
    Asterisk's retry: what is left between it and the measurement is Asterisk's, not the sample's."""
    drawn = [(a.at_s, a.handle_s, a.patience_s) for a in calls]
    ideal = replay(drawn, load.operators, load.target_s, 0.0, measured_from=load.warmup_s)
    retry = replay(drawn, load.operators, load.target_s, queue_retry_s(), measured_from=load.warmup_s)
    return {**_queue_figures(ideal), **_queue_figures(retry, "_retry")}


def _queue_figures(model: dict[str, float], suffix: str = "") -> dict[str, float]:
    """A model's SL, ASA and abandonment, rounded: keys ``sl<suffix>``, ``asa<suffix>_s``, ``abandon<suffix>``."""
    return {
        f"sl{suffix}": round(model["sl"], 4),
        f"asa{suffix}_s": round(model["asa_answered_s"], 3),
        f"abandon{suffix}": round(model["abandon"], 4),
    }


def _table(load: Load, figures: dict[str, Any]) -> str:
    """Measured next to predicted, one line a figure."""

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    nominal, same = figures["predicted"], figures["same_callers"]
    plain, callback = figures["plain"], figures["callback"]
    columns = ("measured", "Erlang C", "Erlang A", "A+retry", "same", "same+retry", "callback on")
    keys = {  # figure: (measured, Erlang C, Erlang A, Erlang A with retry, same callers, the same with retry)
        f"SL ({load.target_s:g} s)": ("sl", "sl_erlang_c", "sl_erlang_a", "sl_sim_retry", "sl", "sl_retry"),
        "ASA (s)": ("asa_s", "asa_erlang_c_s", "asa_erlang_a_s", "asa_sim_retry_s", "asa_s", "asa_retry_s"),
        "abandon": ("abandon", "", "abandon_erlang_a", "abandon_sim_retry", "abandon", "abandon_retry"),
    }
    lines = [f"{'':26}" + "".join(f"{c:>12}" for c in columns)]
    for name, (m, c, a, r, sm, sr) in keys.items():
        values = (plain[m], nominal.get(c), nominal[a], nominal[r], same[sm], same[sr], callback[m])
        lines.append(f"{name:26}" + "".join(f"{fmt(v):>12}" for v in values))
    made = f"{callback['callbacks_made']}/{callback['callbacks_connected']}"
    lines.append(f"{'callbacks made/connected':26}" + "".join(f"{'-':>12}" for _ in range(6)) + f"{made:>12}")
    return "\n".join(lines)


def run(quick: bool = False) -> dict[str, Any]:
    load = QUICK if quick else FULL
    calls = arrivals(load)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp:
        # Calls are not recorded: the audio files are no part of the queueing and only add load.
        quiet = {"record_calls": False} if hasattr(Settings, "record_calls") else {}
        settings = isolated_settings(Path(tmp), callback_dial=CITIZEN_DIAL, callback_retry_s=3, **quiet)
        with running_stack(settings) as stack:
            _note("stack up", t0)
            _staff(stack, load.operators)
            prompts = _compress_prompts(stack, REAL_AHT_S / load.handle_s)
            extra = _prompt_s(stack, "callback_greeting")
            keys = stack.after_notice(PATH, 3, "1", 2, "1")  # the 1s count only during an offer
            plain = Driver(stack, "p", keys, extra)
            asyncio.run(plain.drive(calls, drain_s=120))
            _note("plain run", t0)
            plain_figures = measure(stack, plain, load)
            _note("plain measured", t0)
            _offer_on(stack)
            offered = Driver(stack, "c", keys, extra)
            asyncio.run(offered.drive(calls, drain_s=240))
            _note("callback run", t0)
            callback_figures = measure(stack, offered, load)
            _note("callback measured", t0)
    nominal = predict(load, load.arrival_rate, load.handle_s)
    drawn = [a for a in calls if a.at_s >= load.warmup_s]
    realised_rate = plain_figures["arrival_rate_at_queue"] or load.arrival_rate
    realised_handle = plain_figures["mean_operator_time_per_call_s"] or load.handle_s
    result = {
        "sl_measured": plain_figures["sl"],
        "sl_erlang": nominal["sl_erlang_c"],
        "asa_measured_s": plain_figures["asa_s"],
        "asa_erlang_s": nominal["asa_erlang_c_s"],
        "abandon_plain": plain_figures["abandon"],
        "abandon_callback": callback_figures["abandon"],
        "sl_erlang_a": nominal["sl_erlang_a"],
        "asa_erlang_a_s": nominal["asa_erlang_a_s"],
        "abandon_erlang_a": nominal["abandon_erlang_a"],
        "sl_callback": callback_figures["sl"],
        "asa_callback_s": callback_figures["asa_s"],
        "callbacks_made": callback_figures["callbacks_made"],
        "callbacks_connected": callback_figures["callbacks_connected"],
        "parameters": {
            **asdict(load),
            "arrival_rate": round(load.arrival_rate, 4),
            "queue": QUEUE,
            "calls_per_run": len(calls),
            "measured_per_run": len(drawn),
            "drawn_mean_handle_s": _mean([a.handle_s for a in drawn]),
            "drawn_mean_patience_s": _mean([a.patience_s for a in drawn]),
            "compression": round(REAL_AHT_S / load.handle_s, 1),
            **prompts,
        },
        "predicted": nominal,
        "same_callers": same_callers(load, calls),
        "predicted_realised": predict(load, realised_rate, realised_handle),
        "plain": plain_figures,
        "callback": callback_figures,
        "wall_s": round(time.monotonic() - t0, 1),
        # every measured caller has a finished record, and the records agree with queue_log
        "state_ok": all(
            f["records"] == f["callers"] and f.get("queue_log_agrees", f["queued"] == 0)
            for f in (plain_figures, callback_figures)
        ),
    }
    print(_table(load, result))
    return result
