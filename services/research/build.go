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
	// Read returns a version's resource as filed, checked against its
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

// built is a dataset ready to be written: each released patient's
// generalized quasi-identifiers and where their rows are spooled, and what
// Enforce reported. Close removes the spool.
type built struct {
	columns  []anonymize.Column
	qis      []string
	patients []releasedPatient // sorted by pseudonym
	report   anonymize.Report
	excluded map[string]int
	rowsIn   int64 // rows of every patient with data, released or not
	spool    *spool
}

// releasedPatient is one patient of the files: the pseudonym and
// generalized quasi-identifiers that lead each of their rows, and the rows.
type releasedPatient struct {
	qi   anonymize.Row
	rows run
}

// Close removes the spooled rows.
func (b *built) Close() error { return b.spool.Close() }

// build reads every member's data and de-identifies it, in two passes that
// never hold every row. The first (here) reads the members, a few at a
// time, spooling each one's rows to disk (in dir) as they are made and
// keeping only their quasi-identifiers; k-anonymity then runs over those,
// one tuple per patient, and decides the generalization and who is
// released. The second pass (writeFiles) writes the released patients'
// rows from the spool. The pseudonymizer's key lives only for the call.
func build(ctx context.Context, src Sources, spec Spec, cohort Cohort, dir string, progress Progress, log *slog.Logger) (*built, error) {
	pz, err := anonymize.NewPseudonymizer()
	if err != nil {
		return nil, err
	}
	defer pz.Forget()
	qis := spec.qis()
	columns := outputColumns(spec)
	sp, err := newSpool(dir, max(1, min(readers, len(cohort.Members))), len(tailColumns(columns, qis)))
	if err != nil {
		return nil, err
	}
	b := &built{columns: columns, qis: qis, excluded: map[string]int{}, spool: sp}
	ok := false
	defer func() {
		if !ok {
			sp.Close()
		}
	}()
	if cohort.Partial > 0 {
		b.excluded[exclPartialConsent] = cohort.Partial
	}
	type subject struct {
		member int
		row    anonymize.Row // patient id and raw quasi-identifiers
		rows   run
	}
	var subjects []subject
	results, stop := readAll(ctx, src, spec, pz, cohort.Members, sp)
	defer stop() // before pz.Forget: no reader may use the key after it
	for done := 1; done <= len(cohort.Members); done++ {
		var r patientResult
		select {
		case r = <-results:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if r.err != nil {
			return nil, r.err
		}
		for k, n := range r.excluded {
			b.excluded[k] += n
		}
		switch {
		case r.reason != "":
			b.excluded[r.reason]++
		case r.rows.rows == 0:
			b.excluded[exclNoData]++
		default:
			subjects = append(subjects, subject{member: r.member, row: r.subject, rows: r.rows})
			b.rowsIn += r.rows.rows
		}
		progress("reading", done, len(cohort.Members), b.rowsIn)
	}
	if err := sp.flush(); err != nil {
		return nil, err
	}
	progress("anonymizing", len(cohort.Members), len(cohort.Members), b.rowsIn)
	// Prepare and Enforce see the patients in cohort order, whatever the
	// order they were read in.
	slices.SortFunc(subjects, func(x, y subject) int { return x.member - y.member })
	rows := make([]anonymize.Row, len(subjects))
	runs := make(map[string]run, len(subjects))
	for i, s := range subjects {
		rows[i] = s.row
		runs[pz.Pseudonym(s.row[ColPseudonym])] = s.rows
	}
	prepared, err := pz.Prepare(subjectSchema(qis), rows, cohort.Time)
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
		b.patients = append(b.patients, releasedPatient{qi: q, rows: runs[q[ColPseudonym]]})
	}
	log.InfoContext(ctx, "dataset built", "cohort", len(cohort.Members), "patients_with_data", len(subjects),
		"patients_released", len(released), "rows_in", b.rowsIn)
	ok = true
	return b, nil
}

// readers is how many patients are read at once: reading is mostly waiting
// for the object store. Each holds one patient's records and, for summaries,
// running totals; their rows go to the spool as they are made.
const readers = 8

// patientResult is one member's quasi-identifiers and spooled rows, or why
// they are left out.
type patientResult struct {
	member   int
	subject  anonymize.Row
	rows     run
	reason   string
	excluded map[string]int
	err      error
}

// readAll reads the members' data with a few readers at once, each
// spooling to a file of its own, and sends each member's result as it is
// done (in no particular order). The readers stop when ctx ends or a read
// fails; a reader sends its failure before it stops the others, so the
// first error received is the cause. stop cancels them and returns once
// every reader has returned.
func readAll(ctx context.Context, src Sources, spec Spec, pz *anonymize.Pseudonymizer, members []Member, sp *spool) (results <-chan patientResult, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	out := make(chan patientResult, len(sp.writers))
	next := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(next)
		for i := range members {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	m := &memberReader{src: src, spec: spec, pz: pz, cells: newLayout(spec)}
	for w := range sp.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := patientResult{member: i, excluded: map[string]int{}}
				sink := sp.sink(w)
				r.subject, r.reason, r.err = m.patientData(ctx, members[i].PatientID, sink, r.excluded)
				if r.err == nil && r.reason == "" {
					r.rows = sink.run()
				} else if err := sink.discard(); err != nil && r.err == nil {
					r.err = err
				}
				select {
				case out <- r:
				case <-ctx.Done():
				}
				if r.err != nil {
					cancel()
				}
			}
		}()
	}
	return out, func() { cancel(); wg.Wait() }
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

// tailColumns are the columns of a row's own values: those after the
// pseudonym and the quasi-identifiers, which every row of a patient shares
// and outputColumns puts first. They are what is spooled of a row.
func tailColumns(columns []anonymize.Column, qis []string) []anonymize.Column {
	return columns[1+len(qis):]
}

// layout is where each of a row's own values goes among its spooled cells
// (tailColumns), -1 for a column the spec does not output.
type layout struct {
	source, category, code, value, unit, date, timeOfDay, count, min, max, mean int
}

func newLayout(spec Spec) layout {
	tail := tailColumns(outputColumns(spec), spec.qis())
	at := func(name string) int {
		return slices.IndexFunc(tail, func(c anonymize.Column) bool { return c.Name == name })
	}
	return layout{source: at(ColSource), category: at(ColCategory), code: at(ColCode), value: at(ColValue), unit: at(ColUnit),
		date: at(ColDate), timeOfDay: at(ColTimeOfDay), count: at(ColCount), min: at(ColMin), max: at(ColMax), mean: at(ColMean)}
}

// set puts a non-empty value in its cell, when its column is output.
func set(cells []string, i int, v string) {
	if i >= 0 && v != "" {
		cells[i] = v
	}
}

// memberReader reads the members of one build: their quasi-identifiers,
// and their rows, which it writes to the spool as it makes them.
type memberReader struct {
	src   Sources
	spec  Spec
	pz    *anonymize.Pseudonymizer
	cells layout
}

// patientData reads one member's quasi-identifiers and writes their rows to
// out. A reason is returned instead when the patient is left out (their
// rows in out are then discarded); an error only when the sources cannot be
// read (the job fails rather than release a dataset that silently misses
// patients) or the rows cannot be spooled.
func (m *memberReader) patientData(ctx context.Context, patientID string, out *rowSink, excluded map[string]int) (anonymize.Row, string, error) {
	spec, l := m.spec, m.cells
	versions, err := m.src.Latest(ctx, patientID)
	if err != nil {
		return nil, "", fmt.Errorf("%w: records of a cohort member: %w", ErrUnavailable, err)
	}
	subject := anonymize.Row{ColPseudonym: patientID}
	if qis := spec.qis(); len(qis) > 0 {
		d, reason, err := demographics(ctx, m.src, versions)
		if err != nil || reason != "" {
			return nil, reason, err
		}
		for _, q := range qis {
			subject[q] = map[string]string{ColAgeBand: d.BirthDate, ColSex: d.Sex, ColZIP3: d.ZIP}[q]
		}
	}
	wanted := spec.recordCategories()
	for _, v := range versions {
		if !slices.Contains(wanted, v.Category) {
			continue
		}
		raw, err := m.src.Read(ctx, v)
		switch {
		case errors.Is(err, recordstore.ErrErased):
			return nil, exclErased, nil
		case errors.Is(err, recordstore.ErrTampered):
			excluded[exclRecordTampered]++
			continue
		case err != nil:
			return nil, "", fmt.Errorf("%w: a record of a cohort member: %w", ErrUnavailable, err)
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
		cells := out.next()
		set(cells, l.source, "record")
		set(cells, l.category, f.Category)
		set(cells, l.code, f.Code)
		set(cells, l.value, f.Value)
		set(cells, l.unit, f.Unit)
		if l.date >= 0 {
			set(cells, l.date, releaseDate(spec, m.pz, patientID, f.Date))
		}
		if err := out.put(); err != nil {
			return nil, "", err
		}
	}
	if slices.Contains(spec.Categories, "vitals") {
		reason, err := m.readings(ctx, patientID, out)
		if err != nil || reason != "" {
			return nil, reason, err
		}
	}
	return subject, "", nil
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

func releaseDate(spec Spec, pz *anonymize.Pseudonymizer, patientID string, t time.Time) string {
	if spec.Dates == ShiftedDays {
		return pz.ShiftDate(patientID, t).Format(time.DateOnly)
	}
	return anonymize.Year(t)
}

// readings writes the patient's readings in the window to out: raw (time
// shifted) as they are read, or summarized per shifted day or over the
// window once all are read (the summaries' running totals are all that is
// held).
func (m *memberReader) readings(ctx context.Context, patientID string, out *rowSink) (string, error) {
	spec, l := m.spec, m.cells
	var (
		// The patient's date offset, drawn once: every reading of theirs
		// moves by the same whole days (anonymize.ShiftDate, in UTC).
		epoch = time.Unix(0, 0).UTC()
		shift = m.pz.ShiftDate(patientID, epoch).Sub(epoch)
		dates dateCache
		// sum is nil for raw readings; sumErr is the first reading it
		// refused (the job fails with it, as SummarizeReadings would).
		sum      *anonymize.Summarizer
		sumErr   error
		spoolErr error
	)
	switch spec.Readings {
	case DailySummary:
		sum, _ = m.pz.NewSummarizer(anonymize.ByDay) // a valid granularity
	case WindowSummary:
		sum, _ = m.pz.NewSummarizer(anonymize.WholeWindow)
	}
	err := m.src.Readings(ctx, patientID, spec.From, spec.To, func(sr readingstore.StoredReading) error {
		if !spec.kindWanted(sr.Kind) {
			return nil
		}
		t := sr.TimeFrame.Begin()
		values, n := readingValues(sr.Reading)
		for _, v := range values[:n] {
			if sum != nil {
				if sumErr == nil {
					sumErr = sum.Add(anonymize.Reading{PatientID: patientID, Kind: v.code, Time: t, Value: v.value})
				}
				continue
			}
			cells := out.next()
			set(cells, l.source, "reading")
			set(cells, l.category, "vitals")
			set(cells, l.code, v.code)
			if l.value >= 0 {
				set(cells, l.value, strconv.FormatFloat(v.value, 'g', -1, 64))
			}
			set(cells, l.unit, sr.Unit)
			shifted := t.UTC().Add(shift)
			if l.date >= 0 {
				set(cells, l.date, dates.format(shifted))
			}
			if l.timeOfDay >= 0 {
				set(cells, l.timeOfDay, shifted.Format(time.TimeOnly))
			}
			if spoolErr = out.put(); spoolErr != nil {
				return spoolErr
			}
		}
		return nil
	})
	switch {
	case spoolErr != nil:
		return "", spoolErr
	case errors.Is(err, readingstore.ErrNotFound):
		return exclErased, nil
	case errors.Is(err, readingstore.ErrTampered):
		// A batch that fails its check is never used, and neither is the
		// rest of the patient's data: a release must not depend on which
		// of their readings an attacker chose to break.
		return exclReadingTampered, nil
	case err != nil:
		return "", fmt.Errorf("%w: readings of a cohort member: %w", ErrUnavailable, err)
	case sumErr != nil:
		return "", sumErr
	case sum == nil:
		return "", nil
	}
	for _, s := range sum.Summaries() {
		cells := out.next()
		set(cells, l.source, "reading-summary")
		set(cells, l.category, "vitals")
		set(cells, l.code, s.Kind)
		set(cells, l.unit, kindUnits[baseKind(s.Kind)])
		set(cells, l.date, s.Day)
		set(cells, l.count, strconv.Itoa(s.Count))
		set(cells, l.min, strconv.FormatFloat(s.Min, 'g', 6, 64))
		set(cells, l.max, strconv.FormatFloat(s.Max, 'g', 6, 64))
		set(cells, l.mean, strconv.FormatFloat(s.Mean, 'g', 6, 64))
		if err := out.put(); err != nil {
			return "", err
		}
	}
	return "", nil
}

// dateCache formats UTC dates, remembering the last: a patient's readings
// come a day at a time.
type dateCache struct {
	day  int64 // days since the Unix epoch
	date string
}

func (c *dateCache) format(t time.Time) string {
	day := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		day-- // floor, for dates before 1970
	}
	if c.date == "" || day != c.day {
		c.day, c.date = day, t.Format(time.DateOnly)
	}
	return c.date
}

type readingValue struct {
	code  string
	value float64
}

// Codes of a blood pressure's two values.
var (
	codeSystolic  = mhealth.BloodPressure.String() + "-systolic"
	codeDiastolic = mhealth.BloodPressure.String() + "-diastolic"
)

// readingValues splits a blood pressure into its systolic and diastolic
// values; every other kind has one value.
func readingValues(r mhealth.Reading) (values [2]readingValue, n int) {
	if r.Kind == mhealth.BloodPressure {
		return [2]readingValue{{codeSystolic, r.Value}, {codeDiastolic, r.Diastolic}}, 2
	}
	return [2]readingValue{{r.Kind.String(), r.Value}}, 1
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
