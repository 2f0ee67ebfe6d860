#!/usr/bin/env bash
# The whole suite with both cores kept busy by another process (stress-ng), as
# on a loaded CI machine: a test whose outcome depends on the machine's speed
# fails here first. Usage: npm run test:loaded [-- RUNS]   (default: 1 run)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"

if ! command -v stress-ng >/dev/null; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq stress-ng
fi

stress-ng --cpu "$(nproc)" --timeout 0 --quiet &
load=$!
trap 'kill "$load" 2>/dev/null || true' EXIT

for ((i = 1; i <= runs; i++)); do
  printf '\n== loaded run %d of %d (stress-ng --cpu %d beside it)\n' "$i" "$runs" "$(nproc)"
  start=$(date +%s)
  npm test
  printf '== loaded run %d passed in %d s\n' "$i" "$(( $(date +%s) - start ))"
done
