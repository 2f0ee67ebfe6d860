#!/usr/bin/env bash
# Runs a local nats-server with JetStream on 4222 (store in ./data/nats), built
# once by scripts/install-test-deps.sh, for use with `npm run dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bin="${SCAIWAVE_CACHE_DIR:-$HOME/.cache/scaiwave-calls}/bin/nats-server-v2.12.3"
mkdir -p data/nats
exec "$bin" -js -a 127.0.0.1 -p 4222 -sd data/nats
