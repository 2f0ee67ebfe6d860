#!/usr/bin/env bash
# Runs a local MinIO on 9000 (data in ./data/minio, dev credentials from dev.env),
# built once by scripts/install-test-deps.sh, for use with `npm run dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bin="$(ls "${SCAIWAVE_CACHE_DIR:-$HOME/.cache/scaiwave-calls}"/bin/minio-v* | head -1)"
mkdir -p data/minio
MINIO_ROOT_USER=scaiwave-dev MINIO_ROOT_PASSWORD=scaiwave-dev-secret MINIO_BROWSER=off MINIO_UPDATE=off \
  exec "$bin" server data/minio --address 127.0.0.1:9000 --quiet
