package main

import (
	"fmt"
	"math"
	"strings"
)

// Target is one row of the report: a measured metric, its target, and the
// baseline the same run measured for it.
type Target struct {
	Path          string
	Bench, Metric string // what was measured
	Unit          string // how the table shows it
	Scale         float64
	// Higher: a higher value is better (a rate); else lower (a latency).
	Higher bool
	// Goal is the bound on the value; OnRatio puts it on the ratio instead.
	Goal    float64
	OnRatio bool
	// BaseBench, BaseMetric name the baseline ("" for none), in the same
	// unit after BaseScale.
	BaseBench, BaseMetric string
	BaseScale             float64
}

// Row is a target as the run met it.
type Row struct {
	Target
	Value, Base, Ratio float64
	HasValue, HasBase  bool
	Met                bool
}

// Evaluate fills the row of each target from results. The ratio is the
// cost against the baseline: value/base for a latency, base/value for a
// rate (2 means twice the baseline's cost either way).
func Evaluate(results Results, targets []Target) []Row {
	rows := make([]Row, 0, len(targets))
	for _, t := range targets {
		row := Row{Target: t}
		if v, ok := results.Get(t.Bench, t.Metric); ok {
			row.Value, row.HasValue = v*scale(t.Scale), true
		}
		if t.BaseBench != "" {
			if v, ok := results.Get(t.BaseBench, t.BaseMetric); ok {
				row.Base, row.HasBase = v*scale(t.BaseScale), true
			}
		}
		if row.HasValue && row.HasBase && row.Value != 0 && row.Base != 0 {
			if t.Higher {
				row.Ratio = row.Base / row.Value
			} else {
				row.Ratio = row.Value / row.Base
			}
		}
		switch {
		case !row.HasValue:
		case t.OnRatio:
			row.Met = row.Ratio != 0 && row.Ratio <= t.Goal
		case t.Higher:
			row.Met = row.Value >= t.Goal
		default:
			row.Met = row.Value <= t.Goal
		}
		rows = append(rows, row)
	}
	return rows
}

func scale(s float64) float64 {
	if s == 0 {
		return 1
	}
	return s
}

// Table is the rows as a Markdown table.
func Table(rows []Row) string {
	var b strings.Builder
	b.WriteString("| path | target | measured | baseline (same run) | ratio | |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		goal := map[bool]string{true: ">= ", false: "<= "}[r.Higher] + withUnit(r.Goal, r.Unit)
		if r.OnRatio {
			goal = fmt.Sprintf("<= %sx the baseline", number(r.Goal))
		}
		value, base, ratio, verdict := "not measured", "", "", "missing"
		if r.HasValue {
			value = withUnit(r.Value, r.Unit)
			verdict = map[bool]string{true: "met", false: "not met"}[r.Met]
		}
		if r.HasBase {
			base = withUnit(r.Base, r.Unit) + " (" + r.BaseBench + ")"
		}
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Path, goal, value, base, ratio, verdict)
	}
	return b.String()
}

func withUnit(v float64, unit string) string {
	if unit == "" {
		return number(v)
	}
	return number(v) + " " + unit
}

// number prints a figure with about three significant digits.
func number(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
