#!/usr/bin/env bash
# proto.sh runs the protobuf toolchain over proto/ with the pinned tools that
# ensure.sh builds; the Makefile's targets of the same names call it.
#
#   proto.sh generate         regenerate every generated file under proto/
#   proto.sh verify-generate  regenerate into a temporary copy of proto/ and
#                             fail, naming the stale files, if the generated
#                             files in the work tree are not exactly that
#   proto.sh lint             buf lint (rules in proto/buf.yaml)
#   proto.sh breaking         buf breaking (rules in proto/buf.yaml) against
#                             the .proto files committed on the branch main
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proto="$(cd "$here/.." && pwd)"
root="$(cd "$proto/.." && pwd)"

log() { printf '[proto] %s\n' "$*"; }
fail() {
  printf '[proto] error: %s\n' "$*" >&2
  exit 1
}

bin="$("$here/ensure.sh")" || fail "could not build the protobuf tools"
export PATH="$bin:$PATH"

# generated DIR: the generated files under DIR (a proto/ or a copy of it),
# relative to it, sorted. Generated files are recognised by name.
generated() {
  (cd "$1" && find . -path ./tools -prune -o -type f \
    \( -name '*.pb.go' -o -name '*.pb.gw.go' -o -name '*.swagger.json' \) -print |
    sed 's|^\./||' | LC_ALL=C sort)
}

# regenerate DIR: remove DIR's generated files, so that output whose .proto is
# gone goes too, and run buf generate there once per service: the template
# buf.gen.<service>.yaml over the folder <service>/ (each gateway and OpenAPI
# run reads one service's grpc_api_configuration, see README.md).
regenerate() {
  local dir="$1" f template service
  while IFS= read -r f; do
    rm -f "$dir/$f"
  done < <(generated "$dir")
  for template in "$dir"/buf.gen.*.yaml; do
    service="$(basename "$template" .yaml)"
    service="${service#buf.gen.}"
    [ -d "$dir/$service" ] || fail "$template has no folder $service/ to generate"
    (cd "$dir" && buf generate --template "$(basename "$template")" --path "$service") ||
      fail "buf generate failed in $dir for $service"
  done
}

cmd_generate() {
  log "buf generate in proto/ ($(buf --version), plugins from $bin)"
  regenerate "$proto"
  log "generated: $(generated "$proto" | tr '\n' ' ')"
}

cmd_verify_generate() {
  local f
  # Global, not local: the EXIT trap runs after this function has returned.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp -a "$proto/." "$tmp/"
  log "regenerating a copy of proto/ in $tmp"
  regenerate "$tmp"
  local stale=()
  while IFS= read -r f; do
    if [ ! -e "$proto/$f" ]; then
      stale+=("proto/$f (generated, but missing from the work tree)")
    elif [ ! -e "$tmp/$f" ]; then
      stale+=("proto/$f (no longer generated from any .proto)")
    elif ! cmp -s "$proto/$f" "$tmp/$f"; then
      stale+=("proto/$f (differs from what make generate writes)")
      diff -u --label "proto/$f (committed)" --label "proto/$f (generated)" \
        "$proto/$f" "$tmp/$f" | head -n 20 >&2 || true
    fi
  done < <({ generated "$proto"; generated "$tmp"; } | LC_ALL=C sort -u)
  if [ ${#stale[@]} -gt 0 ]; then
    printf '[proto] error: generated code is stale:\n' >&2
    printf '  %s\n' "${stale[@]}" >&2
    printf '[proto] run "make generate" and commit the result\n' >&2
    exit 1
  fi
  log "generated code is current ($(generated "$proto" | wc -l) files checked)"
}

cmd_lint() {
  log "buf lint proto/"
  (cd "$proto" && buf lint) || fail "buf lint found problems (rules: proto/buf.yaml)"
  log "lint clean"
}

cmd_breaking() {
  local against='.git#branch=main,subdir=proto'
  cd "$root"
  git rev-parse --verify -q refs/heads/main >/dev/null ||
    fail "no local branch main to compare against (in a clone: git fetch origin main:main)"
  # The commit that first adds .proto files has nothing on main to break.
  if ! git ls-tree -r --name-only refs/heads/main -- proto/ | grep -q '\.proto$'; then
    log "main has no .proto files under proto/ yet: nothing to compare against"
    return 0
  fi
  log "buf breaking proto/ against $against"
  buf breaking proto --against "$against" ||
    fail "breaking changes against main (rules: proto/buf.yaml)"
  log "no breaking change against main"
}

case "${1:-}" in
  generate) cmd_generate ;;
  verify-generate) cmd_verify_generate ;;
  lint) cmd_lint ;;
  breaking) cmd_breaking ;;
  *)
    echo "usage: $0 generate|verify-generate|lint|breaking" >&2
    exit 2
    ;;
esac
