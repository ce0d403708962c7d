"""The PBX root comes from the Debian mirror the host's apt already uses; a setting overrides it."""

from __future__ import annotations

from pathlib import Path

import pytest

from alo185.core import apt_sources, asterisk_root


def _etc_apt(tmp_path: Path, main: str = "", **parts: str) -> Path:
    """An /etc/apt with ``sources.list`` = ``main`` and ``sources.list.d/<name>`` for each part."""
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    if main:
        (etc / "sources.list").write_text(main)
    for name, text in parts.items():
        (etc / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return etc


ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian.gpg] http://ayna.belediye.local/debian/ bookworm main contrib
deb http://ayna.belediye.local/debian bookworm-updates main
"""

DEB822 = """\
Types: deb
# the municipality's own mirror
URIs: http://ayna.belediye.local/debian http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_one_line_format_with_options() -> None:
    entries = apt_sources.parse_one_line(ONE_LINE)
    assert [e.types for e in entries] == [("deb-src",), ("deb",), ("deb",), ("deb",)]
    assert entries[2] == apt_sources.AptSource(
        ("deb",), ("http://ayna.belediye.local/debian/",), ("bookworm",), ("main", "contrib")
    )
    assert apt_sources.debian_mirror(entries) == "http://ayna.belediye.local/debian"


def test_deb822_with_several_uris_takes_the_first() -> None:
    entries = apt_sources.parse_deb822(DEB822)
    assert entries[0].uris == ("http://ayna.belediye.local/debian", "http://deb.debian.org/debian")
    assert entries[0].suites == ("bookworm", "bookworm-updates")
    assert apt_sources.debian_mirror(entries) == "http://ayna.belediye.local/debian"


def test_disabled_security_updates_source_and_third_party_entries_are_skipped() -> None:
    text = """\
Types: deb
URIs: http://disabled.example/debian
Suites: sid
Components: main
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: sid
Components: main

Types: deb
URIs: http://security.debian.org/debian-security
Suites: trixie-security
Components: main

Types: deb
URIs: http://updates.example/debian
Suites: trixie-updates trixie-backports
Components: main

Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main

Types: deb deb-src
URIs: https://mirror.example.org/debian/
Suites: trixie
Components: main
"""
    assert apt_sources.debian_mirror(apt_sources.parse_deb822(text)) == "https://mirror.example.org/debian"


def test_security_only_hosts_have_no_mirror() -> None:
    text = "deb http://security.debian.org/debian-security bookworm-security main\n"
    assert apt_sources.debian_mirror(apt_sources.parse_one_line(text)) is None


def test_sources_are_read_in_apts_order(tmp_path: Path) -> None:
    etc = _etc_apt(
        tmp_path,
        main="deb http://security.debian.org/debian-security bookworm-security main\n",
        a_list="deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n",
        b_sources=DEB822,
        c_list_disabled="deb http://ignored.example/debian sid main\n",
        d_list="deb http://later.example/debian sid main\n",
    )
    entries = apt_sources.read_sources(etc)
    assert [e.uris[0] for e in entries] == [
        "http://security.debian.org/debian-security",
        "https://packages.cloud.google.com/apt",
        "http://ayna.belediye.local/debian",
        "http://deb.debian.org/debian-security",
        "http://later.example/debian",
    ]
    assert apt_sources.debian_mirror(entries) == "http://ayna.belediye.local/debian"


def test_the_root_is_bootstrapped_from_the_hosts_mirror(tmp_path: Path) -> None:
    etc = _etc_apt(tmp_path, b_sources=DEB822)
    mirror = asterisk_root.choose_mirror("", etc)
    assert mirror == "http://ayna.belediye.local/debian"
    command = asterisk_root.debootstrap_command(tmp_path / "root", mirror)
    assert command == ["debootstrap", "--variant=minbase", "sid", str(tmp_path / "root"), mirror]


def test_the_setting_overrides_the_hosts_sources(tmp_path: Path) -> None:
    etc = _etc_apt(tmp_path, b_sources=DEB822)
    assert asterisk_root.choose_mirror("http://other.example/debian", etc) == "http://other.example/debian"


def test_no_mirror_is_a_clear_error_not_a_guess(tmp_path: Path) -> None:
    etc = _etc_apt(tmp_path, main="deb http://security.debian.org/debian-security bookworm-security main\n")
    with pytest.raises(asterisk_root.ProvisionError, match="set debian_mirror"):
        asterisk_root.choose_mirror("", etc)
    with pytest.raises(asterisk_root.ProvisionError, match="No Debian archive mirror"):
        asterisk_root.choose_mirror("", tmp_path / "missing")
