"""What an operator dials on the phone: feature codes (*51 log in, *52 log out, *53 pause, *54 unpause), the
pause reasons (*53N), and what the phone says back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alo185.core import tts


@dataclass(frozen=True)
class PauseReason:
    code: str  # what Asterisk keeps (QueuePause Reason, queue_log PAUSE) and the live state shows
    key: str  # the digit after *53 on the phone
    label: str  # Turkish, for people
    english: str


# The one list of pause reasons: the console API, the feature codes and the docs take them from here.
PAUSE_REASONS = (
    PauseReason("mola", "1", "Mola", "break"),
    PauseReason("egitim", "2", "Eğitim", "training"),
    PauseReason("cagri-sonrasi-is", "3", "Çağrı sonrası iş", "after-call work"),
    PauseReason("toplanti", "4", "Toplantı", "meeting"),
    PauseReason("yemek", "5", "Yemek", "lunch"),
    PauseReason("teknik-ariza", "6", "Teknik arıza", "technical problem"),
)


DEFAULT_PAUSE = PAUSE_REASONS[0]


def _folds(text: str) -> tuple[str, str]:
    """Turkish casing (I -> ı, İ -> i) and plain casing, spaces and underscores as hyphens."""
    text = text.strip().replace(" ", "-").replace("_", "-")
    return text.replace("İ", "i").replace("I", "ı").casefold(), text.casefold()


_REASON_NAMES = {
    folded: reason
    for reason in PAUSE_REASONS
    for name in (reason.code, reason.label, reason.english)
    for folded in _folds(name)
}


def pause_reason(value: object) -> PauseReason | None:
    """The reason named by its code, Turkish label or English name (any case), else None."""
    if not isinstance(value, str):
        return None
    return next((_REASON_NAMES[f] for f in _folds(value) if f in _REASON_NAMES), None)


@dataclass(frozen=True)
class FeatureCode:
    exten: str
    action: str  # login | logout | pause | unpause
    reason: str = ""  # the pause reason's code


def feature_codes() -> list[FeatureCode]:
    """What an operator dials on the phone: *51 log in, *52 log out, *53 / *53N pause, *54 unpause."""
    codes = [FeatureCode("*51", "login"), FeatureCode("*52", "logout"), FeatureCode("*53", "pause", DEFAULT_PAUSE.code)]
    codes += [FeatureCode(f"*53{r.key}", "pause", r.code) for r in PAUSE_REASONS]
    return [*codes, FeatureCode("*54", "unpause")]


# What the phone says after a feature code (Turkish; rendered with espeak-ng into sounds/operator/).
PROMPTS = {
    "login": "Giriş yapıldı. Çağrı alabilirsiniz.",
    "logout": "Çıkış yapıldı.",
    "pause": "Mola verildi.",
    "unpause": "Mola bitti. Çağrı alabilirsiniz.",
    "error": "İşlem yapılamadı.",
}


def render_prompts(sounds_dir: Path) -> None:

    for name, text in PROMPTS.items():
        tts.ensure_prompt(sounds_dir / "operator", "tr", name, text)
