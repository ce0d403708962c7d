"""The call flow of the 185 line as a generator: it yields commands, the adapter answers them.

``run_call`` never touches a socket: the FastAGI adapter (or a test) executes each command
(play, collect digits, ask the PBX how many operators are logged in) and sends the result
back. It returns the call's ``Outcome``. Keeping the flow here makes every branch testable
without a PBX, and the AGI side stays a thin loop.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ivr import hours
from ivr.tree import (
    LANGUAGES,
    MINUTES,
    NO_OPERATOR_OFFER_PROMPTS,
    OVERFLOW_PROMPTS,
    VOICEMAIL_FAILED_PROMPTS,
    Action,
    Tree,
)

STATUS_TRIES = 3
PLATFORM_PRIORITY = 10
LANGUAGE_KEYS = {"1": "tr", "2": "en", "3": "ar"}


# Commands the adapter executes. Prompt ids are resolved to files by the adapter.
@dataclass(frozen=True)
class Play:
    """Play prompts in order; a key in ``keys`` stops playback and is returned ('' if none)."""

    prompts: tuple[str, ...]
    keys: str = ""
    lang: str = "tr"


@dataclass(frozen=True)
class Collect:
    """Play prompts, then collect up to ``max_digits`` keys ending with ``#``; '' on timeout."""

    prompts: tuple[str, ...]
    max_digits: int
    timeout_ms: int = 5000
    lang: str = "tr"


@dataclass(frozen=True)
class WaitKey:
    """Wait ``timeout_ms`` for one key after a prompt; '' if none."""

    timeout_ms: int


@dataclass(frozen=True)
class Say:
    """Speak dynamic text (an institution's name) in the caller's language; a key in ``keys`` stops it."""

    text: str
    lang: str = "tr"
    keys: str = ""


@dataclass(frozen=True)
class SayDigits:
    digits: str
    lang: str = "tr"


@dataclass(frozen=True)
class OperatorsLoggedIn:
    """How many operators are logged in to ``queue`` (answered by the PBX)."""

    queue: str


@dataclass(frozen=True)
class PredictWait:
    """The predicted wait of a caller joining ``queue`` now (``alo185.queues.overflow.Prediction``).

    Answered from the live queue state; None when it is not known (the caller is then queued as ever).
    """

    queue: str


@dataclass(frozen=True)
class RequestCallback:
    """Keep the caller's place in ``queue`` and call them back; answered True once it is stored."""

    queue: str
    priority: int
    lang: str


@dataclass(frozen=True)
class Step:
    """A step of the caller's path, published as a call event; no answer expected."""

    node: str
    key: str
    detail: str = ""


Command = Play | Collect | WaitKey | Say | SayDigits | OperatorsLoggedIn | PredictWait | RequestCallback | Step


class Overflow(Protocol):
    """What the offer needs of a prediction (``alo185.queues.overflow.Prediction``)."""

    @property
    def nobody(self) -> bool: ...
    @property
    def overflows(self) -> bool: ...
    @property
    def minutes(self) -> int: ...


@dataclass
class Outcome:
    action: str  # queue | voicemail | hangup | callback
    queue: str = ""
    priority: int = 0
    category: str = ""
    reason: str = ""  # why voicemail: after_hours, holiday, no_operator, choice, overflow
    lang: str = "tr"
    path: list[str] = field(default_factory=list)
    caller_kind: str = "citizen"  # citizen | muhtar | esnaf | meclis_uyesi
    kvkk_version: int = 1
    announcements: list[int] = field(default_factory=list)
    ticket: str = ""  # a ticket the caller asked about


@dataclass(frozen=True)
class TicketInfo:
    number: str
    phone: str  # E.164 of the ticket's citizen
    status: str  # public status word, see ivr.prompts_catalogue STATUS_PROMPTS
    institution: str = ""  # for redirected tickets
    can_reopen: bool = False


@dataclass(frozen=True)
class Announcement:
    id: int
    text: str  # Turkish: announcements come before the language choice


class Services(Protocol):
    """What the flow needs to know about the world (database-backed in production)."""

    def platform_role(self, e164: str) -> str | None: ...
    def open_ticket(self, e164: str) -> TicketInfo | None: ...
    def find_ticket(self, number: str) -> TicketInfo | None: ...
    def reopen(self, number: str) -> bool: ...
    def announcements(self, e164: str, now: datetime) -> list[Announcement]: ...


_R = TypeVar("_R")
Part = Generator[Command, Any, _R]  # a part of a call's flow: yields commands, is sent their results, returns an _R
Flow = Part[Outcome]


@dataclass
class _Call:
    tree: Tree
    services: Services
    caller: str  # E.164 or '' when unknown
    now: datetime
    out: Outcome

    @property
    def lang(self) -> str:
        return self.out.lang

    def play(self, *prompts: str, keys: str = "") -> Play:
        return Play(tuple(prompts), keys, self.lang)

    def step(self, node: str, key: str, detail: str = "") -> Step:
        self.out.path.append(f"{node}:{key}" if key else node)
        return Step(node, key, detail)


def run_call(tree: Tree, services: Services, caller: str, now: datetime) -> Flow:
    """The whole IVR for one call."""
    call = _Call(tree, services, caller, now, Outcome(action="queue", kvkk_version=tree.kvkk_version))
    yield call.step("kvkk", "", str(tree.kvkk_version))
    yield call.play("kvkk")
    role = services.platform_role(caller) if caller else None
    if role and role in tree.platform_queues:
        call.out.caller_kind = role
        yield call.step("platform", "", role)
        yield call.play(f"platform_{role}")
        return (yield from _to_queue(call, Action("queue", tree.platform_queues[role], priority=PLATFORM_PRIORITY)))
    for ann in services.announcements(caller, now) if caller else []:
        call.out.announcements.append(ann.id)
        yield call.step("announcement", "", str(ann.id))
        yield Say(ann.text, "tr")
    yield from _choose_language(call)
    ticket = services.open_ticket(caller) if caller else None
    if ticket is not None:
        key = yield call.play("open_ticket", keys="12")
        if not key:
            key = yield WaitKey(4000)
        yield call.step("open_ticket", key or "-")
        if key == "1":
            result = yield from _tell_status(call, ticket)
            if result is not None:
                return result
    return (yield from _menu(call))


def _choose_language(call: _Call) -> Flow:
    key = ""
    for lang in ("tr", "en", "ar"):  # each offer in its own language and voice
        key = yield Play((f"language_{lang}",), "123", lang)
        if key:
            break
    if not key:
        key = yield WaitKey(4000)
    call.out.lang = LANGUAGE_KEYS.get(key, "tr")  # Turkish after a timeout or another key
    yield call.step("language", key or "-", call.out.lang)
    return call.out


def _menu(call: _Call) -> Flow:
    tree = call.tree
    stack: list[str] = []
    node = tree.node(tree.root)
    misses = 0
    while True:
        key = yield call.play(node.prompt, keys="0123456789*#")
        if not key:
            key = yield WaitKey(node.timeout_ms)
        yield call.step(node.id, key or "-")
        if key in node.options:
            action = node.options[key]
        elif key == "0":
            action = Action("operator")
        elif key == "#":
            continue
        elif key == "*":
            if stack:
                node = tree.node(stack.pop())
                misses = 0
            continue
        else:
            misses += 1
            if misses <= node.retries:
                yield call.play("no_input" if not key else "invalid")
                continue
            action = node.timeout if not key else node.invalid
        if action.kind == "goto":
            stack.append(node.id)
            node = tree.node(action.target)
            misses = 0
            continue
        if action.kind == "ticket_status":
            result = yield from _ticket_status(call)
            if result is not None:
                return result
            continue
        return (yield from _finish(call, action))


def _finish(call: _Call, action: Action) -> Flow:
    if action.kind == "queue":
        return (yield from _to_queue(call, action))
    if action.kind == "operator":
        return (yield from _to_queue(call, Action("queue", call.tree.fallback_queue)))
    if action.kind == "voicemail":
        return _voicemail(call, "choice")
    # hangup with a message
    if action.target:
        yield call.play(action.target)
    call.out.action = "hangup"
    return call.out


def _to_queue(call: _Call, action: Action) -> Flow:
    queue = call.tree.queues.get(action.target) or call.tree.queues[call.tree.fallback_queue]
    state = hours.queue_state(queue, call.now)
    if state != hours.OPEN:
        yield call.step("closed", "", state)
        yield call.play("holiday" if state == hours.HOLIDAY else "after_hours")
        return _voicemail(call, state)
    logged_in = yield OperatorsLoggedIn(queue.name)
    if not logged_in:
        yield call.step("no_operator", "", queue.name)
        return (yield from _nobody_logged_in(call, queue.name, action))
    call.out.action = "queue"
    call.out.queue = queue.name
    call.out.priority = action.priority
    call.out.category = action.category
    prediction = yield PredictWait(queue.name)
    if _offers(call, prediction):
        choice = yield from _offer(call, prediction)
        if choice == "voicemail":
            return _voicemail(call, "overflow")
    return call.out


def _offers(call: _Call, prediction: Overflow | None) -> bool:
    """Offer when the wait is too long or nobody can answer; not to a caller we cannot call back, nor with
    a tree that lacks the offer's prompts (one published before the offer existed)."""
    if prediction is None or not prediction.overflows or not call.caller:
        return False
    return set(OVERFLOW_PROMPTS) <= set(call.tree.prompts)


def _offer(call: _Call, prediction: Overflow) -> Part[str]:
    """The wait (or that nobody can answer), then: 1 a callback, 2 voicemail, nothing: wait in the queue.

    Returns ``callback`` (stored, the caller was told), ``voicemail`` or ``queue``.
    """
    yield call.step("overflow", "", "nobody" if prediction.nobody else f"{prediction.minutes}min")
    if prediction.nobody:
        key = yield call.play("overflow_busy", "overflow_offer", keys="12")
    else:
        texts = call.tree.prompts["overflow_wait"]
        text = (texts.get(call.lang) or texts["tr"]).replace(MINUTES, str(prediction.minutes))
        key = yield Say(text, call.lang, keys="12")
        if not key:
            key = yield call.play("overflow_offer", keys="12")
    if not key:
        key = yield WaitKey(5000)
    yield call.step("overflow_offer", key or "-")
    if key == "2":
        return "voicemail"
    if key != "1":
        return "queue"
    stored = yield from _callback(call)
    return "callback" if stored else "queue"  # the caller is not lost for a refused callback: they wait


def _nobody_logged_in(call: _Call, queue: str, action: Action) -> Flow:
    """Nobody is logged in to the queue (within its hours): waiting would be pointless, so 1 a callback,
    placed once an operator logs in and the caller's turn comes, 2 or nothing: voicemail.

    Only while the overflow offer is on and the live state is known (a prediction comes back), to a caller
    who can be called back, with a tree that has the offer's prompts; otherwise voicemail as before.
    """
    prediction = yield PredictWait(queue)
    if prediction is None or not call.caller or not set(NO_OPERATOR_OFFER_PROMPTS) <= set(call.tree.prompts):
        yield call.play("no_operator")
        return _voicemail(call, "no_operator")
    key = yield call.play("overflow_busy", "no_operator_offer", keys="12")
    if not key:
        key = yield WaitKey(5000)
    yield call.step("no_operator_offer", key or "-")
    if key == "1":
        call.out.queue, call.out.priority, call.out.category = queue, action.priority, action.category
        if (yield from _callback(call)):
            return call.out
        call.out.queue, call.out.priority, call.out.category = "", 0, ""  # a voicemail names no queue
    return _voicemail(call, "no_operator")


def _callback(call: _Call) -> Part[bool]:
    """Store a callback for the caller's queue and priority; True once stored and confirmed to the caller."""
    stored = yield RequestCallback(call.out.queue, call.out.priority, call.lang)
    yield call.step("callback", "", "ok" if stored else "refused")
    if not stored:
        return False
    yield call.play("callback_confirmed")
    call.out.action = "callback"
    return True


def _voicemail(call: _Call, reason: str) -> Outcome:
    call.out.action = "voicemail"
    call.out.reason = reason
    return call.out


def recording_failed(
    tree: Tree, services: Services, caller: str, now: datetime, lang: str, queue: str, priority: int
) -> Flow:
    """The voicemail step could not record the message (its disk full or unwritable): the caller is told,
    then 1 a callback in ``queue``, 2 or nothing an operator (action ``queue``). Nobody leaves unheard.

    A caller who cannot be called back (no number), or a tree published before these prompts, is put
    through to an operator at once.
    """
    out = Outcome(action="queue", queue=queue, priority=priority, lang=lang if lang in LANGUAGES else "tr")
    call = _Call(tree, services, caller, now, out)
    yield call.step("voicemail_failed", "")
    if not set(VOICEMAIL_FAILED_PROMPTS) <= set(tree.prompts):
        yield call.play("too_many_tries")
        return call.out
    if not caller:
        yield call.play("voicemail_failed", "too_many_tries")
        return call.out
    key = yield call.play("voicemail_failed", "voicemail_failed_offer", keys="12")
    if not key:
        key = yield WaitKey(5000)
    yield call.step("voicemail_failed_offer", key or "-")
    if key == "1" and (yield from _callback(call)):
        return call.out
    yield call.play("too_many_tries")  # "we are transferring you to an operator"
    return call.out


def _ticket_status(call: _Call) -> Part[Outcome | None]:
    """Ask for a ticket number (and, for someone else's ticket, the phone's last 4 digits)."""
    for _ in range(STATUS_TRIES):
        number = yield Collect(("enter_ticket",), max_digits=12, timeout_ms=8000, lang=call.lang)
        ticket = call.services.find_ticket(number) if number else None
        if ticket is not None and ticket.phone != call.caller:
            last4 = yield Collect(("enter_last4",), max_digits=4, timeout_ms=8000, lang=call.lang)
            if not ticket.phone or last4 != ticket.phone[-4:]:
                ticket = None
        yield call.step("ticket_status", number or "-", "found" if ticket else "not_found")
        if ticket is None:
            yield call.play("ticket_not_found")
            continue
        return (yield from _tell_status(call, ticket))
    yield call.play("too_many_tries")
    return (yield from _to_queue(call, Action("queue", call.tree.fallback_queue)))


def _tell_status(call: _Call, ticket: TicketInfo) -> Part[Outcome | None]:
    """Read the state out; offer a reopen. Returns None to go back to the menu."""
    call.out.ticket = ticket.number
    yield call.play("ticket_is")
    yield SayDigits(ticket.number, call.lang)
    yield call.play(f"status_{ticket.status}")
    if ticket.status == "redirected" and ticket.institution:
        yield Say(ticket.institution, call.lang)
    if ticket.can_reopen:
        key = yield call.play("reopen_offer", keys="12")
        if not key:
            key = yield WaitKey(5000)
        yield call.step("reopen_offer", key or "-")
        if key == "1":
            done = call.services.reopen(ticket.number)
            yield call.step("reopen", "", "ok" if done else "refused")
            yield call.play("reopened" if done else "reopen_refused")
    return None
