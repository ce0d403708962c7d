"""Speech to text with Vosk: one model per process, a fresh recognizer per file.

Telephone audio is 8 kHz; Vosk models are trained at their own rate (16 kHz for the small
models), read from the model's ``conf/mfcc.conf``. sox resamples the file to that rate before
decoding, rather than feeding 8 kHz samples to a 16 kHz feature pipeline. (Giving Vosk the 8 kHz
samples with their true rate, for Kaldi's own resampler, was measured: it saves only sox's few
milliseconds per message and changes the transcripts, so sox stays; docs/voicemail.md, "Speed".)

Decoding spends most of its time in the search (the on-the-fly composition of the model's
``HCLr``/``Gr`` graphs, rebuilt for each recognizer), so the search beam and the number of
active states decide the speed. They are settings (``vosk_beam`` and friends); the installed
model is never changed: it is loaded through a throw-away overlay directory whose
``conf/model.conf`` carries the overrides and whose other entries link to the model's files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alo185.core.settings import Settings

CHUNK_BYTES = 8000  # 0.25 s at 16 kHz, 16-bit (1 s chunks measured no faster: the time is in the search)


class TranscribeError(RuntimeError):
    pass


@dataclass(frozen=True)
class DecoderOptions:
    """Search settings written over the model's ``conf/model.conf`` (None keeps the model's own).

    A narrower beam and fewer active states make decoding faster; how far to go was measured
    on the benchmark's messages (``bench/transcribe.py`` reports the error rate with the model's
    own settings next to these).
    """

    beam: float | None = None
    max_active: int | None = None
    min_active: int | None = None
    lattice_beam: float | None = None

    def overrides(self) -> dict[str, str]:
        values = {
            "beam": self.beam,
            "max-active": self.max_active,
            "min-active": self.min_active,
            "lattice-beam": self.lattice_beam,
        }
        return {k: str(v) for k, v in values.items() if v is not None}

    @classmethod
    def from_settings(cls, settings: Settings) -> DecoderOptions:
        """From the ``vosk_*`` settings; 0 (or less) keeps the model's own value."""
        return cls(
            beam=settings.vosk_beam if settings.vosk_beam > 0 else None,
            max_active=settings.vosk_max_active if settings.vosk_max_active > 0 else None,
            min_active=settings.vosk_min_active if settings.vosk_min_active > 0 else None,
            lattice_beam=settings.vosk_lattice_beam if settings.vosk_lattice_beam > 0 else None,
        )


@dataclass
class Transcript:
    text: str
    words: list[dict[str, Any]] = field(default_factory=list)  # word, start, end, conf
    audio_s: float = 0.0
    decode_s: float = 0.0

    @property
    def confidence(self) -> float | None:
        """Mean word confidence (None without words)."""
        return sum(w["conf"] for w in self.words) / len(self.words) if self.words else None


def model_sample_rate(model_dir: Path) -> int:
    conf = model_dir / "conf" / "mfcc.conf"
    match = re.search(r"--sample-frequency=(\d+)", conf.read_text()) if conf.exists() else None
    return int(match.group(1)) if match else 16000


def overlay(model_dir: Path, overrides: dict[str, str], dest: Path) -> Path:
    """``dest`` made a view of ``model_dir`` whose ``conf/model.conf`` has ``overrides`` applied."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in model_dir.iterdir():
        if entry.name != "conf":
            (dest / entry.name).symlink_to(entry.resolve())
    (dest / "conf").mkdir()
    for entry in (model_dir / "conf").iterdir():
        if entry.name != "model.conf":
            (dest / "conf" / entry.name).symlink_to(entry.resolve())
    source = model_dir / "conf" / "model.conf"
    lines = source.read_text().splitlines() if source.exists() else []
    kept = [ln for ln in lines if ln.strip().split("=", 1)[0].lstrip("-") not in overrides]
    (dest / "conf" / "model.conf").write_text("\n".join(kept + [f"--{k}={v}" for k, v in overrides.items()]) + "\n")
    return dest


class Transcriber:
    """Loads the model once (hundreds of MB, seconds); recognizers share it."""

    def __init__(self, model_dir: Path, options: DecoderOptions | None = None, scratch: Path | None = None) -> None:
        if not (model_dir / "am").is_dir() or not (model_dir / "conf").is_dir():
            raise TranscribeError(f"no Vosk model in {model_dir}")
        import vosk  # imported here: processes that never transcribe don't load the library

        vosk.SetLogLevel(-1)
        self.model_dir = model_dir
        self.name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
        self.rate = model_sample_rate(model_dir)
        self.options = options or DecoderOptions()
        self._vosk = vosk
        overrides = self.options.overrides()
        if not overrides:
            self._model = vosk.Model(str(model_dir))
            return
        if scratch is not None:
            scratch.mkdir(parents=True, exist_ok=True)
        # Vosk reads every file while loading: the overlay is only needed for that moment.
        tmp = Path(tempfile.mkdtemp(prefix="vosk-model-", dir=scratch))
        try:
            self._model = vosk.Model(str(overlay(model_dir, overrides, tmp / "model")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # Kaldi checks the search values (min-active <= max-active, ...) only when a recognizer is made:
        # a combination with the model's own values that it refuses must fail here, not on every file.
        try:
            vosk.KaldiRecognizer(self._model, self.rate)
        except Exception as exc:
            given = " ".join(f"--{k}={v}" for k, v in overrides.items())
            raise TranscribeError(
                f"Vosk refuses the search settings {given} with {model_dir}/conf/model.conf "
                "(min-active must not exceed max-active; see the vosk_* settings)"
            ) from exc

    def pcm(self, audio: Path) -> bytes:
        """The file as mono 16-bit PCM at the model's rate."""
        cmd = ["sox", "-V1", str(audio), "-t", "raw", "-r", str(self.rate), "-c", "1", "-b", "16", "-e", "signed", "-"]
        done = subprocess.run(cmd, capture_output=True, timeout=120)
        if done.returncode != 0:
            raise TranscribeError(f"cannot read {audio.name}: {done.stderr.decode(errors='replace').strip()}")
        return done.stdout

    def transcribe(self, audio: Path) -> Transcript:
        data = self.pcm(audio)
        t0 = time.perf_counter()
        # A recognizer per file: they grow in memory over long use.
        recognizer = self._vosk.KaldiRecognizer(self._model, self.rate)
        recognizer.SetWords(True)
        parts: list[dict[str, Any]] = []
        for i in range(0, len(data), CHUNK_BYTES):
            if recognizer.AcceptWaveform(data[i : i + CHUNK_BYTES]):
                parts.append(json.loads(recognizer.Result()))
        parts.append(json.loads(recognizer.FinalResult()))
        words = [
            {"word": w["word"], "start": w["start"], "end": w["end"], "conf": round(w["conf"], 3)}
            for part in parts
            for w in part.get("result", [])
        ]
        text = " ".join(p["text"] for p in parts if p.get("text"))
        return Transcript(
            text=text, words=words, audio_s=len(data) / (2 * self.rate), decode_s=time.perf_counter() - t0
        )
