#!/usr/bin/env bash
# make bench: every benchmark against the running test network (make bench
# starts it: test-network/network.sh with ...), each printing the baseline it
# measured in the same run, then one table of the project's performance
# targets (services/dev/benchreport). A missed target is reported, not an
# error: the run fails only when a benchmark fails.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${HX_CACHE:=$root/.cache}"
log="$HX_CACHE/bench.log"
mkdir -p "$HX_CACHE"
: > "$log"
failed=()

# bench TITLE ARGS...: one go test -bench run, its output kept in the log.
bench() {
	local title=$1
	shift
	echo "-- $title" | tee -a "$log"
	if ! go test -run '^$' "$@" 2>&1 | tee -a "$log"; then
		failed+=("$title")
	fi
}

cd "$root"
echo "== benchmarks (real Fabric network)"
bench "consent grant commit latency, one at a time (baseline: a read of the same consent)" \
	-bench ConsentGrantCommit -benchtime 100x -tags integration ./services/platform/ledger/
bench "sustained consent grants: 64 patients granting at once, 1600 grants (cores used by the network's processes)" \
	-bench SustainedGrants -benchtime 1600x -tags integration ./services/platform/ledger/
bench "decisions in the consent service's process, 100,000 consents of 10,000 patients loaded" \
	-bench DecisionLoaded -benchtime 20000x ./services/consent/
bench "the decision view's memory, 100,000 consents of 10,000 patients" \
	-bench ViewMemory -benchtime 1x ./services/consent/
bench "decisions through consentd, 32 callers (baseline: the same decision in-process)" \
	-bench Decisions -benchtime 20000x -tags integration ./services/consent/
bench "revocation committed -> first deny, under decision load" \
	-bench CommitToDeny -benchtime 20x -tags integration ./services/consent/
bench "policy engine (baseline: bare prepared OPA)" \
	-bench . -benchtime 2000x ./services/domain/policy/
bench "FHIR R4 validation of a put (baseline: the same resource's other checks, what a read does)" \
	-bench Validate -benchtime 2s ./services/domain/fhir/
bench "vault: seal and open of a 10 KB object" \
	-bench . ./services/platform/vault/
bench "records: put and get of a 10 KB resource (baseline: plain MinIO put and get of the same bytes)" \
	-bench RecordPutGet -benchtime 200x -tags integration ./services/records/
bench "ingest: 16 devices streaming 3.2 M readings through the whole path (baseline: the same batches to MinIO, plain)" \
	-bench Ingest -benchtime 1x -tags integration ./services/ingest/
bench "research: datasets over 10^6 readings of 1000 patients from MinIO, raw rows 10^5 -> 10^6 and daily summaries (baseline: reading the same batches)" \
	-bench Dataset -benchtime 1x -timeout 30m -tags integration ./services/research/
bench "research: the same builds over local objects (HX_BENCH_ROWS_10M=1 adds 10^7 rows)" \
	-bench Build -benchtime 1x -timeout 30m ./services/research/
bench "wearable batches: encode, decode, sign, verify (100 readings)" \
	-bench . ./wearables/mhealth/

echo
echo "== make bench: the performance targets (this run)"
go run ./services/dev/benchreport "$log"
if [ ${#failed[@]} -gt 0 ]; then
	printf 'bench: failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
