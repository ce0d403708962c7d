"""Where each prompt's audio is: an uploaded recording if there is one, else the rendered text.

Files live under the PBX instance's sounds directory:
``<sounds>/<lang>/<id>.wav`` (rendered), ``<sounds>/uploaded/<lang>/<id>.wav`` (uploaded),
``<sounds>/dynamic/<lang>/<hash>.wav`` (texts known only during a call, cached by hash).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alo185.core import tts
from ivr.tree import LANGUAGES, Tree


class PromptFiles:
    def __init__(self, sounds_dir: Path, check_s: float = 2.0) -> None:
        self.sounds = sounds_dir
        self.check_s = check_s
        self._chosen: dict[tuple[str, str], tuple[float, Path]] = {}

    def uploaded(self, lang: str, prompt_id: str) -> Path:
        return self.sounds / "uploaded" / lang / f"{prompt_id}.wav"

    def file(self, lang: str, prompt_id: str) -> Path:
        """The audio file to play for ``prompt_id`` in ``lang`` (an upload is noticed within ``check_s``)."""
        now = time.monotonic()
        hit = self._chosen.get((lang, prompt_id))
        if hit is not None and now - hit[0] < self.check_s:
            return hit[1]
        up = self.uploaded(lang, prompt_id)
        chosen = up if up.exists() else tts.prompt_file(self.sounds, lang, prompt_id)
        self._chosen[(lang, prompt_id)] = (now, chosen)
        return chosen

    def dynamic(self, lang: str, text: str) -> Path:
        name = tts.text_hash(text, lang)
        return tts.ensure_prompt(self.sounds / "dynamic", lang, name, text)

    def render_tree(self, tree: Tree, workers: int = 4) -> list[Path]:
        """Render every prompt of ``tree`` (unchanged texts are skipped) and check none is missing."""
        jobs = [
            (lang, pid, texts.get(lang) or texts["tr"]) for pid, texts in tree.prompts.items() for lang in LANGUAGES
        ]
        with ThreadPoolExecutor(workers) as pool:
            files = list(pool.map(lambda j: tts.ensure_prompt(self.sounds, *j), jobs))
        missing = [str(f) for f in files if not f.exists() or f.stat().st_size < 100]
        if missing:
            raise tts.PromptError(f"prompts missing after rendering: {', '.join(missing[:5])}")
        return files
