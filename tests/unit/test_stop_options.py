"""The stop's options on the command line: how long ``down`` waits for the calls, and a restart of the code alone."""

from __future__ import annotations

import pytest

from alo185.cli import build_parser
from alo185.core.asterisk import STOP_DEADLINE_S


def test_down_waits_for_calls_up_to_its_deadline() -> None:
    assert build_parser().parse_args(["down"]).deadline == STOP_DEADLINE_S
    assert build_parser().parse_args(["down", "--deadline", "45"]).deadline == 45.0
    assert build_parser().parse_args(["pbx", "stop", "--deadline", "0"]).deadline == 0.0


def test_restart_of_the_python_processes_alone() -> None:
    args = build_parser().parse_args(["restart", "--python"])
    assert args.cmd == "restart" and args.python
    assert not build_parser().parse_args(["restart"]).python


@pytest.mark.parametrize("bad", ["-1", "nan", "soon"])
def test_a_deadline_that_is_no_number_of_seconds_is_refused(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["down", "--deadline", bad])
    assert exit_info.value.code == 2
    assert "--deadline" in capsys.readouterr().err
