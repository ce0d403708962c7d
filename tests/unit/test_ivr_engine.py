"""The menu engine without a PBX: every branch of the default 185 tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ivr import engine
from ivr.default import default_tree

TR = ZoneInfo("Europe/Istanbul")
WEEKDAY_10AM = datetime(2026, 11, 18, 10, 0, tzinfo=TR)  # a Wednesday, no holiday
CALLER = "+905321234567"


@dataclass
class FakeServices:
    roles: dict[str, str] = field(default_factory=dict)
    tickets: dict[str, engine.TicketInfo] = field(default_factory=dict)
    open_by_phone: dict[str, str] = field(default_factory=dict)
    anns: list[engine.Announcement] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)

    def platform_role(self, e164: str) -> str | None:
        return self.roles.get(e164)

    def open_ticket(self, e164: str) -> engine.TicketInfo | None:
        number = self.open_by_phone.get(e164)
        return self.tickets[number] if number else None

    def find_ticket(self, number: str) -> engine.TicketInfo | None:
        return self.tickets.get(number)

    def reopen(self, number: str) -> bool:
        self.reopened.append(number)
        return True

    def announcements(self, e164: str, now: datetime) -> list[engine.Announcement]:
        return self.anns


@dataclass
class Run:
    outcome: engine.Outcome
    commands: list[engine.Command]

    @property
    def played(self) -> list[str]:
        return [p for c in self.commands if isinstance(c, engine.Play) for p in c.prompts]

    @property
    def langs(self) -> set[str]:
        return {c.lang for c in self.commands if isinstance(c, engine.Play)}


def drive(
    inputs: list[str],
    services: FakeServices | None = None,
    now: datetime = WEEKDAY_10AM,
    caller: str = CALLER,
    operators: int = 1,
) -> Run:
    """Answer the engine like a caller who, at each menu, presses the next of ``inputs`` ('' = nothing)."""
    services = services or FakeServices()
    flow = engine.run_call(default_tree(), services, caller, now)
    pending = list(inputs)
    commands: list[engine.Command] = []
    answer: Any = None  # what the engine is sent back: a key, a count, a prediction…
    timed_out = False
    while True:
        try:
            cmd = flow.send(answer) if commands else next(flow)
        except StopIteration as stop:
            return Run(stop.value, commands)
        commands.append(cmd)
        answer = None
        if isinstance(cmd, engine.Play):
            answer = ""
            if cmd.keys and timed_out:
                answer = ""  # still silent: the engine offers the next prompt, then waits
            elif cmd.keys:
                if not pending:
                    raise AssertionError(f"the engine waits for a key after {cmd.prompts}; script ran out")
                answer = pending.pop(0)
                timed_out = answer == ""
        elif isinstance(cmd, engine.WaitKey):
            assert timed_out, "WaitKey only follows a prompt that got no key"
            answer = ""
            timed_out = False
        elif isinstance(cmd, engine.Collect):
            answer = pending.pop(0)
        elif isinstance(cmd, engine.OperatorsLoggedIn):
            answer = operators
        assert len(commands) < 500, "the flow does not end"


@pytest.mark.parametrize(
    ("keys", "queue", "category"),
    [
        (["1", "1"], "su", "su-arizasi"),
        (["1", "2"], "su", "kanal-tikanikligi"),
        (["1", "3"], "su_abone", "abone-islemleri"),
        (["2"], "ulasim", "otobus-sefer"),
        (["3"], "temizlik", "cop-toplama"),
        (["4"], "fen", "yol-cukur"),
        (["5"], "park", "park-bakim"),
        (["6", "1"], "zabita", "zabita-firin"),
        (["6", "2"], "zabita", "zabita-pazar"),
        (["7"], "cenaze", "cenaze-hizmeti"),
        (["9"], "genel", ""),
    ],
)
def test_each_branch_reaches_its_queue(keys: list[str], queue: str, category: str) -> None:
    run = drive(["1", *keys])  # 1 = Türkçe
    assert (run.outcome.action, run.outcome.queue, run.outcome.category) == ("queue", queue, category)
    assert run.played[:3] == ["kvkk", "language_tr", "main_menu"]
    assert run.outcome.path[:2] == ["kvkk", "language:1"]
    assert run.outcome.kvkk_version == default_tree().kvkk_version


def test_zero_is_the_operator_from_any_menu() -> None:
    assert drive(["1", "1", "0"]).outcome.queue == "genel"
    assert drive(["1", "0"]).outcome.queue == "genel"


def test_star_goes_back_and_hash_repeats() -> None:
    run = drive(["1", "1", "*", "#", "3"])
    assert run.outcome.queue == "temizlik"
    assert run.played.count("main_menu") == 3 and run.played.count("water_menu") == 1


def test_invalid_keys_repeat_twice_then_operator() -> None:
    run = drive(["1", "*", "5"])  # star at the top repeats, it is no error
    assert run.outcome.queue == "park"
    run = drive(["1", "1", "7", "8", "9"])  # three wrong keys in the water menu
    assert run.outcome.queue == "genel"
    assert run.played.count("invalid") == 2 and run.played.count("water_menu") == 3


def test_silence_repeats_twice_then_operator() -> None:
    run = drive(["", "", "", ""])  # no language key (Turkish), then nothing at the menu three times
    assert run.outcome.lang == "tr" and run.outcome.queue == "genel"
    assert run.played.count("no_input") == 2 and run.played.count("main_menu") == 3


@pytest.mark.parametrize(("key", "lang"), [("1", "tr"), ("2", "en"), ("3", "ar"), ("", "tr"), ("7", "tr")])
def test_language_choice(key: str, lang: str) -> None:
    run = drive([key, "4"])
    assert run.outcome.lang == lang
    plays = [c for c in run.commands if isinstance(c, engine.Play)]
    after_language = plays[plays.index(next(p for p in plays if p.prompts == ("main_menu",))) :]
    assert {c.lang for c in after_language} == {lang}


def test_platform_caller_skips_the_menu_with_priority() -> None:
    run = drive([], FakeServices(roles={CALLER: "muhtar"}))
    assert (run.outcome.queue, run.outcome.priority, run.outcome.caller_kind) == ("muhtar", 10, "muhtar")
    assert run.played == ["kvkk", "platform_muhtar"]  # no announcements, no language menu


def test_announcements_before_the_language_menu() -> None:
    run = drive(["1", "3"], FakeServices(anns=[engine.Announcement(7, "Yarın Mezitli'de su kesintisi var.")]))
    says = [c for c in run.commands if isinstance(c, engine.Say)]
    assert [s.text for s in says] == ["Yarın Mezitli'de su kesintisi var."]
    assert run.commands.index(says[0]) < run.commands.index(engine.Play(("language_tr",), "123", "tr"))
    assert run.outcome.announcements == [7]


def _ticket(
    number: str = "1234567", phone: str = CALLER, status: str = "resolved", reopen: bool = True, institution: str = ""
) -> engine.TicketInfo:
    return engine.TicketInfo(number, phone, status, institution, reopen)


def test_known_caller_with_open_ticket_hears_its_status_first() -> None:
    services = FakeServices(
        tickets={"1234567": _ticket(status="in_progress", reopen=False)}, open_by_phone={CALLER: "1234567"}
    )
    run = drive(["1", "1", "9"], services)
    assert "open_ticket" in run.played and "status_in_progress" in run.played
    digits = [c for c in run.commands if isinstance(c, engine.SayDigits)]
    assert digits == [engine.SayDigits("1234567", "tr")]
    assert run.outcome.queue == "genel" and run.outcome.ticket == "1234567"


def test_ticket_status_and_reopen() -> None:
    services = FakeServices(tickets={"1234567": _ticket()})
    run = drive(["2", "8", "1234567", "1", "9"], services)
    assert "status_resolved" in run.played and "reopen_offer" in run.played and "reopened" in run.played
    assert services.reopened == ["1234567"]
    assert run.outcome.lang == "en"


def test_someone_elses_ticket_needs_the_last_four_digits() -> None:
    services = FakeServices(
        tickets={"1234567": _ticket(phone="+905559876543", status="redirected", institution="TEDAŞ", reopen=False)}
    )
    run = drive(["1", "8", "1234567", "6543", "9"], services)
    assert "status_redirected" in run.played
    assert engine.Say("TEDAŞ", "tr") in run.commands
    run = drive(["1", "8", "1234567", "0000", "1234567", "0000", "1234567", "0000"], services)
    assert "status_redirected" not in run.played
    assert run.played.count("ticket_not_found") == 3 and run.outcome.queue == "genel"


def test_three_wrong_numbers_go_to_an_operator() -> None:
    run = drive(["1", "8", "1", "22", ""])
    assert run.played.count("ticket_not_found") == 3 and "too_many_tries" in run.played
    assert run.outcome.action == "queue" and run.outcome.queue == "genel"


def test_after_hours_and_holidays_offer_voicemail() -> None:
    evening = datetime(2026, 11, 18, 22, 0, tzinfo=TR)
    run = drive(["1", "5"], now=evening)
    assert (run.outcome.action, run.outcome.reason) == ("voicemail", "after_hours")
    assert "after_hours" in run.played
    republic_day = datetime(2026, 10, 29, 10, 0, tzinfo=TR)
    run = drive(["1", "5"], now=republic_day)
    assert (run.outcome.action, run.outcome.reason) == ("voicemail", "holiday")
    assert drive(["1", "2"], now=republic_day).outcome.queue == "ulasim"  # open on holidays
    assert drive(["1", "3"], now=republic_day).outcome.queue == "temizlik"  # 24/7


def test_half_day_eve_closes_at_one() -> None:
    eve = datetime(2026, 10, 28, 12, 30, tzinfo=TR)
    assert drive(["1", "5"], now=eve).outcome.queue == "park"
    assert drive(["1", "5"], now=eve.replace(hour=13, minute=30)).outcome.reason == "after_hours"


def test_nobody_logged_in_offers_voicemail() -> None:
    run = drive(["1", "3"], operators=0)
    assert (run.outcome.action, run.outcome.reason) == ("voicemail", "no_operator")


def test_unknown_caller_gets_no_lookups() -> None:
    services = FakeServices(roles={"": "muhtar"}, open_by_phone={"": "1"})
    assert drive(["1", "3"], services, caller="").outcome.queue == "temizlik"


def _recording_failed(keys: list[str], caller: str = CALLER, stored: bool = True) -> Run:
    """The failed voicemail's flow, answered with ``keys`` (a press during a prompt or the wait; '' nothing)."""
    flow = engine.recording_failed(default_tree(), FakeServices(), caller, WEEKDAY_10AM, "en", "su", 2)
    pending = list(keys)
    commands: list[engine.Command] = []
    answer: Any = None
    while True:
        try:
            cmd = flow.send(answer) if commands else next(flow)
        except StopIteration as stop:
            return Run(stop.value, commands)
        commands.append(cmd)
        answer = None
        listens = isinstance(cmd, engine.WaitKey) or (isinstance(cmd, engine.Play) and bool(cmd.keys))
        if listens and pending:
            answer = pending.pop(0)
        elif isinstance(cmd, engine.RequestCallback):
            answer = stored


@pytest.mark.parametrize(
    ("keys", "action", "offer_key"), [(["1"], "callback", "1"), (["2"], "queue", "2"), (["", ""], "queue", "-")]
)
def test_a_voicemail_that_could_not_be_recorded_offers_a_callback_or_an_operator(
    keys: list[str], action: str, offer_key: str
) -> None:
    run = _recording_failed(keys)
    assert run.played[:2] == ["voicemail_failed", "voicemail_failed_offer"] and run.langs == {"en"}
    assert (run.outcome.action, run.outcome.queue, run.outcome.priority) == (action, "su", 2)
    assert f"voicemail_failed_offer:{offer_key}" in run.outcome.path
    callbacks = [c for c in run.commands if isinstance(c, engine.RequestCallback)]
    assert callbacks == ([engine.RequestCallback("su", 2, "en")] if action == "callback" else [])


def test_a_refused_callback_or_a_withheld_number_goes_to_an_operator() -> None:
    assert _recording_failed(["1"], stored=False).outcome.action == "queue"
    withheld = _recording_failed([], caller="")
    assert withheld.outcome.action == "queue" and "voicemail_failed_offer" not in withheld.played
