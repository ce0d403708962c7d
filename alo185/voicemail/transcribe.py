"""Speech to text with Vosk: one model per process, a fresh recognizer per file.

Telephone audio is 8 kHz; Vosk models are trained at their own rate (16 kHz for the small
models), read from the model's ``conf/mfcc.conf``. sox resamples the file to that rate before
decoding, rather than feeding 8 kHz samples to a 16 kHz feature pipeline.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHUNK_BYTES = 8000  # 0.25 s at 16 kHz, 16-bit


class TranscribeError(RuntimeError):
    pass


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


class Transcriber:
    """Loads the model once (hundreds of MB, seconds); recognizers share it."""

    def __init__(self, model_dir: Path) -> None:
        if not (model_dir / "am").is_dir() or not (model_dir / "conf").is_dir():
            raise TranscribeError(f"no Vosk model in {model_dir}")
        import vosk  # imported here: processes that never transcribe don't load the library

        vosk.SetLogLevel(-1)
        self.model_dir = model_dir
        self.name = model_dir.name if model_dir.name != "model" else model_dir.parent.name
        self.rate = model_sample_rate(model_dir)
        self._vosk = vosk
        self._model = vosk.Model(str(model_dir))

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
