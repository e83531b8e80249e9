// Command benchreport reads the output of make bench's go test runs and
// prints one table: each performance target of the project, what the run
// measured, the baseline measured in the same run, their ratio, and whether
// the target was met. It never fails because a target was missed (a slow
// machine is not an error); it fails only when it cannot read its input.
package main

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Results are the metrics of a run, by benchmark and unit. A benchmark is
// named by the last element of its package and its name without the
// GOMAXPROCS suffix, e.g. "consent.BenchmarkDecisions/single" (two
// packages may have benchmarks of the same name).
type Results map[string]map[string]float64

// maxLine bounds a line of go test output the parser keeps.
const maxLine = 64 << 10

var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads go test -bench output: the "pkg: path" line before a
// package's benchmarks, and every line "BenchmarkX[/sub]-N iterations value
// unit value unit ...". Other lines are skipped, and so is a value that is
// not a number; a benchmark seen twice keeps the last.
func Parse(r io.Reader) (Results, error) {
	out := Results{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "pkg: "); ok {
			pkg = path.Base(strings.TrimSpace(p))
			continue
		}
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			continue // a benchmark's name alone, or its log
		}
		name := pkg + "." + procsSuffix.ReplaceAllString(fields[0], "")
		metrics := map[string]float64{}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			metrics[fields[i+1]] = v
		}
		if len(metrics) > 0 {
			out[name] = metrics
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the benchmark output: %w", err)
	}
	return out, nil
}

// Get is a metric of a benchmark, and whether the run had it.
func (r Results) Get(bench, unit string) (float64, bool) {
	v, ok := r[bench][unit]
	return v, ok
}
