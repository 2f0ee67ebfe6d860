#!/usr/bin/env bash
# Runs a local livekit-server in dev mode (keys devkey/secret, port 7880), built
# once by scripts/install-test-deps.sh, for use with `npm run dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bin="${SCAIWAVE_CACHE_DIR:-$HOME/.cache/scaiwave-calls}/bin/livekit-server-v1.13.5"
exec "$bin" --dev --bind 127.0.0.1 --node-ip 127.0.0.1
