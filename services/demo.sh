#!/usr/bin/env bash
# The demo's patient side, as people would do it: the patient with the
# `patient` CLI, a clinician's system asking the consent service through its
# HTTP/JSON gateway. Then the ledger-level story (services/cmd/hxdemo).
# Needs the test network up (make demo does that); starts the consent service
# for the length of the story and stops it at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${HX_CACHE:=$root/.cache}"
: "${HX_STATE:=$HX_CACHE/network}"
export HX_STATE
env_file="$HX_STATE/network.json"
[ -f "$env_file" ] || { echo "demo: $env_file is missing; run make network-up" >&2; exit 1; }

bin="$HX_CACHE/bin"
mkdir -p "$bin"
echo "[demo] building consentd, patient, hxtoken, hxdemo into $bin"
(cd "$root" && go build -o "$bin/" ./services/cmd/consentd ./services/cmd/patient ./services/cmd/hxtoken ./services/cmd/hxdemo)

http_addr="127.0.0.1:${HX_CONSENT_HTTP_PORT:-27102}"
grpc_addr="127.0.0.1:${HX_CONSENT_GRPC_PORT:-27101}"
ca="$(jq -r .servicesTls.ca "$env_file")"
idp_key="$(jq -r .devIdp.key "$env_file")"
issuer="$(jq -r .devIdp.issuer "$env_file")"
audience="$(jq -r .devIdp.audience "$env_file")"
log="$HX_STATE/logs/consentd.log"

echo "[demo] starting the consent service (gRPC $grpc_addr, HTTP $http_addr; log: $log)"
"$bin/consentd" -env "$env_file" -grpc "$grpc_addr" -http "$http_addr" >"$log" 2>&1 &
consentd_pid=$!
stop_consentd() {
  kill "$consentd_pid" 2>/dev/null && wait "$consentd_pid" 2>/dev/null || true
}
trap stop_consentd EXIT
for _ in $(seq 1 100); do
  if grep -q "consent view: following the ledger" "$log" 2>/dev/null; then break; fi
  kill -0 "$consentd_pid" 2>/dev/null || { echo "demo: consentd exited:" >&2; tail -20 "$log" >&2; exit 1; }
  sleep 0.2
done

run=$(date +%s%N | tail -c 8)
pat="pat-$run"
dr="dr-alice-$run"
key="$HX_STATE/demo-keys/$pat.json"
token() { "$bin/hxtoken" issue -key "$idp_key" -iss "$issuer" -aud "$audience" "$@"; }
pat_token="$(token -sub "$pat" -role patient)"
dr_token="$(token -sub "$dr" -role clinician -org ProvidersMSP)"

export HX_CONSENT_URL="https://$http_addr" HX_TOKEN="$pat_token" HX_PATIENT_KEY="$key"
say() { printf '\n== %s\n' "$*"; }
patient() {
  printf '$ patient %s\n' "$*"
  "$bin/patient" "$@" --ca "$ca" | sed 's/^/  /'
}
# clinician ask a question of the decision service as the records service would.
clinician() { # path json
  curl -fsS --cacert "$ca" -H "Authorization: Bearer $dr_token" -H 'Content-Type: application/json' \
    -X POST "https://$http_addr$1" -d "$2"
}
authorize() { # category purpose [break-glass reason]
  local body
  body=$(jq -nc --arg p "$pat" --arg c "$1" --arg u "$2" --arg bg "${3:-}" \
    '{action:"read", resource:{patientId:$p, category:$c}, purpose:$u, breakGlassReason:$bg}')
  printf '$ %s asks: read %s for %s%s\n' "$dr" "$1" "$2" "${3:+ (break-glass: $3)}"
  clinician /v1/authorize "$body" |
    jq -r '.decision | "  " + (if .allow then "ALLOW" else "DENY" end) + ": " + (.reasons | join("; ")) +
      (if (.obligations | length) > 0 then "  [obligations: " + (.obligations | join(", ")) + "]" else "" end)'
}

say "1. The patient makes a key on their own machine and registers it"
patient keygen --id "$pat"
patient register

say "2. The patient grants Dr. Alice labs and conditions, for treatment, for 30 days"
out=$("$bin/patient" grant --ca "$ca" --json --to "user:$dr" --categories labs,conditions --purposes treatment --for 720h)
consent=$(jq -r .consent.consentId <<<"$out")
jq -r '"$ patient grant --to user:'"$dr"' --categories labs,conditions --purposes treatment --for 720h\n  granted " + .consent.consentId + " until " + .consent.expiresAt' <<<"$out"

say "3. Dr. Alice's system asks the consent service before every read"
authorize labs treatment
authorize imaging treatment
authorize labs payment

say "4. Emergency: break-glass with a reason (allowed, flagged, the patient is to be told)"
authorize imaging emergency "unresponsive on arrival, prior imaging needed"

say "5. Dr. Alice asks for imaging; the patient approves the request"
clinician /v1/access-requests "$(jq -nc --arg p "$pat" '{patientId:$p, categories:["imaging"], purposes:["treatment"], reason:"follow-up of the emergency visit"}')" |
  jq -r '"  request " + .request.requestId + " is " + .request.state'
patient requests --state pending
request=$("$bin/patient" requests --ca "$ca" --json --state pending | jq -r '.requests[0].requestId')
patient approve "$request" --for 168h
authorize imaging treatment

say "6. The patient revokes the first consent; Dr. Alice's next read of labs is denied"
patient revoke "$consent"
authorize labs treatment

say "7. The patient reads who accessed their data (allowed and denied; written to the ledger in batches)"
# The six decisions above reach the ledger in the service's next batch.
for _ in $(seq 1 150); do
  n=$("$bin/patient" access-log --ca "$ca" --json | jq '.events | length')
  [ "$n" -ge 6 ] && break
  sleep 0.2
done
[ "$n" -ge 6 ] || { echo "demo: only $n of 6 access events reached the ledger within 30 s" >&2; exit 1; }
patient access-log
patient consents

say "8. On the ledger: notarized records, wearable anchors, research releases, forgeries refused"
"$bin/hxdemo" -network "$env_file"
