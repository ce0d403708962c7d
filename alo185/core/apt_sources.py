"""The host's apt sources: which Debian archive mirror the machine already uses.

The PBX root is bootstrapped from that mirror, so an install behind a municipality's own mirror (no
way out to the internet) works unchanged. Both formats apt reads are understood: one-line
(``sources.list``, ``*.list``) and deb822 (``*.sources``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Debian's release names and their aliases: a source whose suite is one of these is Debian's main
# archive (or a mirror of it), not a third-party repository that happens to have a "main" component.
DEBIAN_SUITES = frozenset(
    {
        "unstable",
        "sid",
        "testing",
        "stable",
        "oldstable",
        "oldoldstable",
        "experimental",
        "jessie",
        "stretch",
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
    }
)
_SCHEMES = ("http://", "https://", "ftp://", "file:/")


@dataclass(frozen=True)
class AptSource:
    """One source entry: what apt fetches (types) from where (uris), for which suites and components."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    enabled: bool = True


def parse_one_line(text: str) -> list[AptSource]:
    """Entries of a ``sources.list`` file: ``deb [opt=value ...] URI suite [component ...]``."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest.startswith("["):
            _options, _, rest = rest[1:].partition("]")
        fields = rest.split()
        if kind not in ("deb", "deb-src") or len(fields) < 2:
            continue
        entries.append(AptSource((kind,), (fields[0],), (fields[1],), tuple(fields[2:])))
    return entries


def parse_deb822(text: str) -> list[AptSource]:
    """Entries of a ``*.sources`` file: stanzas of ``Field: value`` separated by blank lines."""
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields = _deb822_fields(stanza)
        if "types" not in fields or "uris" not in fields:
            continue
        entries.append(
            AptSource(
                types=tuple(fields["types"].split()),
                uris=tuple(fields["uris"].split()),
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                enabled=fields.get("enabled", "yes").strip().lower() not in ("no", "false", "0"),
            )
        )
    return entries


def _deb822_fields(stanza: str) -> dict[str, str]:
    """A stanza's fields by lower-case name; comment lines skipped, folded lines joined."""
    fields: dict[str, str] = {}
    name = ""
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace() and name:
            fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            name = key.strip().lower()
            fields[name] = value.strip()
    return fields


def read_sources(etc_apt: Path) -> list[AptSource]:
    """Every entry apt reads under ``etc_apt``, in apt's order (sources.list, then sources.list.d by name)."""
    entries = []
    main_list = etc_apt / "sources.list"
    if main_list.is_file():
        entries += parse_one_line(main_list.read_text(errors="replace"))
    parts = etc_apt / "sources.list.d"
    for path in sorted(parts.iterdir()) if parts.is_dir() else []:
        if path.suffix == ".list" and path.is_file():
            entries += parse_one_line(path.read_text(errors="replace"))
        elif path.suffix == ".sources" and path.is_file():
            entries += parse_deb822(path.read_text(errors="replace"))
    return entries


def debian_mirror(entries: list[AptSource]) -> str | None:
    """The URI of the first enabled binary source serving a whole Debian release, or None.

    Only a release's own suite counts (``bookworm``, ``sid``, ``stable``): security, updates and
    backports suites are skipped (they do not carry sid), and so are deb-src-only entries and
    third-party repositories (their suites are not Debian release names).
    """
    for entry in entries:
        if not entry.enabled or "deb" not in entry.types:
            continue
        if "debian-security" in " ".join(entry.uris):
            continue
        releases = [s for s in entry.suites if s in DEBIAN_SUITES]
        uris = [u for u in entry.uris if u.startswith(_SCHEMES)]
        if releases and uris:
            return uris[0].rstrip("/")
    return None
