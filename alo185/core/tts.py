"""Prompt audio: text rendered with espeak-ng to 8 kHz mono WAV, rebuilt only when the text changes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

ESPEAK_VOICES = {"tr": "tr", "en": "en", "ar": "ar"}


class PromptError(RuntimeError):
    pass


def text_hash(text: str, lang: str) -> str:
    return hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()[:16]


def prompt_file(sounds_dir: Path, lang: str, name: str) -> Path:
    return sounds_dir / lang / f"{name}.wav"


def ensure_prompt(sounds_dir: Path, lang: str, name: str, text: str) -> Path:
    """Render ``text`` to ``<sounds>/<lang>/<name>.wav`` unless the same text is already there."""
    target = prompt_file(sounds_dir, lang, name)
    stamp = target.with_suffix(".hash")
    wanted = text_hash(text, lang)
    if target.exists() and stamp.exists() and stamp.read_text() == wanted:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _render(text, lang, target)
    stamp.write_text(wanted)
    return target


def _render(text: str, lang: str, target: Path) -> None:
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            raise PromptError(f"'{tool}' is needed to render prompts: apt-get install espeak-ng sox")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", ESPEAK_VOICES[lang], "-s", "165", "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out), "gain", "-n", "-1"], check=True)
        # Another call may render the same text at the same moment: a private name, then an atomic rename.
        staged = target.parent / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        shutil.move(out, staged)
        os.replace(staged, target)
