"""Simulated citizens and operators as Local channels (dialplan contexts alo185-sim-*).

Used by the demo, the tests and the benchmarks to drive real calls through the real PBX.
"""

from __future__ import annotations

from panoramisk import Manager

from alo185.core import ami

SIM_OPERATOR = "Local/{talk}-{ident}@alo185-sim-operator/n"


async def add_operator(manager: Manager, queue: str, name: str, talk_s: int = 3, ident: int = 1) -> str:
    """Put simulated operator number ``ident`` into ``queue``; returns its interface."""
    interface = SIM_OPERATOR.format(talk=talk_s, ident=ident)
    try:
        await ami.action(manager, {"Action": "QueueAdd", "Queue": queue, "Interface": interface, "MemberName": name})
    except ami.AmiError as exc:
        if "Already there" not in str(exc):
            raise
    return interface


async def remove_operator(manager: Manager, queue: str, interface: str) -> None:
    try:
        await ami.action(manager, {"Action": "QueueRemove", "Queue": queue, "Interface": interface})
    except ami.AmiError as exc:
        if "Not there" not in str(exc):
            raise


def then_survey(keys: str, answer: str = "2", seconds: int = 40) -> str:
    """``keys``, then ``answer`` once a second for ``seconds``: the first press the survey hears counts.

    The presses before it are lost in the queue and the conversation, which ignore keys.
    """
    return keys + f"W{answer}" * seconds


def _sim_caller_exten(keys: str, hang_up: bool, speech: str, after_speech: str = "") -> str:
    """The extension of ``alo185-sim-caller`` that behaves so."""
    if speech:
        return f"s{keys}-{speech}-{after_speech}" if after_speech else f"s{keys}-{speech}"
    if not keys:
        return "silent"
    return f"q{keys}" if hang_up else f"k{keys}"


async def call_185(
    manager: Manager,
    channel_id: str,
    caller: str,
    keys: str = "",
    hang_up: bool = False,
    speech: str = "",
    after_speech: str = "",
) -> None:
    """Originate a citizen's call to 185 that keys ``keys`` (nothing if empty) a second after answering.

    ``channel_id`` becomes the uniqueid of the call's channel, so callers can find its record.
    With ``hang_up`` the caller leaves 4 s after the last key instead of staying on the line.
    With ``speech`` (a file in the instance's ``sounds/sim``, no extension) the caller says it
    after the keys, then hangs up; or, with ``after_speech``, keys that and stays until the PBX hangs up.
    """
    exten = _sim_caller_exten(keys, hang_up, speech, after_speech)
    await ami.action(
        manager,
        {
            "Action": "Originate",
            "Channel": f"Local/{exten}@alo185-sim-caller/n",
            "Context": "alo185-inbound",
            "Exten": "185",
            "Priority": "1",
            "CallerID": f'"Vatandaş" <{caller}>',
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id}-phone",
            "Timeout": "30000",
            "Async": "true",
        },
    )
