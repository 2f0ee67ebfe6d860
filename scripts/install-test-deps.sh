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

# python_venv NAME REQUIREMENTS: a hash-pinned venv at <cache>/venv-NAME (shared with scripts/setup-whisper.sh).
# shellcheck source=scripts/lib/python-venv.sh
source "$(dirname "$0")/lib/python-venv.sh"

go_tool livekit-server github.com/livekit/livekit-server/cmd/server@v1.13.5
go_tool nats-server github.com/nats-io/nats-server/v2@v2.12.3
# MinIO has no semver tags: this pseudo-version (commit of 2026-02-12) is what
# `go list -m github.com/minio/minio@latest` resolved on 2026-11-23.
go_tool minio github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
# gRPC reflection/health are exercised with the real grpcurl (test/integration/grpc-tools.test.ts).
go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
# HTTP/1.1 load generator of the benchmarks (npm run bench; its smoke run is part of the tests).
apt_packages wrk
# ffmpeg extracts a recording's audio; espeak-ng speaks the tests' and the benchmark's speech.
apt_packages ffmpeg espeak-ng
apt_packages chromium
# PostgreSQL (the alternative store): test/support/postgres-server.ts runs initdb and postgres from
# /usr/lib/postgresql/<major>/bin as the OS user `postgres` the package creates. The package's own
# cluster (<major>/main on 5432, started only where a service manager runs) is not used.
apt_packages postgresql
# The OpenAPI fuzzer of test/integration/schemathesis.test.ts.
python_venv schemathesis "$(dirname "$0")/schemathesis-requirements.txt"
# The local transcription engine (Whisper through faster-whisper, hash-pinned venv and models), as
# `npm run setup:whisper` installs it.
bash "$(dirname "$0")/setup-whisper.sh"
