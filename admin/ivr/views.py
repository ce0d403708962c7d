"""The IVR in the admin: view, validate and publish menu versions; upload prompt recordings; announcements."""

from __future__ import annotations

import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select

from admin import auth, context
from alo185.core.asterisk import Asterisk
from alo185.menu import versions
from alo185.menu.models import Announcement, MenuVersion, PromptRecording
from alo185.menu.prompt_files import PromptFiles
from alo185.org.access import Perm
from ivr.tree import LANGUAGES, Tree, TreeError, load_yaml

bp = Blueprint("ivr", __name__, url_prefix="/ivr", template_folder="templates")
TZ = ZoneInfo("Europe/Istanbul")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@bp.get("/menu")
@auth.requires(Perm.IVR_EDIT)
def menu() -> str:
    with context.sessions().begin() as s:
        live = versions.ensure_seeded(s)
        history = versions.history(s)
        return render_template(
            "ivr/menu.html", live=live, tree=load_yaml(live.yaml), history=history, text=live.yaml, errors=[]
        )


@bp.get("/menu/<int:version_id>")
@auth.requires(Perm.IVR_EDIT)
def version(version_id: int) -> str:
    with context.sessions()() as s:
        row = s.get(MenuVersion, version_id)
        if row is None:
            abort(404)
        return render_template("ivr/version.html", version=row, tree=load_yaml(row.yaml))


@bp.post("/menu")
@auth.requires(Perm.IVR_EDIT)
def check_or_publish() -> ResponseReturnValue:
    text = request.form.get("yaml", "")
    publish = request.form.get("action") == "publish"
    with context.sessions().begin() as s:
        live = versions.ensure_seeded(s)
        try:
            tree = versions.check(text)
            if publish:
                _render_prompts(tree)
                row = versions.publish(s, text, by=context.user(), note=request.form.get("note", ""))
                flash(gettext("Sürüm %(id)s yayımlandı; yeni çağrılar bu menüyü duyar.", id=row.id), "ok")
                return redirect(url_for("ivr.menu"))
            flash(gettext("Menü geçerli. Yayımlamak için 'Yayımla'ya basınız."), "ok")
            errors: list[str] = []
        except TreeError as exc:
            errors = exc.errors
        return render_template(
            "ivr/menu.html", live=live, tree=load_yaml(live.yaml), history=versions.history(s), text=text, errors=errors
        ), (400 if errors else 200)


def _prompt_files() -> PromptFiles:
    return PromptFiles(Asterisk.locate(current_app.config["ALO185"]).instance_dir / "sounds")


def _render_prompts(tree: Tree) -> None:
    """Render the new version's prompts before it goes live, so no caller meets a missing one."""
    _prompt_files().render_tree(tree)


@bp.post("/prompts")
@auth.requires(Perm.IVR_EDIT)
def upload_prompt() -> ResponseReturnValue:
    prompt_id, lang = request.form.get("prompt", ""), request.form.get("lang", "")
    if lang not in LANGUAGES or not prompt_id.replace("_", "").isalnum():
        flash(gettext("Geçersiz istem ya da dil."), "error")
        return redirect(url_for("ivr.menu")), 303
    upload = request.files.get("audio")
    if upload is None or not upload.filename:
        flash(gettext("Bir ses dosyası seçiniz."), "error")
        return redirect(url_for("ivr.menu")), 303
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        flash(gettext("Dosya 10 MB'den büyük olamaz."), "error")
        return redirect(url_for("ivr.menu")), 303
    target = _prompt_files().uploaded(lang, prompt_id)
    try:
        _convert(data, target)
    except subprocess.CalledProcessError:
        flash(gettext("Ses dosyası okunamadı (WAV, MP3 veya OGG yükleyiniz)."), "error")
        return redirect(url_for("ivr.menu")), 303
    with context.sessions().begin() as s:
        row = s.scalars(
            select(PromptRecording).where(PromptRecording.prompt == prompt_id, PromptRecording.lang == lang)
        ).first()
        row = row or PromptRecording(prompt=prompt_id, lang=lang)
        row.file_name, row.uploaded_by, row.uploaded_at = target.name, context.user(), datetime.now(UTC)
        s.add(row)
    flash(
        gettext(
            "'%(prompt)s' (%(lang)s) için kayıt yüklendi; metin okuması yerine çalınacak.", prompt=prompt_id, lang=lang
        ),
        "ok",
    )
    return redirect(url_for("ivr.menu")), 303


def _convert(data: bytes, target: Path) -> None:
    """Any audio sox reads -> 8 kHz mono 16-bit WAV, moved into place atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "upload", Path(tmp) / "out.wav"
        src.write_bytes(data)
        subprocess.run(
            ["sox", str(src), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True, capture_output=True
        )
        staged = target.with_suffix(".uploading")
        out.replace(staged)
        staged.replace(target)


@bp.get("/announcements")
@auth.requires(Perm.ANNOUNCEMENTS_EDIT)
def announcements() -> str:
    with context.sessions()() as s:
        rows = s.scalars(select(Announcement).order_by(Announcement.starts_at.desc())).all()
        return render_template("ivr/announcements.html", rows=rows, tz=TZ, errors=[], form={})


def _parse_local(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=TZ)


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


@bp.post("/announcements")
@auth.requires(Perm.ANNOUNCEMENTS_EDIT)
def add_announcement() -> ResponseReturnValue:
    form = request.form
    errors = []
    try:
        starts, ends = _parse_local(form.get("starts_at", "")), _parse_local(form.get("ends_at", ""))
        if ends <= starts:
            errors.append(gettext("Bitiş, başlangıçtan sonra olmalıdır."))
    except ValueError:
        errors.append(gettext("Başlangıç ve bitiş zamanını giriniz."))
    if not form.get("text_tr", "").strip():
        errors.append(gettext("Türkçe metin zorunludur."))
    with context.sessions().begin() as s:
        if errors:
            rows = s.scalars(select(Announcement).order_by(Announcement.starts_at.desc())).all()
            return render_template("ivr/announcements.html", rows=rows, tz=TZ, errors=errors, form=form), 400
        s.add(
            Announcement(
                text_tr=form["text_tr"].strip(),
                text_en=form.get("text_en", "").strip(),
                text_ar=form.get("text_ar", "").strip(),
                starts_at=starts,
                ends_at=ends,
                districts=_names(form.get("districts", "")),
                mahalles=_names(form.get("mahalles", "")),
                active=True,
                created_by=context.user(),
            )
        )
    flash(gettext("Duyuru kaydedildi."), "ok")
    return redirect(url_for("ivr.announcements")), 303


@bp.post("/announcements/<int:ann_id>/end")
@auth.requires(Perm.ANNOUNCEMENTS_EDIT)
def end_announcement(ann_id: int) -> ResponseReturnValue:
    with context.sessions().begin() as s:
        row = s.get(Announcement, ann_id)
        if row is None:
            abort(404)
        row.active = False
    flash(gettext("Duyuru sona erdirildi."), "ok")
    return redirect(url_for("ivr.announcements")), 303
