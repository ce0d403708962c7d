"""``alo185 models fetch|check``: a model archive from a local web server stands in for alphacephei.com."""

from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from alo185.core.settings import TURKISH_MODEL
from alo185.voicemail import model_files

KO_MODEL = model_files.packaged_model()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _zip(target: Path, files: dict[str, Path | bytes]) -> None:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zf:
        for name, content in files.items():
            if isinstance(content, Path):
                zf.write(content, name)
            else:
                zf.writestr(name, content)


def test_fetch_unpacks_checks_and_moves_the_model_in_place(web, tmp_path: Path) -> None:
    root, url = web
    assert KO_MODEL is not None
    files: dict[str, Path | bytes] = {
        f"{TURKISH_MODEL}/{p.relative_to(KO_MODEL)}": p for p in KO_MODEL.rglob("*") if p.is_file()
    }
    _zip(root / "model.zip", files)
    dest = model_files.fetch(tmp_path / "models", f"{url}/model.zip")
    assert dest == tmp_path / "models" / TURKISH_MODEL and not model_files.missing_files(dest)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [TURKISH_MODEL]  # no temporary left
    assert model_files.check(dest)  # loads and decodes


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "cannot download"),
        (b"not a zip", "not a zip archive"),
        ({f"{TURKISH_MODEL}/README": b"x"}, "is not a Vosk model: missing am/final.mdl"),
    ],
)
def test_a_bad_download_leaves_nothing_behind(web, tmp_path: Path, content, error: str) -> None:
    root, url = web
    if isinstance(content, bytes):
        (root / "model.zip").write_bytes(content)
    elif isinstance(content, dict):
        _zip(root / "model.zip", content)
    with pytest.raises(model_files.ModelError, match=error):
        model_files.fetch(tmp_path / "models", f"{url}/model.zip")
    assert not any((tmp_path / "models").iterdir())
