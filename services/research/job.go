package research

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"healthexchange/chaincode/ledgerapi"
	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/domain/anonymize"
	"healthexchange/services/platform/ledger"
	"healthexchange/services/platform/objectstore"
)

// work builds the queued datasets one at a time until ctx ends (datasets
// are heavy, and the machine is small). Jobs left QUEUED or RUNNING by a
// previous run are recovered first.
func (s *Service) work(ctx context.Context) {
	if err := s.recover(ctx); err != nil {
		s.log.ErrorContext(ctx, "recovering dataset jobs", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-s.queue:
			s.runJob(ctx, id)
		}
	}
}

// recover resolves the jobs this instance left when it stopped (and jobs
// no instance took): a RUNNING job whose release reached the ledger is
// finished from its stored files; any other RUNNING job has its files
// deleted and is built again, like a QUEUED one. Another instance's jobs
// are its own to resume: it may be building them now.
func (s *Service) recover(ctx context.Context) error {
	keys, err := s.store.List(ctx, "ds-")
	if err != nil {
		return err
	}
	for _, k := range keys {
		id, ok := strings.CutSuffix(k, "/status.json")
		if !ok {
			continue
		}
		d, err := s.load(ctx, id)
		if err != nil {
			// One unreadable status does not hold up the others.
			s.log.ErrorContext(ctx, "recovering dataset jobs: a status is unreadable", "key", k, "err", err)
			continue
		}
		switch d.GetState() {
		case researchv1.DatasetState_DATASET_STATE_QUEUED, researchv1.DatasetState_DATASET_STATE_RUNNING:
			owner, err := s.store.Get(ctx, instanceKey(id), 256)
			if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
				s.log.ErrorContext(ctx, "recovering dataset jobs: whose job it is is unreadable", "dataset", id, "err", err)
				continue
			}
			if err == nil && string(owner) != s.instance {
				s.log.InfoContext(ctx, "dataset job left to its instance", "dataset", id, "instance", string(owner))
				continue
			}
			s.log.InfoContext(ctx, "dataset job recovered", "dataset", d.GetDatasetId(), "state", stateName(d.GetState()))
			if !s.enqueue(d.GetDatasetId()) {
				return errors.New("the queue is full; the rest waits for the next start")
			}
		}
	}
	return nil
}

// runJob builds one dataset and records the outcome in its status. It never
// leaves files of a dataset that is not RELEASED.
func (s *Service) runJob(ctx context.Context, id string) {
	ctx, span := tracer.Start(ctx, "dataset job")
	defer span.End()
	d, err := s.load(ctx, id)
	if err != nil {
		s.log.ErrorContext(ctx, "dataset job: status unreadable", "dataset", id, "err", err)
		return
	}
	switch d.GetState() {
	case researchv1.DatasetState_DATASET_STATE_QUEUED:
	case researchv1.DatasetState_DATASET_STATE_RUNNING:
		// Interrupted: did its release land before the stop?
		if done, err := s.finishFromLedger(ctx, d); err != nil || done {
			return
		}
	default:
		// Already released or failed: queued twice (by Create and by the
		// recovery of a start that saw it QUEUED). Running it again would
		// be refused by the ledger and delete the released files.
		return
	}
	spec, err := specFromProto(d.GetSpec())
	if err == nil {
		err = spec.validate()
	}
	if err != nil {
		s.fail(ctx, d, err)
		return
	}
	d.State = researchv1.DatasetState_DATASET_STATE_RUNNING
	d.Progress = &researchv1.Progress{Stage: "cohort"}
	if err := s.save(ctx, d); err != nil {
		s.log.ErrorContext(ctx, "dataset job: cannot save status", "dataset", id, "err", err)
		return
	}
	if err := s.release(ctx, d, spec); err != nil && !errors.Is(err, errOutcomeUnknown) {
		s.fail(ctx, d, err)
	}
}

// release is the job: cohort, data and de-identification (build), files
// (writeFiles), stored as streams, the independent check of the stored
// files, manifest, ledger, status. Rows are never all in memory: they go
// through the spool and temporary files (both gone when it returns).
func (s *Service) release(ctx context.Context, d *researchv1.Dataset, spec Spec) error {
	id := d.GetDatasetId()
	lastSave := time.Time{}
	progress := func(stage string, done, total int, rows int64) {
		d.Progress = &researchv1.Progress{Stage: stage, PatientsDone: int32(done), PatientsTotal: int32(total), Rows: rows}
		if time.Since(lastSave) > 500*time.Millisecond || done == total {
			lastSave = time.Now()
			if err := s.save(ctx, d); err != nil {
				s.log.WarnContext(ctx, "dataset job: progress not saved", "dataset", id, "err", err)
			}
		}
	}
	cohort, err := findCohort(ctx, s.ledger, spec.StudyID, spec.consentCategories(), s.now())
	if err != nil {
		return err
	}
	progress("reading", 0, len(cohort.Members), 0)
	b, err := build(ctx, s.sources, spec, cohort, s.tempDir, progress, s.log)
	if err != nil {
		return err
	}
	defer b.Close()
	progress("writing", len(cohort.Members), len(cohort.Members), b.rowsIn)
	files, err := writeFiles(ctx, b, s.tempDir)
	if err != nil {
		return err
	}
	defer files.Close()

	progress("storing", len(cohort.Members), len(cohort.Members), files.rows)
	for _, f := range []struct {
		name string
		file dataFile
	}{{FileCSV, files.csv}, {FileNDJSON, files.ndjson}} {
		if err := s.store.PutStream(ctx, fileKey(id, f.name), f.file.reader(), f.file.bytes); err != nil {
			s.deleteFiles(ctx, id)
			return fmt.Errorf("%w: storing %s: %w", ErrUnavailable, f.name, err)
		}
	}
	progress("verifying", len(cohort.Members), len(cohort.Members), files.rows)
	if err := s.checkStored(ctx, id, files, b, spec.K); err != nil {
		s.deleteFiles(ctx, id)
		return err
	}
	m := s.manifest(d, spec, cohort, b, files)
	manifestJSON, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		s.deleteFiles(ctx, id)
		return err
	}
	releaseSum := sha256Hex(manifestJSON)
	if err := s.store.Put(ctx, fileKey(id, FileManifest), manifestJSON); err != nil {
		s.deleteFiles(ctx, id)
		return fmt.Errorf("%w: storing %s: %w", ErrUnavailable, FileManifest, err)
	}

	progress("recording", len(cohort.Members), len(cohort.Members), files.rows)
	rel, err := s.recordRelease(ctx, ledgerapi.DatasetReleaseRequest{
		DatasetID: id, SHA256: releaseSum, StudyID: spec.StudyID, Researcher: d.GetResearcher(),
		CohortSize: len(cohort.Members), K: spec.K, ConsentIDs: cohort.ConsentIDs(),
	})
	if errors.Is(err, errOutcomeUnknown) {
		// The release may be on the ledger: keep the files, stay RUNNING,
		// and settle it later (runJob of a RUNNING job asks the ledger).
		d.Progress.Stage = "recording: the ledger did not answer; retried later"
		if serr := s.save(ctx, d); serr != nil {
			s.log.WarnContext(ctx, "dataset job: status not saved", "dataset", id, "err", serr)
		}
		time.AfterFunc(s.settleAfter, func() { s.enqueue(id) })
		return err
	}
	if err != nil {
		s.deleteFiles(ctx, id)
		return fmt.Errorf("the ledger refused the release (a consent may have been revoked while the dataset was built; create it again): %w", err)
	}
	d.State = researchv1.DatasetState_DATASET_STATE_RELEASED
	d.Progress = &researchv1.Progress{Stage: "done", PatientsDone: int32(len(cohort.Members)), PatientsTotal: int32(len(cohort.Members)), Rows: files.rows}
	d.Manifest, d.ReleaseSha256, d.LedgerTxId = m, releaseSum, rel.TxID
	d.FinishedAt = ledgerapi.FormatTime(s.now())
	if err := s.save(ctx, d); err != nil {
		// The release is on the ledger and the files are stored; the next
		// start finishes the status from them (finishFromLedger).
		return nil
	}
	s.log.InfoContext(ctx, "dataset released", "dataset", id, "study", spec.StudyID, "researcher", d.GetResearcher(),
		"cohort", len(cohort.Members), "rows", files.rows, "k_achieved", m.GetKAchieved(), "sha256", releaseSum, "tx", rel.TxID)
	return nil
}

// checkStored runs the independent check over the stored files, read back
// as streams, and makes sure the files checked are the files written, whose
// hashes go in the manifest.
func (s *Service) checkStored(ctx context.Context, id string, files *files, b *built, k int) error {
	var stored [2]io.ReadCloser
	for i, name := range []string{FileCSV, FileNDJSON} {
		r, err := s.store.GetStream(ctx, fileKey(id, name), maxFileSize)
		if err != nil {
			return fmt.Errorf("%w: reading %s back: %w", ErrUnavailable, name, err)
		}
		defer r.Close()
		stored[i] = r
	}
	csvRead, ndjsonRead, err := checkFiles(stored[0], stored[1], files.rows, b.columns, b.qis, k)
	switch {
	case errors.Is(err, ErrUnavailable):
		return err
	case err != nil:
		return fmt.Errorf("the independent check refused the files: %w", err)
	}
	if csvRead != files.csv.digest() || ndjsonRead != files.ndjson.digest() {
		return errors.New("the independent check refused the files: the stored files are not the files written")
	}
	return nil
}

// errOutcomeUnknown: the ledger did not say whether a release was recorded.
var errOutcomeUnknown = errors.New("the ledger did not say whether the release was recorded")

// recordAttempts bounds how often recordRelease asks before it gives up.
const recordAttempts = 4

// recordRelease records a release and returns it as the ledger holds it.
// Only a refusal by the chaincode is an error that proves nothing was
// recorded; when the outcome is unknown it asks the ledger, submits again
// while the release is not there (the chaincode refuses a second release
// of the same id, so a resubmit never records twice), and after
// recordAttempts rounds returns errOutcomeUnknown.
func (s *Service) recordRelease(ctx context.Context, req ledgerapi.DatasetReleaseRequest) (ledgerapi.DatasetRelease, error) {
	wait := s.retryWait
	var err error
	for attempt := 1; ; attempt++ {
		var rel ledgerapi.DatasetRelease
		rel, err = s.ledger.RecordDatasetRelease(ctx, req)
		if err == nil {
			return rel, nil
		}
		if errors.Is(err, ledger.ErrRejected) && !errors.Is(err, ledgerapi.ErrExists) {
			return rel, err
		}
		got, lerr := s.ledger.DatasetRelease(ctx, req.DatasetID)
		switch {
		case lerr == nil && got.SHA256 == req.SHA256:
			return got, nil
		case lerr == nil:
			return got, fmt.Errorf("%w: the ledger holds another release under dataset id %s", ledger.ErrRejected, req.DatasetID)
		}
		if attempt == recordAttempts {
			return ledgerapi.DatasetRelease{}, fmt.Errorf("%w: %w", errOutcomeUnknown, err)
		}
		select {
		case <-ctx.Done():
			return ledgerapi.DatasetRelease{}, fmt.Errorf("%w: %w", errOutcomeUnknown, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// finishFromLedger completes an interrupted job whose release is on the
// ledger, from its stored manifest. done is false when nothing was
// released (the job is then run again).
func (s *Service) finishFromLedger(ctx context.Context, d *researchv1.Dataset) (done bool, err error) {
	id := d.GetDatasetId()
	rel, err := s.ledger.DatasetRelease(ctx, id)
	if errors.Is(err, ledgerapi.ErrNotFound) {
		s.deleteFiles(ctx, id)
		return false, nil
	}
	if err != nil {
		s.log.WarnContext(ctx, "dataset job: the ledger cannot say whether it was released; left for the next start", "dataset", id, "err", err)
		return false, err
	}
	raw, err := s.store.Get(ctx, fileKey(id, FileManifest), maxStatusSize)
	if err != nil || sha256Hex(raw) != rel.SHA256 {
		s.fail(ctx, d, fmt.Errorf("released on the ledger (tx %s) but its stored manifest is missing or altered", rel.TxID))
		return true, nil
	}
	m := &researchv1.Manifest{}
	if err := protojson.Unmarshal(raw, m); err != nil {
		s.fail(ctx, d, fmt.Errorf("released on the ledger (tx %s) but its stored manifest does not decode", rel.TxID))
		return true, nil
	}
	d.State, d.Manifest, d.ReleaseSha256, d.LedgerTxId = researchv1.DatasetState_DATASET_STATE_RELEASED, m, rel.SHA256, rel.TxID
	d.Progress = &researchv1.Progress{Stage: "done", Rows: m.GetRowsOut()}
	d.FinishedAt = ledgerapi.FormatTime(s.now())
	return true, s.save(ctx, d)
}

// fail marks a job FAILED with its reason; it holds no files.
func (s *Service) fail(ctx context.Context, d *researchv1.Dataset, cause error) {
	s.deleteFiles(ctx, d.GetDatasetId())
	d.State, d.Error = researchv1.DatasetState_DATASET_STATE_FAILED, cause.Error()
	d.FinishedAt = ledgerapi.FormatTime(s.now())
	s.log.WarnContext(ctx, "dataset failed", "dataset", d.GetDatasetId(), "err", cause)
	if err := s.save(ctx, d); err != nil {
		s.log.ErrorContext(ctx, "dataset job: failure not saved", "dataset", d.GetDatasetId(), "err", err)
	}
}

func (s *Service) deleteFiles(ctx context.Context, id string) {
	for _, name := range slices.Sorted(maps.Keys(fileObjects)) {
		if err := s.store.Delete(ctx, fileKey(id, name)); err != nil {
			s.log.WarnContext(ctx, "dataset job: file not deleted", "dataset", id, "file", name, "err", err)
		}
	}
}

// steps say, in the manifest, what each de-identification step did.
func steps(spec Spec) []string {
	out := []string{
		"1 direct identifiers: only allowlisted elements are read from records (coded concept, numeric value and unit, each in its standard syntax or left out, clinical date; birth date, sex and postal code for quasi-identifiers); names, identifiers, addresses, contacts, free text and every other HIPAA Safe Harbor identifier are never read",
		"2 pseudonyms: patient ids replaced by HMAC-SHA256 pseudonyms under a key drawn for this dataset and destroyed after it; two datasets cannot be joined on them",
	}
	dates := "dates reduced to the year (Safe Harbor)"
	if spec.Dates == ShiftedDays {
		dates = "dates shifted by a per-patient offset of 1 to 365 days, kept to the day (not Safe Harbor: needs an expert determination)"
	}
	out = append(out,
		"3 quasi-identifiers: birth date to a 5-year age band with 90+ grouped, ZIP to 3 digits with the 17 sparsely populated prefixes as 000; "+dates,
		fmt.Sprintf("4 k-anonymity: every combination of the quasi-identifiers shared by at least %d patients, by generalization and suppression of at most %.0f%% of patients", spec.K, spec.MaxSuppression*100),
		fmt.Sprintf("5 readings: %s", map[ReadingsMode]string{
			DailySummary:  "summarized per pseudonym, kind and shifted day (count, min, max, mean)",
			WindowSummary: "summarized per pseudonym and kind over the whole window (count, min, max, mean)",
			RawReadings:   "released one by one, time shifted by the patient's offset",
		}[spec.Readings]),
		"6 independent check: the files were read back and checked by code that shares nothing with step 4; no CSV cell starts a spreadsheet formula",
	)
	return out
}

// manifest describes the released files.
func (s *Service) manifest(d *researchv1.Dataset, spec Spec, cohort Cohort, b *built, files *files) *researchv1.Manifest {
	m := &researchv1.Manifest{
		DatasetId: d.GetDatasetId(), StudyId: spec.StudyID, Researcher: d.GetResearcher(),
		CohortTime: ledgerapi.FormatTime(cohort.Time), Spec: d.GetSpec(),
		QuasiIdentifiers: b.qis, GeneralizationLevels: map[string]int32{},
		K: int32(spec.K), KAchieved: int32(b.report.KAchieved), CohortSize: int32(len(cohort.Members)),
		PatientsReleased: int32(len(b.patients)), PatientsSuppressed: int32(b.report.Suppressed),
		RowsIn: b.rowsIn, RowsOut: files.rows, RowsSuppressed: b.rowsIn - files.rows,
		ConsentCount: int32(len(cohort.ConsentIDs())), ConsentSetSha256: ledgerapi.ConsentSetSHA256(cohort.ConsentIDs()),
		Excluded: map[string]int32{}, SoftwareVersion: s.version, Steps: steps(spec),
	}
	for q, l := range b.report.Levels {
		m.GeneralizationLevels[q] = int32(l)
	}
	for r, n := range b.excluded {
		m.Excluded[r] = int32(n)
	}
	for _, c := range b.columns {
		m.Fields = append(m.Fields, &researchv1.Field{Name: c.Name, Kind: fieldKind(c), Transformation: transformation(c)})
	}
	for _, f := range []struct {
		name string
		file dataFile
	}{{FileCSV, files.csv}, {FileNDJSON, files.ndjson}} {
		m.Files = append(m.Files, &researchv1.File{Name: f.name, Object: fileKey(d.GetDatasetId(), f.name), Sha256: f.file.sha256, Bytes: f.file.bytes})
	}
	return m
}

func fieldKind(c anonymize.Column) string {
	return map[anonymize.Kind]string{anonymize.PatientID: "pseudonym", anonymize.QuasiIdentifier: "quasi-identifier",
		anonymize.Sensitive: "sensitive", anonymize.Date: "date"}[c.Kind]
}

func transformation(c anonymize.Column) string {
	switch c.Rule {
	case anonymize.RuleAgeBand:
		return "birth date to a 5-year age band at the cohort time, 90+ grouped; widened to 10 or 20 years or * if k needs it"
	case anonymize.RuleZIP3:
		return "ZIP to its first 3 digits, restricted prefixes as 000; * if k needs it"
	case anonymize.RuleKeep:
		return "kept; * if k needs it"
	case anonymize.RuleYear:
		return "year only"
	case anonymize.RuleShift:
		return "shifted by the patient's offset, to the day"
	}
	if c.Kind == anonymize.PatientID {
		return "patient id to a per-dataset keyed pseudonym"
	}
	return "as recorded"
}

// specProto is a validated spec as the API and the status hold it. Times
// keep their fractions of a second, so the job reads back the window that
// was validated.
func specProto(s Spec) *researchv1.DatasetSpec {
	p := &researchv1.DatasetSpec{StudyId: s.StudyID, Categories: s.Categories, Fields: s.Fields,
		From: s.From.UTC().Format(time.RFC3339Nano), To: s.To.UTC().Format(time.RFC3339Nano), K: int32(s.K),
		MaxSuppression: s.MaxSuppression,
		Readings: map[ReadingsMode]researchv1.ReadingsMode{DailySummary: researchv1.ReadingsMode_READINGS_MODE_DAILY,
			WindowSummary: researchv1.ReadingsMode_READINGS_MODE_WINDOW, RawReadings: researchv1.ReadingsMode_READINGS_MODE_RAW}[s.Readings],
		Dates: map[DateRule]researchv1.DateRule{YearOnly: researchv1.DateRule_DATE_RULE_YEAR, ShiftedDays: researchv1.DateRule_DATE_RULE_SHIFT}[s.Dates],
	}
	for _, k := range s.ReadingKinds {
		p.ReadingKinds = append(p.ReadingKinds, k.String())
	}
	return p
}
