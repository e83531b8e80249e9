#!/usr/bin/env bash
# ensure.sh builds the pinned linters (staticcheck, version in go.mod) if they
# are missing, and prints the folder that holds them. The folder is named by
# the hash of go.mod and go.sum, so a changed pin rebuilds and nothing else
# does:  $HX_CACHE/lint-<hash>/bin   (HX_CACHE defaults to <repo>/.cache)
# Progress goes to stderr; stdout is only the folder, for the Makefile.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
: "${HX_CACHE:=$root/.cache}"

pin="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
bin="$HX_CACHE/lint-$pin/bin"
if [ ! -x "$bin/staticcheck" ]; then
  printf '[lint] building staticcheck into %s (first time: about a minute)\n' "$bin" >&2
  mkdir -p "$bin"
  tmp="$(mktemp -d "$bin/.build.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$here" && go build -trimpath -o "$tmp/" honnef.co/go/tools/cmd/staticcheck) || {
    printf '[lint] error: building staticcheck failed\n' >&2
    exit 1
  }
  mv -f "$tmp"/* "$bin/"
fi
printf '%s\n' "$bin"
