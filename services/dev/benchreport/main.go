package main

import (
	"fmt"
	"os"
)

// targets are the project's performance targets (the README's performance
// section), each with the benchmark of make bench that measures it.
var targets = []Target{
	{Path: "policy decision, 100,000 consents of 10,000 patients loaded (allow, p50)", Bench: "consent.BenchmarkDecisionLoaded/allow", Metric: "p50-us", Unit: "us", Goal: 50,
		BaseBench: "policy.BenchmarkBarePreparedEval", BaseMetric: "ns/op", BaseScale: 1e-3},
	{Path: "decisions through consentd, single Authorize, 32 callers", Bench: "consent.BenchmarkDecisions/single", Metric: "decisions/s", Unit: "/s", Higher: true, Goal: 5000,
		BaseBench: "consent.BenchmarkDecisions/in-process", BaseMetric: "decisions/s"},
	{Path: "decisions through consentd, single Authorize, p99", Bench: "consent.BenchmarkDecisions/single", Metric: "p99-ms", Unit: "ms", Goal: 5,
		BaseBench: "consent.BenchmarkDecisions/in-process", BaseMetric: "p99-ms"},
	{Path: "decisions through consentd, BatchAuthorize of 50, 32 callers", Bench: "consent.BenchmarkDecisions/batch50", Metric: "decisions/s", Unit: "/s", Higher: true, Goal: 20000,
		BaseBench: "consent.BenchmarkDecisions/in-process", BaseMetric: "decisions/s"},
	{Path: "sustained consent grants, 64 patients at once", Bench: "ledger.BenchmarkSustainedGrants", Metric: "grants/s", Unit: "/s", Higher: true, Goal: 600},
	{Path: "sustained consent grants, p50", Bench: "ledger.BenchmarkSustainedGrants", Metric: "p50-ms", Unit: "ms", Goal: 250,
		BaseBench: "ledger.BenchmarkConsentGrantCommit", BaseMetric: "grant-p50-ms"},
	{Path: "record get, 10 KB, end to end, p99", Bench: "records.BenchmarkRecordPutGet", Metric: "later-get-p99-ms", Unit: "ms", Goal: 10,
		BaseBench: "records.BenchmarkRecordPutGet", BaseMetric: "minio-get-p99-ms"},
	{Path: "record get, 10 KB, end to end, p50 against a plain MinIO GET", Bench: "records.BenchmarkRecordPutGet", Metric: "later-get-p50-ms", Unit: "ms", Goal: 2, OnRatio: true,
		BaseBench: "records.BenchmarkRecordPutGet", BaseMetric: "minio-get-p50-ms"},
	{Path: "wearable ingest, whole path", Bench: "ingest.BenchmarkIngest", Metric: "readings/s", Unit: "readings/s", Higher: true, Goal: 300000,
		BaseBench: "ingest.BenchmarkIngest", BaseMetric: "plain-minio-readings/s"},
	{Path: "wearable ingest against plain MinIO writes", Bench: "ingest.BenchmarkIngest", Metric: "readings/s", Unit: "readings/s", Higher: true, Goal: 1.5, OnRatio: true,
		BaseBench: "ingest.BenchmarkIngest", BaseMetric: "plain-minio-readings/s"},
	{Path: "research export, 10^6 raw rows from MinIO", Bench: "research.BenchmarkDataset/raw-10h", Metric: "rows/s", Unit: "rows/s", Higher: true, Goal: 500000,
		BaseBench: "research.BenchmarkDataset/baseline-read-10h", BaseMetric: "readings/s"},
	{Path: "research export, 10^6 raw rows from MinIO, peak heap", Bench: "research.BenchmarkDataset/raw-10h", Metric: "MB-heap-peak", Unit: "MB", Goal: 256},
	{Path: "research export from MinIO, time of 10x the rows (10^5 -> 10^6)", Bench: "research.BenchmarkDataset/raw-10h", Metric: "x-time-10x-rows", Unit: "x", Goal: 11},
	{Path: "research export, 10^6 raw rows from local objects", Bench: "research.BenchmarkBuild/raw-10h", Metric: "rows/s", Unit: "rows/s", Higher: true, Goal: 500000},
	{Path: "research export, 10^6 raw rows from local objects, peak heap", Bench: "research.BenchmarkBuild/raw-10h", Metric: "MB-heap-peak", Unit: "MB", Goal: 256},
	{Path: "research export from local objects, time of 10x the rows (10^5 -> 10^6)", Bench: "research.BenchmarkBuild/raw-10h", Metric: "x-time-10x-rows", Unit: "x", Goal: 11},
	{Path: "research export, 10^7 raw rows from local objects, peak heap (HX_BENCH_ROWS_10M=1)", Bench: "research.BenchmarkBuild/raw-100h", Metric: "MB-heap-peak", Unit: "MB", Goal: 256},
	{Path: "revoke committed -> first deny, p50, under decision load", Bench: "consent.BenchmarkCommitToDeny", Metric: "commit-to-deny-p50-ms", Unit: "ms", Goal: 100},
	{Path: "revoke committed -> first deny, slowest, under decision load", Bench: "consent.BenchmarkCommitToDeny", Metric: "commit-to-deny-max-ms", Unit: "ms", Goal: 100},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchreport <go test -bench output file>")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	defer f.Close()
	results, err := Parse(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	fmt.Print(Table(Evaluate(results, targets)))
}
