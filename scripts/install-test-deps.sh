#!/usr/bin/env bash
# Idempotently installs the programs the tests need (no network but package
# registries: Go tools are built with `go install` from the Go module proxy,
# system tools come from Debian's packages). Each tool is one line at the bottom.
# -E: the ERR trap also fires inside functions.
set -Eeuo pipefail

cache_bin="${SCAIWAVE_CACHE_DIR:-$HOME/.cache/scaiwave-calls}/bin"
mkdir -p "$cache_bin"

# Fail loudly, naming the command that failed.
trap 'rc=$?; echo "install-test-deps: FAILED (exit $rc): $BASH_COMMAND" >&2; exit $rc' ERR
# Build dirs of an interrupted or failed run are removed on exit.
tmp_dirs=()
trap 'rm -rf "${tmp_dirs[@]}"' EXIT

# go_tool NAME MODULE/cmd/PATH@VERSION
# Builds the Go command once into $cache_bin/NAME-VERSION; a cached binary that
# answers --version is kept.
go_tool() {
  local name="$1" pkg="$2"
  local version="${pkg##*@}"
  local target="$cache_bin/$name-$version"
  if [[ -x "$target" ]] && "$target" --version >/dev/null 2>&1; then
    echo "$name $version: cached"
    return 0
  fi
  command -v go >/dev/null || { echo "install-test-deps: 'go' not found on PATH (needed to build $name)" >&2; return 1; }
  echo "building $name $version with go install (first time takes several minutes)…"
  local tmp
  tmp="$(mktemp -d "$cache_bin/.build-$name.XXXXXX")"
  tmp_dirs+=("$tmp")
  # go install names the binary after the last path element of the package,
  # skipping a major-version suffix (…/nats-server/v2 builds nats-server).
  local built="${pkg%@*}"
  [[ "${built##*/}" =~ ^v[0-9]+$ ]] && built="${built%/*}"
  built="${built##*/}"
  GOBIN="$tmp" go install "$pkg"
  "$tmp/$built" --version >/dev/null
  # Same filesystem (tmp is inside cache_bin), so mv is an atomic rename.
  mv -f "$tmp/$built" "$target"
  echo "$name $version: installed at $target"
}

# apt_packages PKG...
# Installs only the Debian packages that are missing; runs apt-get update at
# most once per script run.
apt_updated=0
apt_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "apt packages $*: installed"
    return 0
  fi
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  if [[ $apt_updated -eq 0 ]]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  echo "installing apt packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
}

# python_venv NAME REQUIREMENTS
# A virtualenv at <cache>/venv-NAME holding exactly the hash-pinned packages
# of REQUIREMENTS (pip --require-hashes). The file's sha256, stamped last, keeps
# the venv until the file changes; an interrupted build has no stamp and is redone.
python_venv() {
  local name="$1" requirements="$2"
  local venv="${cache_bin%/bin}/venv-$name" wanted
  wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" == "$wanted" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
    echo "venv $name: cached"
    return 0
  fi
  command -v python3 >/dev/null || { echo "install-test-deps: 'python3' not found on PATH (needed for the $name venv)" >&2; return 1; }
  echo "creating venv $name from $requirements…"
  # A venv is not relocatable (its scripts name its path), so it is built in place.
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$requirements"
  echo "$wanted" >"$venv/.requirements-sha256"
  echo "venv $name: installed at $venv"
}

go_tool livekit-server github.com/livekit/livekit-server/cmd/server@v1.13.5
go_tool nats-server github.com/nats-io/nats-server/v2@v2.12.3
# MinIO has no semver tags: this pseudo-version (commit of 2026-02-12) is what
# `go list -m github.com/minio/minio@latest` resolved on 2026-11-23.
go_tool minio github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
# gRPC reflection/health are exercised with the real grpcurl (test/integration/grpc-tools.test.ts).
go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
# HTTP/1.1 load generator of the benchmarks (npm run bench; its smoke run is part of the tests).
apt_packages wrk
apt_packages ffmpeg espeak-ng pocketsphinx pocketsphinx-en-us
apt_packages chromium
# The OpenAPI fuzzer of test/integration/schemathesis.test.ts.
python_venv schemathesis "$(dirname "$0")/schemathesis-requirements.txt"
