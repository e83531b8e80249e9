package research

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/domain/anonymize"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
	"healthexchange/wearables/mhealth"
)

// Sources are where a patient's data is read from, after the cohort was
// decided: the ledger's notarizations, the records bucket and the wearables
// bucket, both opened with the patients' data keys.
type Sources interface {
	// Latest returns the latest version of each of the patient's records.
	Latest(ctx context.Context, patientID string) ([]ledgerapi.Notarization, error)
	// Read returns a version's canonical resource, checked against its
	// notarized hash (recordstore.ErrTampered, recordstore.ErrErased otherwise).
	Read(ctx context.Context, n ledgerapi.Notarization) ([]byte, error)
	// Readings calls fn with the patient's accepted readings in [from, to).
	Readings(ctx context.Context, patientID string, from, to time.Time, fn func(readingstore.StoredReading) error) error
}

// Exclusion reasons, counted in the manifest. Patients are counted once,
// by the first reason; records by each record left out, or each released
// record whose value was left out.
const (
	exclNoDemographics       = "patients: no usable demographics record"
	exclDemographicsTampered = "patients: demographics record failed verification against the ledger"
	exclErased               = "patients: erased"
	exclNoData               = "patients: no data in the window"
	exclPartialConsent       = "patients: research consent does not cover every category"
	exclRecordTampered       = "records: failed verification against the ledger"
	exclRecordUnusable       = "records: no usable code or clinical date"
	exclRecordValueUnusable  = "records: value and unit left out, the unit is not a UCUM unit"
	exclReadingTampered      = "patients: a batch of readings failed verification"
)

// Progress reports how far a build has got.
type Progress func(stage string, done, total int, rows int64)

// built is a dataset before it is written: each released patient's
// generalized quasi-identifiers and rows, and what Enforce reported.
type built struct {
	columns  []anonymize.Column
	qis      []string
	patients []patientRows // sorted by pseudonym
	report   anonymize.Report
	excluded map[string]int
	rowsIn   int64
}

type patientRows struct {
	qi   anonymize.Row // pseudonym and generalized quasi-identifiers
	rows []anonymize.Row
}

// build reads every member's data and de-identifies it. The pseudonymizer's
// key lives only for the call.
func build(ctx context.Context, src Sources, spec Spec, cohort Cohort, progress Progress, log *slog.Logger) (*built, error) {
	pz, err := anonymize.NewPseudonymizer()
	if err != nil {
		return nil, err
	}
	defer pz.Forget()
	qis := spec.qis()
	b := &built{columns: outputColumns(spec), qis: qis, excluded: map[string]int{}}
	if cohort.Partial > 0 {
		b.excluded[exclPartialConsent] = cohort.Partial
	}
	asOf := cohort.Time
	var (
		subjects []anonymize.Row // one per patient with data: patient id and raw quasi-identifiers
		payload  = map[string][]anonymize.Row{}
	)
	results, stop := readAll(ctx, src, spec, pz, cohort.Members)
	defer stop() // before pz.Forget: no reader may use the key after it
	for i, m := range cohort.Members {
		r := <-results[i]
		if r.err != nil {
			return nil, r.err
		}
		for k, n := range r.excluded {
			b.excluded[k] += n
		}
		switch {
		case r.reason != "":
			b.excluded[r.reason]++
		case len(r.rows) == 0:
			b.excluded[exclNoData]++
		default:
			subjects = append(subjects, r.subject)
			payload[pz.Pseudonym(m.PatientID)] = r.rows
			b.rowsIn += int64(len(r.rows))
		}
		progress("reading", i+1, len(cohort.Members), b.rowsIn)
	}
	progress("anonymizing", len(cohort.Members), len(cohort.Members), b.rowsIn)
	prepared, err := pz.Prepare(subjectSchema(qis), subjects, asOf)
	if err != nil {
		return nil, err
	}
	released, report, err := enforce(prepared, qis, spec)
	if err != nil {
		return nil, err
	}
	b.report = report
	slices.SortFunc(released, func(x, y anonymize.Row) int { return strings.Compare(x[ColPseudonym], y[ColPseudonym]) })
	for _, q := range released {
		b.patients = append(b.patients, patientRows{qi: q, rows: payload[q[ColPseudonym]]})
	}
	log.InfoContext(ctx, "dataset built", "cohort", len(cohort.Members), "patients_with_data", len(subjects),
		"patients_released", len(released), "rows_in", b.rowsIn)
	return b, nil
}

// readers is how many patients are read at once: reading is mostly waiting
// for the object store.
const readers = 8

// patientResult is one member's data, or why they are left out.
type patientResult struct {
	subject  anonymize.Row
	rows     []anonymize.Row
	reason   string
	excluded map[string]int
	err      error
}

// readAll reads the members' data with a few readers at once; result i is
// member i's, on its own channel, so they are used in cohort order. The
// readers stop when ctx ends or a read fails; stop cancels them and returns
// once every reader has returned.
func readAll(ctx context.Context, src Sources, spec Spec, pz *anonymize.Pseudonymizer, members []Member) (results []chan patientResult, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	results = make([]chan patientResult, len(members))
	for i := range results {
		results[i] = make(chan patientResult, 1)
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range members {
			select {
			case next <- i:
			case <-ctx.Done():
				for ; i < len(members); i++ {
					results[i] <- patientResult{err: ctx.Err()}
				}
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range min(readers, len(members)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := patientResult{excluded: map[string]int{}}
				r.subject, r.rows, r.reason, r.err = patientData(ctx, src, spec, pz, members[i].PatientID, r.excluded)
				if r.err != nil {
					cancel()
				}
				results[i] <- r
			}
		}()
	}
	go func() { wg.Wait(); cancel() }()
	return results, func() { cancel(); wg.Wait() }
}

// enforce runs k-anonymity over one row per patient (quasi-identifiers are
// patient attributes, so a group's size is its number of patients whatever
// their number of rows). Without quasi-identifiers the whole file is one
// group and needs k patients.
func enforce(subjects []anonymize.Row, qis []string, spec Spec) ([]anonymize.Row, anonymize.Report, error) {
	if len(qis) == 0 {
		r := anonymize.Report{K: spec.K, RowsIn: len(subjects), Levels: map[string]int{}}
		if len(subjects) < spec.K {
			r.Suppressed = len(subjects)
			return nil, r, fmt.Errorf("%w: %d patients with data, k = %d", anonymize.ErrCohortTooSmall, len(subjects), spec.K)
		}
		r.KAchieved, r.Groups, r.RowsOut = len(subjects), 1, len(subjects)
		return subjects, r, nil
	}
	schema := subjectSchema(qis)
	return anonymize.Enforce(subjects, qis, spec.K, anonymize.Hierarchies(schema),
		anonymize.WithMaxSuppression(spec.MaxSuppression), anonymize.WithSubject(ColPseudonym))
}

// subjectSchema declares a patient's row for steps 2 and 3: the patient id
// (made a pseudonym) and the raw quasi-identifiers (birth date to an age
// band, ZIP to ZIP3, sex kept).
func subjectSchema(qis []string) anonymize.Schema {
	s := anonymize.Schema{Columns: []anonymize.Column{{Name: ColPseudonym, Kind: anonymize.PatientID}}}
	for _, q := range qis {
		s.Columns = append(s.Columns, qiColumn(q))
	}
	return s
}

func qiColumn(name string) anonymize.Column {
	switch name {
	case ColAgeBand:
		return anonymize.Column{Name: ColAgeBand, Kind: anonymize.QuasiIdentifier, Rule: anonymize.RuleAgeBand}
	case ColZIP3:
		return anonymize.Column{Name: ColZIP3, Kind: anonymize.QuasiIdentifier, Rule: anonymize.RuleZIP3}
	}
	return anonymize.Column{Name: name, Kind: anonymize.QuasiIdentifier, Rule: anonymize.RuleKeep}
}

// outputColumns are the file's columns, in order, as the anonymize package
// declares them (the independent check reads the file with this schema).
func outputColumns(spec Spec) []anonymize.Column {
	cols := []anonymize.Column{{Name: ColPseudonym, Kind: anonymize.PatientID}}
	for _, q := range spec.qis() {
		cols = append(cols, qiColumn(q))
	}
	cols = append(cols, anonymize.Column{Name: ColSource, Kind: anonymize.Sensitive},
		anonymize.Column{Name: ColCategory, Kind: anonymize.Sensitive})
	for _, f := range choosable {
		if !slices.Contains(spec.Fields, f) || slices.Contains(quasiIdentifiers, f) {
			continue
		}
		c := anonymize.Column{Name: f, Kind: anonymize.Sensitive}
		if f == ColDate {
			c.Kind, c.Rule = anonymize.Date, anonymize.RuleYear
			if spec.Dates == ShiftedDays {
				c.Rule = anonymize.RuleShift
			}
		}
		cols = append(cols, c)
	}
	return cols
}

// patientData reads one member's quasi-identifiers and rows. A reason is
// returned instead when the patient is left out; an error only when the
// sources cannot be read (the job fails rather than release a dataset that
// silently misses patients).
func patientData(ctx context.Context, src Sources, spec Spec, pz *anonymize.Pseudonymizer, patientID string, excluded map[string]int) (anonymize.Row, []anonymize.Row, string, error) {
	versions, err := src.Latest(ctx, patientID)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: records of a cohort member: %w", ErrUnavailable, err)
	}
	subject := anonymize.Row{ColPseudonym: patientID}
	if qis := spec.qis(); len(qis) > 0 {
		d, reason, err := demographics(ctx, src, versions)
		if err != nil || reason != "" {
			return nil, nil, reason, err
		}
		for _, q := range qis {
			subject[q] = map[string]string{ColAgeBand: d.BirthDate, ColSex: d.Sex, ColZIP3: d.ZIP}[q]
		}
	}
	pseudonym := pz.Pseudonym(patientID)
	var rows []anonymize.Row
	wanted := spec.recordCategories()
	for _, v := range versions {
		if !slices.Contains(wanted, v.Category) {
			continue
		}
		raw, err := src.Read(ctx, v)
		switch {
		case errors.Is(err, recordstore.ErrErased):
			return nil, nil, exclErased, nil
		case errors.Is(err, recordstore.ErrTampered):
			excluded[exclRecordTampered]++
			continue
		case err != nil:
			return nil, nil, "", fmt.Errorf("%w: a record of a cohort member: %w", ErrUnavailable, err)
		}
		f, err := factOf(v.Category, raw)
		if err != nil {
			excluded[exclRecordUnusable]++
			continue
		}
		if f.Date.Before(spec.From) || !f.Date.Before(spec.To) {
			continue
		}
		if f.ValueRefused && (slices.Contains(spec.Fields, ColValue) || slices.Contains(spec.Fields, ColUnit)) {
			excluded[exclRecordValueUnusable]++
		}
		rows = append(rows, factRow(spec, pz, patientID, pseudonym, f))
	}
	if slices.Contains(spec.Categories, "vitals") {
		rs, reason, err := readingRows(ctx, src, spec, pz, patientID, pseudonym)
		if err != nil || reason != "" {
			return nil, nil, reason, err
		}
		rows = append(rows, rs...)
	}
	return subject, rows, "", nil
}

// demographics reads the patient's most recent Patient resource.
func demographics(ctx context.Context, src Sources, versions []ledgerapi.Notarization) (Demographics, string, error) {
	var (
		latest *ledgerapi.Notarization
		when   time.Time
	)
	for i, v := range versions {
		if v.Category != "demographics" {
			continue
		}
		t, _ := time.Parse(time.RFC3339Nano, v.Timestamp) // the ledger's own timestamps; zero if not
		if latest == nil || t.After(when) {
			latest, when = &versions[i], t
		}
	}
	if latest == nil {
		return Demographics{}, exclNoDemographics, nil
	}
	raw, err := src.Read(ctx, *latest)
	switch {
	case errors.Is(err, recordstore.ErrErased):
		return Demographics{}, exclErased, nil
	case errors.Is(err, recordstore.ErrTampered):
		return Demographics{}, exclDemographicsTampered, nil
	case err != nil:
		return Demographics{}, "", fmt.Errorf("%w: a demographics record: %w", ErrUnavailable, err)
	}
	d, err := demographicsOf(raw)
	if err != nil {
		return Demographics{}, exclNoDemographics, nil
	}
	return d, "", nil
}

// factRow is the row of one clinical record.
func factRow(spec Spec, pz *anonymize.Pseudonymizer, patientID, pseudonym string, f Fact) anonymize.Row {
	r := anonymize.Row{ColPseudonym: pseudonym, ColSource: "record", ColCategory: f.Category}
	set(r, spec, ColCode, f.Code)
	set(r, spec, ColValue, f.Value)
	set(r, spec, ColUnit, f.Unit)
	set(r, spec, ColDate, releaseDate(spec, pz, patientID, f.Date))
	return r
}

func releaseDate(spec Spec, pz *anonymize.Pseudonymizer, patientID string, t time.Time) string {
	if spec.Dates == ShiftedDays {
		return pz.ShiftDate(patientID, t).Format(time.DateOnly)
	}
	return anonymize.Year(t)
}

// set puts a chosen, non-empty value in r.
func set(r anonymize.Row, spec Spec, col, v string) {
	if v != "" && slices.Contains(spec.Fields, col) {
		r[col] = v
	}
}

// readingRows are the patient's readings in the window, released raw (time
// shifted) or summarized per shifted day or over the window.
func readingRows(ctx context.Context, src Sources, spec Spec, pz *anonymize.Pseudonymizer, patientID, pseudonym string) ([]anonymize.Row, string, error) {
	var (
		rows []anonymize.Row
		raw  []anonymize.Reading
		// The patient's date offset, drawn once: every reading of theirs
		// moves by the same whole days (anonymize.ShiftDate, in UTC).
		epoch = time.Unix(0, 0).UTC()
		shift = pz.ShiftDate(patientID, epoch).Sub(epoch)
	)
	err := src.Readings(ctx, patientID, spec.From, spec.To, func(sr readingstore.StoredReading) error {
		if !spec.kindWanted(sr.Kind) {
			return nil
		}
		t := sr.TimeFrame.Begin()
		for _, v := range readingValues(sr.Reading) {
			if spec.Readings == RawReadings {
				r := anonymize.Row{ColPseudonym: pseudonym, ColSource: "reading", ColCategory: "vitals"}
				set(r, spec, ColCode, v.code)
				set(r, spec, ColValue, strconv.FormatFloat(v.value, 'g', -1, 64))
				set(r, spec, ColUnit, sr.Unit)
				shifted := t.UTC().Add(shift)
				set(r, spec, ColDate, shifted.Format(time.DateOnly))
				set(r, spec, ColTimeOfDay, shifted.Format(time.TimeOnly))
				rows = append(rows, r)
				continue
			}
			raw = append(raw, anonymize.Reading{PatientID: patientID, Kind: v.code, Time: t, Value: v.value})
		}
		return nil
	})
	switch {
	case errors.Is(err, readingstore.ErrNotFound):
		return nil, exclErased, nil
	case errors.Is(err, readingstore.ErrTampered):
		// A batch that fails its check is never used, and neither is the
		// rest of the patient's data: a release must not depend on which
		// of their readings an attacker chose to break.
		return nil, exclReadingTampered, nil
	case err != nil:
		return nil, "", fmt.Errorf("%w: readings of a cohort member: %w", ErrUnavailable, err)
	}
	if spec.Readings == RawReadings || len(raw) == 0 {
		return rows, "", nil
	}
	g := anonymize.WholeWindow
	if spec.Readings == DailySummary {
		g = anonymize.ByDay
	}
	sums, err := pz.SummarizeReadings(raw, g)
	if err != nil {
		return nil, "", err
	}
	for _, s := range sums {
		r := anonymize.Row{ColPseudonym: s.Pseudonym, ColSource: "reading-summary", ColCategory: "vitals"}
		set(r, spec, ColCode, s.Kind)
		set(r, spec, ColUnit, kindUnits[baseKind(s.Kind)])
		set(r, spec, ColDate, s.Day)
		set(r, spec, ColCount, strconv.Itoa(s.Count))
		set(r, spec, ColMin, strconv.FormatFloat(s.Min, 'g', 6, 64))
		set(r, spec, ColMax, strconv.FormatFloat(s.Max, 'g', 6, 64))
		set(r, spec, ColMean, strconv.FormatFloat(s.Mean, 'g', 6, 64))
		rows = append(rows, r)
	}
	return rows, "", nil
}

type readingValue struct {
	code  string
	value float64
}

// readingValues splits a blood pressure into its systolic and diastolic
// values; every other kind has one value.
func readingValues(r mhealth.Reading) []readingValue {
	if r.Kind == mhealth.BloodPressure {
		return []readingValue{{r.Kind.String() + "-systolic", r.Value}, {r.Kind.String() + "-diastolic", r.Diastolic}}
	}
	return []readingValue{{r.Kind.String(), r.Value}}
}

// kindUnits is the unit of each reading kind, by name.
var kindUnits = func() map[string]string {
	units := map[string]string{}
	for _, k := range mhealth.Kinds() {
		units[k.String()] = k.Unit()
	}
	return units
}()

// baseKind is the kind a summary's code names (blood-pressure for its
// systolic and diastolic parts).
func baseKind(code string) string {
	for _, suffix := range []string{"-systolic", "-diastolic"} {
		if base, ok := strings.CutSuffix(code, suffix); ok {
			return base
		}
	}
	return code
}
