#!/usr/bin/env bash
# Runs a local livekit-server in dev mode (keys devkey/secret, port 7880), built
# once by scripts/install-test-deps.sh, for use with `npm run dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
bin="${SCAIWAVE_CACHE_DIR:-$HOME/.cache/scaiwave-calls}/bin/livekit-server-v1.13.5"
# Webhooks go to the service of `npm run dev` on :8080.
exec "$bin" --dev --bind 127.0.0.1 --node-ip 127.0.0.1 \
  --config-body "webhook: {api_key: devkey, urls: ['http://127.0.0.1:8080/v1/calls/webhook']}"
