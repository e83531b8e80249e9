package research

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"healthexchange/chaincode/ledgerapi"
	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/domain/anonymize"
	"healthexchange/services/store/readingstore"
	"healthexchange/wearables/mhealth"
)

// groupsOf groups rows by their quasi-identifier values and counts the
// distinct pseudonyms of each group, independently of the anonymize package.
func groupsOf(rows []map[string]string, qis []string) map[string]int {
	members := map[string]map[string]bool{}
	for _, r := range rows {
		var key []string
		for _, q := range qis {
			key = append(key, q+"="+r[q])
		}
		k := strings.Join(key, ",")
		if members[k] == nil {
			members[k] = map[string]bool{}
		}
		members[k][r[ColPseudonym]] = true
	}
	out := map[string]int{}
	for k, m := range members {
		out[k] = len(m)
	}
	return out
}

func checkGroups(t *testing.T, rows []map[string]string, k int) {
	t.Helper()
	for g, n := range groupsOf(rows, quasiIdentifiers) {
		if n < k {
			t.Errorf("group %s has %d patients, want at least k = %d", g, n, k)
		}
	}
}

func values(rows []map[string]string, col string) []string {
	set := map[string]bool{}
	for _, r := range rows {
		set[r[col]] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func TestDatasetHoldsOnlyConsentingPatients(t *testing.T) {
	w := newWorld(t)
	w.cohort(5)
	w.addPatient(person{"no-consent-1", "1980-02-02", "female", "10001"}, false)
	w.addPatient(person{"no-consent-2", "1980-02-03", "female", "10001"}, false)
	w.addPatient(person{"treatment-only", "1980-02-04", "female", "10001"}, false)
	w.ledger.add(consentFor("treatment-only", researchOrg, "treatment"))
	w.addPatient(person{"other-study", "1980-02-05", "female", "10001"}, false)
	w.ledger.grant("other-study", grantee("study", "study-2"), "demographics", "labs")
	w.addPatient(person{"labs-only", "1980-02-06", "female", "10001"}, false)
	w.ledger.grant("labs-only", researchOrg, "labs") // no demographics, needed for the quasi-identifiers

	d := w.released(labsSpec())
	rows := w.csvRows(d.GetDatasetId())
	if n := len(pseudonyms(rows)); n != 5 {
		t.Errorf("the CSV has %d pseudonyms, want the 5 consenting patients", n)
	}
	if len(rows) != 5 {
		t.Errorf("the CSV has %d rows, want one lab result each", len(rows))
	}
	m := d.GetManifest()
	if m.GetCohortSize() != 5 || m.GetPatientsReleased() != 5 || m.GetRowsOut() != 5 || m.GetConsentCount() != 5 {
		t.Errorf("manifest cohort %d, released %d, rows %d, consents %d; want 5 of each",
			m.GetCohortSize(), m.GetPatientsReleased(), m.GetRowsOut(), m.GetConsentCount())
	}
	if ex := m.GetExcluded(); len(ex) != 1 || ex[exclPartialConsent] != 1 {
		t.Errorf("manifest excluded %v, want one patient whose consent does not cover demographics", ex)
	}
	for _, r := range rows {
		want := map[string]string{ColAgeBand: "45-49", ColSex: "female", ColZIP3: "100", ColSource: "record", ColCategory: "labs",
			ColCode: "http://loinc.org|2345-7", ColValue: "5.4", ColUnit: "mmol/L", ColDate: "2025"}
		for c, v := range want {
			if r[c] != v {
				t.Errorf("row %v: %s = %q, want %q", r, c, r[c], v)
			}
		}
		if len(r[ColPseudonym]) != anonymize.DefaultPseudonymLength {
			t.Errorf("pseudonym %q is not a pseudonym", r[ColPseudonym])
		}
	}
	// The NDJSON holds the same rows.
	nd, err := ReadNDJSON(strings.NewReader(string(w.object(d.GetDatasetId(), FileNDJSON))))
	if err != nil {
		t.Fatal(err)
	}
	if len(nd) != len(rows) {
		t.Fatalf("the NDJSON has %d rows, the CSV %d", len(nd), len(rows))
	}
	for i := range nd {
		if !maps.Equal(map[string]string(nd[i]), rows[i]) {
			t.Errorf("row %d: NDJSON %v, CSV %v", i, nd[i], rows[i])
		}
	}
}

func TestAgesOver89AreTopCoded(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	for i, birth := range []string{"1920-02-02", "1930-01-01", "1933-05-05"} {
		w.addPatient(person{fmt.Sprintf("old-%d", i), birth, "female", "10001"}, true)
	}
	d := w.released(labsSpec())
	rows := w.csvRows(d.GetDatasetId())
	if got := values(rows, ColAgeBand); !slices.Equal(got, []string{"45-49", "90+"}) {
		t.Errorf("age bands %v, want [45-49 90+]", got)
	}
	checkGroups(t, rows, 3)
}

func TestRareZIPIsGeneralizedOrSuppressed(t *testing.T) {
	tests := map[string]struct {
		suppression float64
		patients    int
		zip3        []string
	}{
		// One patient of seven is more than 5%: everyone's ZIP3 goes.
		"generalized":                      {0, 7, []string{"*"}},
		"suppressed when the limit allows": {0.2, 6, []string{"100"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.cohort(6)
			w.addPatient(person{"rare-zip", "1980-03-13", "female", "94110"}, true)
			spec := labsSpec()
			spec.MaxSuppression = tc.suppression
			d := w.released(spec)
			rows := w.csvRows(d.GetDatasetId())
			checkGroups(t, rows, spec.K)
			if got := values(rows, ColZIP3); !slices.Equal(got, tc.zip3) {
				t.Errorf("ZIP3 values %v, want %v", got, tc.zip3)
			}
			if n := len(pseudonyms(rows)); n != tc.patients {
				t.Errorf("%d patients released, want %d", n, tc.patients)
			}
			m := d.GetManifest()
			if int(m.GetPatientsReleased()) != tc.patients || int(m.GetPatientsSuppressed()) != 7-tc.patients || m.GetKAchieved() < 3 {
				t.Errorf("manifest released %d, suppressed %d, k achieved %d", m.GetPatientsReleased(), m.GetPatientsSuppressed(), m.GetKAchieved())
			}
		})
	}
}

func TestCohortSmallerThanKFails(t *testing.T) {
	tests := map[string]func(*world) Spec{
		"two consenting patients, k 3": func(w *world) Spec {
			w.cohort(2)
			return labsSpec()
		},
		"three consenting, one with data in the window": func(w *world) Spec {
			w.cohort(3)
			s := labsSpec()
			s.From = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC) // after the lab results
			w.addRecord("patient-0001", "patient-0001-lab2", "labs", observation("http://loinc.org", "2345-7", 7, "mmol/L", "2025-03-01"))
			return s
		},
		"no quasi-identifiers": func(w *world) Spec {
			w.cohort(2)
			s := labsSpec()
			s.Fields = []string{ColCode, ColValue}
			return s
		},
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			d := w.build(setup(w))
			if d.GetState() != researchv1.DatasetState_DATASET_STATE_FAILED || !strings.Contains(d.GetError(), anonymize.ErrCohortTooSmall.Error()) {
				t.Errorf("dataset is %v (%q), want failed: cohort smaller than k", d.GetState(), d.GetError())
			}
			if got := w.files(d.GetDatasetId()); !slices.Equal(got, []string{"status.json"}) {
				t.Errorf("the dataset left %v, want its status only", got)
			}
			if _, ok := w.ledger.release(d.GetDatasetId()); ok {
				t.Error("a release was recorded")
			}
		})
	}
}

func TestTamperedRecordIsExcluded(t *testing.T) {
	w := newWorld(t)
	w.cohort(4)
	w.addRecord("patient-0001", "patient-0001-lab2", "labs", observation("http://loinc.org", "4548-4", 9.75, "%", "2025-02-02"))
	w.addRecord("patient-0002", "patient-0002-lab2", "labs", map[string]any{"resourceType": "Observation", "status": "final"}) // unusable
	keys := w.recordsOS.Keys("patient-0001/patient-0001-lab2/")
	if len(keys) != 1 {
		t.Fatalf("stored objects %v", keys)
	}
	b, _ := w.recordsOS.Object(keys[0])
	b[len(b)/2] ^= 1
	w.recordsOS.Set(keys[0], b)

	d := w.released(labsSpec())
	rows := w.csvRows(d.GetDatasetId())
	if len(rows) != 4 || len(pseudonyms(rows)) != 4 {
		t.Errorf("%d rows of %d patients, want the 4 untouched lab results", len(rows), len(pseudonyms(rows)))
	}
	if got := values(rows, ColCode); !slices.Equal(got, []string{"http://loinc.org|2345-7"}) {
		t.Errorf("codes %v: the tampered record's code is in the file", got)
	}
	ex := d.GetManifest().GetExcluded()
	if ex[exclRecordTampered] != 1 || ex[exclRecordUnusable] != 1 {
		t.Errorf("manifest excluded %v, want one tampered and one unusable record", ex)
	}
	if m := d.GetManifest(); m.GetRowsIn() != 4 || m.GetRowsOut() != 4 {
		t.Errorf("rows in %d, out %d; want 4 and 4", m.GetRowsIn(), m.GetRowsOut())
	}
}

func TestTamperedReadingsExcludeThePatient(t *testing.T) {
	w := newWorld(t)
	ps := w.cohort(4)
	at := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	for _, p := range ps {
		w.addReadings(p.id, mhealth.NewHeartRate(70, at))
	}
	key := w.addReadings(ps[0].id, mhealth.NewHeartRate(71, at.Add(time.Minute)))
	b, _ := w.readingOS.Object(key)
	b[len(b)-1] ^= 1
	w.readingOS.Set(key, b)

	spec := labsSpec()
	spec.Categories = []string{"labs", "vitals"}
	d := w.released(spec)
	if n := len(pseudonyms(w.csvRows(d.GetDatasetId()))); n != 3 {
		t.Errorf("%d patients released, want 3 (not the one with a tampered batch)", n)
	}
	if ex := d.GetManifest().GetExcluded(); ex[exclReadingTampered] != 1 {
		t.Errorf("manifest excluded %v, want one patient for tampered readings", ex)
	}
}

// readingsWorld is three patients whose wearables sent heart rates on two
// days and a blood pressure, inside the window, and one heart rate before it.
func readingsWorld(t *testing.T) (*world, time.Time) {
	w := newWorld(t)
	day1 := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	for i, p := range w.cohort(3) {
		base := float64(60 + 10*i)
		w.addReadings(p.id,
			mhealth.NewHeartRate(base, day1.Add(8*time.Hour+15*time.Minute)),
			mhealth.NewHeartRate(base+10, day1.Add(8*time.Hour+16*time.Minute)),
			mhealth.NewBloodPressure(120, 80, day1.Add(8*time.Hour+17*time.Minute)),
		)
		w.addReadings(p.id, mhealth.NewHeartRate(base+20, day1.Add(9*time.Hour+30*time.Minute+5*time.Second)))
		w.addReadings(p.id, mhealth.NewHeartRate(base+30, day1.Add(24*time.Hour+23*time.Hour)))
		w.addReadings(p.id, mhealth.NewHeartRate(199, time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC))) // before the window
	}
	return w, day1
}

func readingsSpec(mode ReadingsMode, dates DateRule) Spec {
	s := labsSpec()
	s.Categories, s.Readings, s.Dates = []string{"vitals"}, mode, dates
	return s
}

func TestReadingsDailySummary(t *testing.T) {
	w, day1 := readingsWorld(t)
	d := w.released(readingsSpec(DailySummary, ShiftedDays))
	rows := w.csvRows(d.GetDatasetId())
	if len(rows) != 3*4 {
		t.Fatalf("%d rows, want 4 per patient (heart rate on 2 days, systolic and diastolic): %v", len(rows), rows)
	}
	byPatient := map[string][]map[string]string{}
	for _, r := range rows {
		if r[ColSource] != "reading-summary" || r[ColCategory] != "vitals" {
			t.Errorf("row %v is not a reading summary", r)
		}
		byPatient[r[ColPseudonym]] = append(byPatient[r[ColPseudonym]], r)
	}
	for p, rs := range byPatient {
		var hr []map[string]string
		for _, r := range rs {
			switch r[ColCode] {
			case "heart-rate":
				hr = append(hr, r)
				if r[ColUnit] != mhealth.UnitBeatsPerMinute {
					t.Errorf("row %v: unit %q", r, r[ColUnit])
				}
			case "blood-pressure-systolic", "blood-pressure-diastolic":
				if r[ColUnit] != mhealth.UnitMmHg || r[ColCount] != "1" {
					t.Errorf("row %v: want one mmHg value", r)
				}
			default:
				t.Errorf("row %v: unexpected code", r)
			}
		}
		if len(hr) != 2 {
			t.Fatalf("patient %s: %d heart-rate days, want 2", p, len(hr))
		}
		slices.SortFunc(hr, func(a, b map[string]string) int { return strings.Compare(a[ColDate], b[ColDate]) })
		first, _ := time.Parse(time.DateOnly, hr[0][ColDate])
		second, _ := time.Parse(time.DateOnly, hr[1][ColDate])
		if second.Sub(first) != 24*time.Hour {
			t.Errorf("patient %s: shifted days %s and %s, want one day apart", p, hr[0][ColDate], hr[1][ColDate])
		}
		// The patient's first day is moved (a shift is never 0 days). A
		// single row may still land on a real date of the study (day two
		// moved back one day is day one): only the patient's own dates
		// tell a shift.
		if first.Equal(day1) {
			t.Errorf("patient %s: the first heart-rate day %s is the real one", p, hr[0][ColDate])
		}
		if hr[0][ColCount] != "3" || hr[1][ColCount] != "1" {
			t.Errorf("patient %s: counts %s and %s, want 3 and 1", p, hr[0][ColCount], hr[1][ColCount])
		}
		lo, _ := strconv.ParseFloat(hr[0][ColMin], 64)
		hi, _ := strconv.ParseFloat(hr[0][ColMax], 64)
		mean, _ := strconv.ParseFloat(hr[0][ColMean], 64)
		if hi-lo != 20 || mean != lo+10 {
			t.Errorf("patient %s: day one min %v max %v mean %v", p, lo, hi, mean)
		}
	}
}

func TestReadingsWindowSummary(t *testing.T) {
	w, _ := readingsWorld(t)
	spec := readingsSpec(WindowSummary, YearOnly)
	spec.ReadingKinds = []mhealth.Kind{mhealth.HeartRate}
	d := w.released(spec)
	rows := w.csvRows(d.GetDatasetId())
	if len(rows) != 3 {
		t.Fatalf("%d rows, want one heart-rate summary per patient: %v", len(rows), rows)
	}
	for _, r := range rows {
		if r[ColCode] != "heart-rate" || r[ColCount] != "4" || r[ColDate] != "" || r[ColTimeOfDay] != "" {
			t.Errorf("row %v, want heart-rate over the window, 4 readings, no date", r)
		}
		if r[ColMax] == "199" {
			t.Errorf("row %v includes a reading from before the window", r)
		}
	}
}

func TestReadingsRaw(t *testing.T) {
	w, day1 := readingsWorld(t)
	d := w.released(readingsSpec(RawReadings, ShiftedDays))
	rows := w.csvRows(d.GetDatasetId())
	if len(rows) != 3*6 {
		t.Fatalf("%d rows, want 6 per patient (4 heart rates, systolic, diastolic): %v", len(rows), rows)
	}
	offsets := map[string]map[time.Duration]bool{}
	for _, r := range rows {
		if r[ColSource] != "reading" || r[ColValue] == "" || r[ColValue] == "199" {
			t.Errorf("row %v", r)
		}
		if !slices.Contains([]string{"08:15:00", "08:16:00", "08:17:00", "09:30:05", "23:00:00"}, r[ColTimeOfDay]) {
			t.Errorf("row %v: time of day %q is not a reading's", r, r[ColTimeOfDay])
		}
		shifted, err := time.Parse(time.DateOnly, r[ColDate])
		if err != nil {
			t.Fatalf("row %v: date: %v", r, err)
		}
		real := day1
		if r[ColTimeOfDay] == "23:00:00" {
			real = day1.AddDate(0, 0, 1)
		}
		off := shifted.Sub(real)
		if off == 0 || off > 365*24*time.Hour || off < -365*24*time.Hour {
			t.Errorf("row %v: shifted by %v", r, off)
		}
		if offsets[r[ColPseudonym]] == nil {
			offsets[r[ColPseudonym]] = map[time.Duration]bool{}
		}
		offsets[r[ColPseudonym]][off] = true
	}
	for p, offs := range offsets {
		if len(offs) != 1 {
			t.Errorf("patient %s: dates shifted by %v, want one offset per patient", p, slices.Collect(maps.Keys(offs)))
		}
	}
}

// TestCheckFilesRefuses: the independent check refuses files that are not
// anonymous or whose two forms differ, whatever built them.
func TestCheckFilesRefuses(t *testing.T) {
	spec := labsSpec()
	spec.Fields = []string{ColSex, ColCode}
	if err := spec.validate(); err != nil {
		t.Fatal(err)
	}
	cols := outputColumns(spec)
	patient := func(pseudonym, sex string) testPatient {
		return testPatient{qi: anonymize.Row{ColPseudonym: pseudonym, ColSex: sex},
			rows: []anonymize.Row{{ColPseudonym: pseudonym, ColSource: "record", ColCategory: "labs", ColCode: "718-7"}}}
	}
	patients := []testPatient{
		patient("0123456789abcdef", "female"), patient("1123456789abcdef", "female"), patient("2123456789abcdef", "female"),
		patient("3123456789abcdef", "male"),
	}
	e := writeTestFiles(t, cols, spec.qis(), patients)
	if err := e.check(cols, spec.qis(), 3); !errors.Is(err, anonymize.ErrNotAnonymous) {
		t.Errorf("a group of one: checkFiles = %v, want ErrNotAnonymous", err)
	}

	e = writeTestFiles(t, cols, spec.qis(), patients[:3])
	if err := e.check(cols, spec.qis(), 3); err != nil {
		t.Fatalf("three patients of one group: checkFiles = %v", err)
	}
	changed := e
	changed.ndjson = []byte(strings.Replace(string(e.ndjson), "718-7", "718-8", 1))
	if err := changed.check(cols, spec.qis(), 3); err == nil {
		t.Error("NDJSON differing from the CSV: checkFiles accepted it")
	}
	short := e
	short.rows++
	if err := short.check(cols, spec.qis(), 3); err == nil {
		t.Error("fewer rows than written: checkFiles accepted it")
	}
	e = writeTestFiles(t, cols, spec.qis(), []testPatient{
		patient("patient-0001", "female"), patient("patient-0002", "female"), patient("patient-0003", "female"),
	})
	if err := e.check(cols, spec.qis(), 3); !errors.Is(err, anonymize.ErrNotAnonymous) {
		t.Errorf("raw patient ids: checkFiles = %v, want ErrNotAnonymous", err)
	}
}

func TestReadCSV(t *testing.T) {
	rows, err := ReadCSV(strings.NewReader("pseudonym,code,value\nab,\"x,y\",\ncd,z,1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []anonymize.Row{{"pseudonym": "ab", "code": "x,y"}, {"pseudonym": "cd", "code": "z", "value": "1"}}
	if len(rows) != len(want) || !maps.Equal(rows[0], want[0]) || !maps.Equal(rows[1], want[1]) {
		t.Errorf("ReadCSV = %v, want %v", rows, want)
	}
	for name, in := range map[string]string{"empty": "", "ragged": "a,b\n1,2,3\n", "bad quote": "a\n\"x\n"} {
		if _, err := ReadCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: ReadCSV accepted %q", name, in)
		}
	}
}

// stallingSources fail the first member's records and hold every other
// member's a while after the build was cancelled, counting the readers
// inside.
type stallingSources struct {
	others  int           // members besides the first
	entered chan struct{} // one per other member inside Latest
	inside  atomic.Int32
}

func (s *stallingSources) Latest(ctx context.Context, patientID string) ([]ledgerapi.Notarization, error) {
	if patientID == "patient-0001" {
		for range s.others {
			select {
			case <-s.entered:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, errLedgerUnavailable
	}
	s.inside.Add(1)
	defer s.inside.Add(-1)
	s.entered <- struct{}{}
	<-ctx.Done()
	<-time.After(100 * time.Millisecond) // a slow store that ignores the cancellation
	return nil, nil
}

func (s *stallingSources) Read(context.Context, ledgerapi.Notarization) ([]byte, error) {
	return nil, errors.New("no records")
}

func (s *stallingSources) Readings(context.Context, string, time.Time, time.Time, func(readingstore.StoredReading) error) error {
	return nil
}

// TestBuildFailureStopsItsReaders: when one member's data cannot be read,
// build returns only after the other readers stopped, so none uses the
// dataset's key after it was forgotten (which panics, and would end the
// service).
func TestBuildFailureStopsItsReaders(t *testing.T) {
	ctx := testContext(t)
	src := &stallingSources{others: min(readers, 4) - 1, entered: make(chan struct{}, 3)}
	spec := labsSpec()
	spec.Fields = []string{ColCode}
	if err := spec.validate(); err != nil {
		t.Fatal(err)
	}
	var members []Member
	for i := range 4 {
		members = append(members, Member{PatientID: fmt.Sprintf("patient-%04d", i+1), ConsentIDs: []string{fmt.Sprintf("c-%d", i)}})
	}
	_, err := build(ctx, src, spec, Cohort{Time: testNow, Members: members}, t.TempDir(), func(string, int, int, int64) {}, slog.New(slog.DiscardHandler))
	if n := src.inside.Load(); n != 0 {
		t.Fatalf("build returned with %d readers still reading", n)
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("build = %v, want ErrUnavailable", err)
	}
}
