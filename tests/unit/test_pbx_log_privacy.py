"""Asterisk's own logs carry no caller's full number: what the rendered configuration lets it write."""

from __future__ import annotations

import re
from pathlib import Path

from alo185.pbx.config import render_all
from tests.pbx_layout import fake_system_pbx

# A dialplan line running an application whose only job is writing to Asterisk's log.
_LOGGING_LINE = re.compile(r"^\s*(?:exten\s*=>\s*[^,]+,|same\s*=>\s*)[^,]+,\s*(?:NoOp|Verbose|Log)\((.*)\)\s*$")
# A caller's or callee's number as the dialplan reads it, with its substring suffix (``:-2``) if any.
_NUMBER = re.compile(r"\$\{(?:CALLERID|CONNECTEDLINE|REDIRECTING)\([^)]*\)([^}]*)\}|\$\{(?:ALO185_CB_NUMBER)([^}]*)\}")


def test_dialplan_logging_lines_show_at_most_the_last_digits(tmp_path: Path) -> None:
    pbx = fake_system_pbx(tmp_path)
    render_all(pbx)
    dialplan = (pbx.instance_dir / "etc" / "extensions.conf").read_text()
    lines = [m.group(1) for m in map(_LOGGING_LINE.match, dialplan.splitlines()) if m]
    assert lines, "the dialplan logs each call's start"
    for args in lines:
        for match in _NUMBER.finditer(args):
            suffix = match.group(1) if match.group(1) is not None else match.group(2)
            assert re.fullmatch(r":-[1-4]", suffix), f"a full number in the log: {args}"


def test_asterisk_does_not_log_each_steps_arguments(tmp_path: Path) -> None:
    """At verbosity 3 every application's expanded arguments are logged ("Executing ..."), queue_log's
    caller numbers among them: no log channel and not the console may run at 3 or above."""
    pbx = fake_system_pbx(tmp_path)
    render_all(pbx)
    etc = pbx.instance_dir / "etc"
    options = re.search(r"^verbose\s*=\s*(\d+)", (etc / "asterisk.conf").read_text(), re.MULTILINE)
    assert options is not None and int(options.group(1)) <= 2
    logfiles = (etc / "logger.conf").read_text().split("[logfiles]", 1)[1]
    for line in logfiles.splitlines():
        if "=>" not in line or line.lstrip().startswith(";"):
            continue
        levels = line.split("=>", 1)[1].replace(" ", "").split(",")
        for level in levels:
            match = re.fullmatch(r"verbose(?:\((\d+)\))?", level)
            assert match is None or (match.group(1) is not None and int(match.group(1)) <= 2), line
