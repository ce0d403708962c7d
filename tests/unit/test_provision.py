"""Provisioning stops with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from alo185.core import asterisk_root


def test_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("alo185.core.asterisk_root.os.geteuid", lambda: 1000)
    with pytest.raises(asterisk_root.ProvisionError, match="as root"):
        asterisk_root.provision_root(tmp_path / "root", "http://mirror.invalid/debian")
    assert not (tmp_path / "root").exists()


def test_needs_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("alo185.core.asterisk_root.os.geteuid", lambda: 0)
    monkeypatch.setattr("alo185.core.asterisk_root.shutil.which", lambda name: None)
    with pytest.raises(asterisk_root.ProvisionError, match="apt-get install debootstrap"):
        asterisk_root.provision_root(tmp_path / "root", "http://mirror.invalid/debian")


def test_refuses_a_foreign_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("alo185.core.asterisk_root.os.geteuid", lambda: 0)
    root = tmp_path / "root"
    root.mkdir()
    (root / "precious.txt").write_text("not ours")
    with pytest.raises(asterisk_root.ProvisionError, match="not made by alo185"):
        asterisk_root.provision_root(root, "http://mirror.invalid/debian")
    assert (root / "precious.txt").exists()


def test_a_ready_root_is_reused_without_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/asterisk").write_text("")
    (root / asterisk_root.READY_MARKER).write_text("22\n")
    monkeypatch.setattr("alo185.core.asterisk_root.os.geteuid", lambda: 1000)  # would fail if it tried to work
    asterisk_root.provision_root(root, "http://mirror.invalid/debian")


def test_version_parsing(tmp_path: Path) -> None:
    fake = tmp_path / "asterisk"
    fake.write_text("#!/bin/sh\necho 'Asterisk 22.10.1+dfsg+~cs6.17.60671434-1'\n")
    fake.chmod(0o755)
    assert asterisk_root.asterisk_version([str(fake)]) == 22
    assert asterisk_root.asterisk_version([str(tmp_path / "missing")]) is None
