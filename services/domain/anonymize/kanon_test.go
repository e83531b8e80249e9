package anonymize

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var kQIs = []string{"age", "zip", "sex"}

func kHierarchies() map[string]Hierarchy {
	return map[string]Hierarchy{"age": AgeBandHierarchy(), "zip": ZIP3Hierarchy(), "sex": CategoryHierarchy()}
}

// people returns n one-row patients with the given quasi-identifiers.
func people(n int, age, zip, sex string) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{"age": age, "zip": zip, "sex": sex, "hba1c": "6.0"}
	}
	return rows
}

// groupSizes counts output rows per quasi-identifier tuple.
func groupSizes(rows []Row) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[fmt.Sprint(r["age"], "|", r["zip"], "|", r["sex"])]++
	}
	return m
}

func TestEnforceSingleRareZIPIsSuppressed(t *testing.T) {
	rows := append(append(people(20, "35-39", "100", "F"), people(20, "35-39", "100", "M")...), people(1, "35-39", "999", "F")...)
	out, rep, err := Enforce(rows, kQIs, 5, kHierarchies())
	if err != nil {
		t.Fatal(err)
	}
	want := Report{K: 5, KAchieved: 20, Groups: 2, RowsIn: 41, RowsOut: 40, Suppressed: 1, Levels: map[string]int{"age": 0, "zip": 0, "sex": 0}}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if groupSizes(out)["35-39|999|F"] != 0 {
		t.Error("the rare ZIP was released")
	}
}

func TestEnforceGeneralizesWhenSuppressionNotAllowed(t *testing.T) {
	rows := append(append(people(20, "35-39", "100", "F"), people(20, "35-39", "100", "M")...), people(1, "35-39", "999", "F")...)
	out, rep, err := Enforce(rows, kQIs, 5, kHierarchies(), WithMaxSuppression(0))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Suppressed != 0 || rep.Levels["zip"] != 1 || rep.Levels["age"] != 0 || rep.Levels["sex"] != 0 {
		t.Errorf("report %+v: want only ZIP generalized, nothing suppressed", rep)
	}
	if diff := cmp.Diff(map[string]int{"35-39|*|F": 21, "35-39|*|M": 20}, groupSizes(out)); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestEnforceAgesOver89StayTopCoded(t *testing.T) {
	rows := append(people(6, "90+", "100", "F"), people(6, "85-89", "100", "F")...)
	out, rep, err := Enforce(rows, kQIs, 5, kHierarchies())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"90+|100|F": 6, "85-89|100|F": 6}, groupSizes(out)); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if rep.KAchieved != 6 {
		t.Errorf("KAchieved = %d", rep.KAchieved)
	}
	// Not enough over-90s for k: the 10-year level keeps 90+ apart, the
	// 20-year level merges them into 80+, never into a band that ends at 89.
	rows = append(people(2, "90+", "100", "F"), people(6, "85-89", "100", "F")...)
	out, rep, err = Enforce(rows, kQIs, 5, kHierarchies(), WithMaxSuppression(0))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"80+|100|F": 8}, groupSizes(out)); diff != "" {
		t.Errorf("groups (-want +got):\n%s (report %+v)", diff, rep)
	}
}

func TestEnforceCohortSmallerThanK(t *testing.T) {
	rows := people(3, "35-39", "100", "F")
	out, rep, err := Enforce(rows, kQIs, 5, kHierarchies())
	if !errors.Is(err, ErrCohortTooSmall) {
		t.Fatalf("err = %v, want ErrCohortTooSmall", err)
	}
	if out != nil || rep.Suppressed != 3 || rep.RowsOut != 0 || rep.KAchieved != 0 {
		t.Errorf("out = %v, report = %+v: want nothing released, everything suppressed", out, rep)
	}
	if _, _, err := Enforce(nil, kQIs, 2, kHierarchies()); !errors.Is(err, ErrCohortTooSmall) {
		t.Errorf("empty input: err = %v", err)
	}
}

func TestEnforceKMinimal(t *testing.T) {
	rows := append(people(2, "35-39", "100", "F"), people(2, "40-44", "200", "M")...)
	out, rep, err := Enforce(rows, kQIs, 2, kHierarchies(), WithMaxSuppression(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || rep.KAchieved != 2 || rep.Levels["age"]+rep.Levels["zip"]+rep.Levels["sex"] != 0 {
		t.Errorf("report %+v: want all kept at level 0", rep)
	}
	if _, _, err := Enforce(rows, kQIs, 1, kHierarchies()); !errors.Is(err, ErrConfig) {
		t.Errorf("k = 1: err = %v, want ErrConfig", err)
	}
}

func TestEnforceKLargerThanAnyGroup(t *testing.T) {
	var rows []Row
	for i := range 20 { // 20 patients, each alone in their group
		rows = append(rows, Row{"age": bandOf(5*(i%18), 5), "zip": fmt.Sprintf("%03d", 100+i), "sex": []string{"F", "M"}[i%2]})
	}
	out, rep, err := Enforce(rows, kQIs, 10, kHierarchies())
	if err != nil {
		t.Fatal(err)
	}
	if rep.KAchieved < 10 || len(out)+rep.Suppressed != 20 || rep.Suppressed > 1 {
		t.Errorf("report %+v", rep)
	}
	for g, n := range groupSizes(out) {
		if n < 10 {
			t.Errorf("group %s has %d rows", g, n)
		}
	}
}

func TestEnforceCountsPatientsNotRows(t *testing.T) {
	var rows []Row
	for i := range 50 { // one patient, 50 rows, alone in their group
		rows = append(rows, Row{"patient": "solo", "age": "35-39", "zip": "100", "sex": "F", "visit": fmt.Sprint(i)})
	}
	for i := range 5 {
		rows = append(rows, Row{"patient": fmt.Sprint("p", i), "age": "40-44", "zip": "100", "sex": "F"})
	}
	_, rep, err := Enforce(rows, kQIs, 5, kHierarchies(), WithMaxSuppression(0))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Levels["age"] != 0 {
		t.Errorf("counting rows: report %+v, want level 0 (50 rows look like a group)", rep)
	}
	_, rep, err = Enforce(rows, kQIs, 5, kHierarchies(), WithMaxSuppression(0), WithSubject("patient"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Levels["age"] == 0 || rep.KAchieved != 6 {
		t.Errorf("counting patients: report %+v, want the lone patient merged (6 patients)", rep)
	}
}

func TestEnforceDoesNotModifyInput(t *testing.T) {
	rows := append(people(5, "35-39", "100", "F"), people(1, "35-39", "200", "F")...)
	if _, _, err := Enforce(rows, kQIs, 5, kHierarchies(), WithMaxSuppression(0)); err != nil {
		t.Fatal(err)
	}
	if rows[0]["zip"] != "100" {
		t.Error("input row modified")
	}
}

func TestEnforceRejectsBadArguments(t *testing.T) {
	rows := people(10, "35-39", "100", "F")
	tests := map[string]struct {
		qis  []string
		h    map[string]Hierarchy
		opts []EnforceOption
		want error
	}{
		"no hierarchy":        {[]string{"age", "height"}, kHierarchies(), nil, ErrConfig},
		"no qis":              {nil, kHierarchies(), nil, ErrConfig},
		"qi twice":            {[]string{"age", "age"}, kHierarchies(), nil, ErrConfig},
		"suppression 1":       {kQIs, kHierarchies(), []EnforceOption{WithMaxSuppression(1)}, ErrConfig},
		"suppression NaN":     {kQIs, kHierarchies(), []EnforceOption{WithMaxSuppression(-0.1)}, ErrConfig},
		"qi missing in a row": {[]string{"age", "weight"}, map[string]Hierarchy{"age": AgeBandHierarchy(), "weight": CategoryHierarchy()}, nil, ErrInvalidValue},
		"bad age band":        {[]string{"sex", "zip"}, map[string]Hierarchy{"sex": AgeBandHierarchy(), "zip": ZIP3Hierarchy()}, nil, ErrInvalidValue},
		"no subject":          {kQIs, kHierarchies(), []EnforceOption{WithSubject("patient")}, ErrInvalidValue},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, _, err := Enforce(rows, tt.qis, 5, tt.h, tt.opts...)
			if !errors.Is(err, tt.want) || out != nil {
				t.Errorf("err = %v, out = %d rows; want %v and nothing", err, len(out), tt.want)
			}
		})
	}
}
