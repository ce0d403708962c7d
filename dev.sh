#!/usr/bin/env bash
# alo185 on one machine: ./dev.sh demo | test | stop | setup
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv

setup() {
  local missing=()
  while read -r pkg; do
    [ -n "$pkg" ] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done < scripts/apt-packages.txt
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "alo185: missing system packages: ${missing[*]} (run as root, or apt-get install them)" >&2
      exit 1
    fi
    echo "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { echo "alo185: Python >= 3.11 is needed" >&2; exit 1; }
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.installed" ] || [ setup.cfg -nt "$VENV/.installed" ]; then
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e '.[test]'
    touch "$VENV/.installed"
  fi
  "$VENV/bin/alo185" pbx install
}

case "${1:-}" in
  setup) setup ;;
  demo) setup; exec "$VENV/bin/alo185" demo ;;
  test) setup; shift; exec "$VENV/bin/python" -m pytest "$@" ;;
  stop) exec "$VENV/bin/alo185" down ;;
  *) echo "usage: ./dev.sh demo | test [pytest args] | stop | setup" >&2; exit 2 ;;
esac
