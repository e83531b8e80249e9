#!/usr/bin/env bash
# ensure.sh builds the pinned protobuf tools (buf and the protoc plugins named in
# tools.go, versions in go.mod) if they are missing, and prints the folder that
# holds them. The folder is named by the hash of go.mod and go.sum, so a changed
# pin rebuilds everything and nothing else ever does:
#
#   $HX_CACHE/prototools-<hash>/bin     (HX_CACHE defaults to <repo>/.cache)
#
# Progress goes to stderr; stdout is only the folder, for the Makefile:
#   PATH="$(proto/tools/ensure.sh):$PATH" buf generate
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
: "${HX_CACHE:=$root/.cache}"

log() { printf '[prototools] %s\n' "$*" >&2; }

pin="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
bin="$HX_CACHE/prototools-$pin/bin"

# Command name, then the package it is built from.
tools=(
  "buf github.com/bufbuild/buf/cmd/buf"
  "protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go"
  "protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc"
  "protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway"
  "protoc-gen-openapiv2 github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2"
)

missing=() names=()
for entry in "${tools[@]}"; do
  read -r name pkg <<<"$entry"
  if [ ! -x "$bin/$name" ]; then
    missing+=("$pkg")
    names+=("$name")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  log "building ${names[*]} into $bin (first time: a few minutes)"
  mkdir -p "$bin"
  start=$SECONDS
  # Build into a scratch folder and move into place, so an interrupted build
  # never leaves a half-written binary that looks usable next time.
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$here" && go build -trimpath -o "$tmp/" "${missing[@]}") || {
    log "error: building the protobuf tools failed"
    exit 1
  }
  mv -f "$tmp"/* "$bin/"
  log "built in $((SECONDS - start)) s"
fi

printf '%s\n' "$bin"
