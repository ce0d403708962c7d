import stat
from pathlib import Path

import pytest

from alo185.core.settings import Settings, load_settings


def test_defaults_for_one_machine(tmp_path: Path) -> None:
    s = load_settings({"ALO185_VAR_DIR": str(tmp_path)})
    assert s.var_dir == tmp_path
    assert s.database_url == f"sqlite:///{tmp_path / 'alo185.db'}"
    assert s.redis_connection_url == f"unix://{tmp_path / 'run' / 'redis.sock'}"
    assert s.redis_is_local
    assert s.ami_host == "127.0.0.1" and s.admin_url == "http://127.0.0.1:8185"


def test_config_file_then_environment_win(tmp_path: Path) -> None:
    (tmp_path / "alo185.toml").write_text('ami_port = 6000\nadmin_port = 9000\noperators = ["2001", "2002", "2003"]\n')
    s = load_settings({"ALO185_VAR_DIR": str(tmp_path), "ALO185_ADMIN_PORT": "9100"})
    assert s.ami_port == 6000
    assert s.admin_port == 9100
    assert s.operators == ("2001", "2002", "2003")
    assert s.config_file == tmp_path / "alo185.toml"


def test_explicit_config_path_and_external_services(tmp_path: Path) -> None:
    conf = tmp_path / "x.toml"
    conf.write_text('db_url = "postgresql+psycopg://u@db/alo185"\nredis_url = "redis://cache:6379/0"\n')
    s = load_settings({"ALO185_CONFIG": str(conf), "ALO185_VAR_DIR": str(tmp_path)})
    assert s.database_url.startswith("postgresql")
    assert not s.redis_is_local and s.redis_connection_url == "redis://cache:6379/0"


def test_unknown_setting_in_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "alo185.toml").write_text("ami_prot = 1\n")
    with pytest.raises(ValueError, match="ami_prot"):
        load_settings({"ALO185_VAR_DIR": str(tmp_path)})


def test_bad_number_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_settings({"ALO185_VAR_DIR": str(tmp_path), "ALO185_AMI_PORT": "many"})


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path)
    first = s.secrets()
    assert len(first["ami_secret"]) >= 24 and first["ami_secret"] != first["flask_secret_key"]
    assert s.secrets() == first
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode == 0o600
    pw = s.sip_password("1001")
    assert pw and s.sip_password("1001") == pw and s.sip_password("1002") != pw
