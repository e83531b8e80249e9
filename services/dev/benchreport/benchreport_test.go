package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: healthexchange/services/consent
BenchmarkDecisions/in-process-2         	   20000	     27161 decisions/s	         0.04800 p50-ms	         0.3360 p99-ms
BenchmarkDecisions/single-2             	   20000	         0.2686 chaincode-cores	      2042 decisions/s	        76.82 p99-ms
pkg: healthexchange/services/ingest
BenchmarkIngest-2   	       1	         4.666 baseline-ratio	   1000918 plain-minio-readings/s	    214516 readings/s
--- BENCH: BenchmarkIngest-2
    bench_integration_test.go:61: BenchmarkIngest-2 1 2 x
pkg: healthexchange/wearables/mhealth
BenchmarkIngest-2   	   21259	     56822 ns/op	   1759887 readings/s
pkg: healthexchange/services/research
BenchmarkBuild/raw-10h
BenchmarkBuild/raw-10h-2 	       1	    550000 rows/s	  16.0 MB-heap-peak	 9.1 x-time-10x-rows
ok  	healthexchange/services/consent	31.975s
`

func TestParseKeepsEveryBenchmarkLineAndNothingElse(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 5 {
		t.Errorf("parsed %d benchmarks (%v), want 5", len(r), r)
	}
	if v, _ := r.Get("ingest.BenchmarkIngest", "readings/s"); v != 214516 {
		t.Errorf("ingest.BenchmarkIngest readings/s = %v: want the ingest service's, not mhealth's benchmark of the same name", v)
	}
	if v, ok := r.Get("consent.BenchmarkDecisions/single", "decisions/s"); !ok || v != 2042 {
		t.Errorf("single decisions/s = %v, %v; want 2042", v, ok)
	}
	if v, ok := r.Get("research.BenchmarkBuild/raw-10h", "x-time-10x-rows"); !ok || v != 9.1 {
		t.Errorf("raw-10h scaling = %v, %v; want 9.1", v, ok)
	}
	if _, ok := r.Get("ingest.BenchmarkIngest", "x"); ok {
		t.Error("a log line was taken for a metric")
	}
}

func TestEvaluateJudgesRatesLatenciesAndRatios(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	rows := Evaluate(r, []Target{
		{Path: "rate", Bench: "consent.BenchmarkDecisions/single", Metric: "decisions/s", Unit: "/s", Higher: true, Goal: 5000, BaseBench: "consent.BenchmarkDecisions/in-process", BaseMetric: "decisions/s"},
		{Path: "latency", Bench: "consent.BenchmarkDecisions/in-process", Metric: "p50-ms", Goal: 1},
		{Path: "ratio", Bench: "ingest.BenchmarkIngest", Metric: "readings/s", Higher: true, Goal: 1.5, OnRatio: true, BaseBench: "ingest.BenchmarkIngest", BaseMetric: "plain-minio-readings/s"},
		{Path: "ratio met", Bench: "ingest.BenchmarkIngest", Metric: "readings/s", Higher: true, Goal: 5, OnRatio: true, BaseBench: "ingest.BenchmarkIngest", BaseMetric: "plain-minio-readings/s"},
		{Path: "absent", Bench: "BenchmarkNothing", Metric: "x", Goal: 1},
	})
	want := []bool{false, true, false, true, false}
	for i, row := range rows {
		if row.Met != want[i] {
			t.Errorf("%s: met %v, want %v (%+v)", row.Path, row.Met, want[i], row)
		}
	}
	if got := rows[0].Ratio; got < 13.2 || got > 13.4 {
		t.Errorf("rate ratio %v, want in-process/single = 13.3", got)
	}
	table := Table(rows)
	for _, s := range []string{"| rate | >= 5000 /s | 2042 /s |", "| absent |", "missing", "not met", "13.30x"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
}

func TestTargetsNameDistinctRows(t *testing.T) {
	seen := map[string]bool{}
	for _, tg := range targets {
		if seen[tg.Path] || tg.Bench == "" || tg.Metric == "" || tg.Goal <= 0 {
			t.Errorf("target %+v: want a unique path, a benchmark, a metric and a goal", tg)
		}
		seen[tg.Path] = true
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("BenchmarkX-2 1 NaN a Inf b\n"))
	f.Add(bytes.Repeat([]byte("Benchmark "), 10000))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Parse(bytes.NewReader(in))
		if err != nil {
			return // a line over the bound: refused, said so
		}
		Table(Evaluate(r, targets)) // whatever was parsed prints
	})
}
