#!/usr/bin/env bash
# Proto imports that no npm package ships, linked into proto-deps/ (not in
# git), where buf.yaml finds them. They come from the Go module proxy, pinned
# by version and by the module's hash; the buf registry is never asked.
# Idempotent (Go's module cache keeps them); `npm run generate`, `npm run lint`
# and scripts/test.sh run it before buf.
set -euo pipefail
cd "$(dirname "$0")/.."

# proto_module LINK MODULE@VERSION H1_SUM SUBDIR
# Downloads the Go module (go verifies it against the checksum database, and
# the pinned sum is checked too), then links its SUBDIR as proto-deps/LINK.
proto_module() {
  local link="$1" module="$2" sum="$3" subdir="$4"
  command -v go >/dev/null || { echo "proto-deps: 'go' not found on PATH (needed to fetch $module)" >&2; return 1; }
  local json
  json="$(go mod download -json "$module")"
  if ! grep -qF "\"Sum\": \"$sum\"" <<<"$json"; then
    echo "proto-deps: $module does not have the pinned hash $sum:" >&2
    echo "$json" >&2
    return 1
  fi
  local dir
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  [[ -d "$dir/$subdir" ]] || { echo "proto-deps: $module has no $subdir" >&2; return 1; }
  mkdir -p proto-deps
  ln -sfn "$dir/$subdir" "proto-deps/$link"
}

# buf/validate/validate.proto: protovalidate's rules, the version @bufbuild/protovalidate
# (package.json) is built against (its README names it).
proto_module protovalidate github.com/bufbuild/protovalidate@v1.2.2 \
  "h1:2H/9/Kr97etSRqW3IJjTTb09z+zutkK2GDhDRbOnqr4=" proto/protovalidate
