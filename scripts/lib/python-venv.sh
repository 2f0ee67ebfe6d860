# shellcheck shell=bash
# Sourced by scripts/install-test-deps.sh and scripts/setup-whisper.sh.

scaiwave_cache="${SCAIWAVE_CACHE_DIR:-$HOME/.cache/scaiwave-calls}"

# python_venv NAME REQUIREMENTS
# A virtualenv at <cache>/venv-NAME holding exactly the hash-pinned packages
# of REQUIREMENTS (pip --require-hashes). The file's sha256, stamped last, keeps
# the venv until the file changes; an interrupted build has no stamp and is redone.
python_venv() {
  local name="$1" requirements="$2"
  local venv="$scaiwave_cache/venv-$name" wanted
  wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" == "$wanted" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
    echo "venv $name: cached"
    return 0
  fi
  command -v python3 >/dev/null || { echo "python_venv: 'python3' not found on PATH (needed for the $name venv)" >&2; return 1; }
  echo "creating venv $name from $requirements…"
  # A venv is not relocatable (its scripts name its path), so it is built in place.
  rm -rf "$venv"
  mkdir -p "$scaiwave_cache"
  python3 -m venv "$venv"
  # pip's own lines (Collecting…, Downloading… with sizes, Installing…) are the progress.
  "$venv/bin/pip" install --disable-pip-version-check --no-input --progress-bar off --require-hashes -r "$requirements"
  echo "$wanted" >"$venv/.requirements-sha256"
  echo "venv $name: installed at $venv"
}
