package research

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"healthexchange/chaincode/ledgerapi"
	researchv1 "healthexchange/proto/research/v1"
	"healthexchange/services/domain/policy"
	"healthexchange/services/platform/auth"
	"healthexchange/services/platform/objectstore"
)

// Decider is the policy decision point for datasets (*policy.DatasetEngine).
type Decider interface {
	Decide(ctx context.Context, in policy.DatasetInput) (policy.DatasetDecision, error)
}

// Store is the datasets bucket (*objectstore.Bucket): objects, objects as
// streams (a dataset's files can be larger than memory, and are never held
// whole), and URLs that fetch one without credentials for a while.
type Store interface {
	objectstore.Objects
	// PutStream stores the size bytes r yields under key.
	PutStream(ctx context.Context, key string, r io.Reader, size int64) error
	// GetStream opens key for reading; a missing object is
	// objectstore.ErrNotFound, one larger than maxSize
	// objectstore.ErrTooLarge.
	GetStream(ctx context.Context, key string, maxSize int64) (io.ReadCloser, error)
	PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// Object layout in the datasets bucket:
//
//	<datasetId>/status.json                 the job (a research.v1.Dataset, protojson)
//	owners/<datasetId>                      the name of the instance that took the job
//	<datasetId>/dataset.csv | dataset.ndjson | manifest.json   the released files
//	researchers/<researcher>/<datasetId>    an empty marker, for listing
//
// Files are written before the release is recorded on the ledger, and the
// status says RELEASED only after that; a job that fails deletes its files.
func statusKey(id string) string            { return id + "/status.json" }
func instanceKey(id string) string          { return "owners/" + id }
func fileKey(id, file string) string        { return id + "/" + fileObjects[file] }
func markerPrefix(researcher string) string { return "researchers/" + researcher + "/" }

// Limits of what is read back.
const (
	maxStatusSize = 1 << 20
	maxFileSize   = 4 << 30
	// URLExpiry is how long a download URL works.
	URLExpiry = 5 * time.Minute
)

// Service is the research service's logic, behind the gRPC API.
type Service struct {
	ledger  Ledger
	sources Sources
	store   Store
	decider Decider
	log     *slog.Logger
	now     func() time.Time
	version string
	queue   chan string
	// retryWait is the first wait between attempts to record a release;
	// settleAfter is when a release whose outcome stayed unknown is
	// settled with the ledger again.
	retryWait, settleAfter time.Duration
	// tempDir holds a build's spooled rows and files (Config.TempDir).
	tempDir string
	// instance is this instance's name (Config.Instance).
	instance string
}

// enqueue queues a job without waiting; false when the queue is full.
func (s *Service) enqueue(id string) bool {
	select {
	case s.queue <- id:
		return true
	default:
		return false
	}
}

// SoftwareVersion is written into every manifest.
const SoftwareVersion = "healthexchange-research/1"

func newService(l Ledger, src Sources, store Store, d Decider, log *slog.Logger) *Service {
	return &Service{ledger: l, sources: src, store: store, decider: d, log: log, now: time.Now, instance: "research",
		version: SoftwareVersion, queue: make(chan string, 1024), retryWait: time.Second, settleAfter: 30 * time.Second}
}

var tracer = otel.Tracer("healthexchange/services/research")

// authorize asks the policy; anything but an allow is a denial, and a policy
// that cannot answer is ErrUnavailable (never an allow).
func (s *Service) authorize(ctx context.Context, p auth.Principal, action string, studyID, researcher string, categories []string, k int) error {
	d, err := s.decider.Decide(ctx, policy.DatasetInput{
		Subject: policy.DatasetSubject{ID: p.Subject, Role: string(p.Role), Org: p.Org, Study: p.StudyID},
		Action:  action,
		Dataset: policy.DatasetRef{StudyID: studyID, Researcher: researcher, Categories: categories, K: k},
	})
	if err != nil {
		return fmt.Errorf("%w: policy: %w", ErrUnavailable, err)
	}
	if !d.Allow {
		return fmt.Errorf("%w: %s", ErrDenied, strings.Join(d.Reasons, "; "))
	}
	return nil
}

// Create validates and authorizes a dataset request, saves it as QUEUED and
// queues the job. A retry with the same request id returns the dataset it
// made; the same id with another spec is refused.
func (s *Service) Create(ctx context.Context, p auth.Principal, spec Spec, requestID string) (*researchv1.Dataset, error) {
	ctx, span := tracer.Start(ctx, "create")
	defer span.End()
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, "create", spec.StudyID, p.Subject, spec.Categories, spec.K); err != nil {
		return nil, err
	}
	id, err := datasetID(p.Subject, requestID)
	if err != nil {
		return nil, err
	}
	want := specProto(spec)
	if existing, err := s.load(ctx, id); err == nil {
		if existing.GetResearcher() != p.Subject || !proto.Equal(existing.GetSpec(), want) {
			return nil, fmt.Errorf("%w: request_id %q was used for another request", ErrInvalid, requestID)
		}
		return existing, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	// The list marker first: a marker without a status is skipped by List,
	// a status without a marker would be a dataset its researcher cannot
	// list.
	if err := s.store.Put(ctx, markerPrefix(p.Subject)+id, nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// The job is this instance's before it is queued: another instance
	// starting meanwhile leaves it alone.
	if err := s.store.Put(ctx, instanceKey(id), []byte(s.instance)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	d := &researchv1.Dataset{DatasetId: id, Researcher: p.Subject, Spec: want, State: researchv1.DatasetState_DATASET_STATE_QUEUED,
		Progress: &researchv1.Progress{Stage: "queued"}, CreatedAt: ledgerapi.FormatTime(s.now())}
	if err := s.save(ctx, d); err != nil {
		return nil, err
	}
	if !s.enqueue(id) {
		// The queue is full: the job stays QUEUED and is picked up by the
		// next start's recovery; say so rather than pretend.
		return nil, fmt.Errorf("%w: too many datasets queued; %s is saved and will be built after a restart", ErrUnavailable, id)
	}
	s.log.InfoContext(ctx, "dataset queued", "dataset", id, "researcher", p.Subject, "study", spec.StudyID)
	return d, nil
}

// datasetID is random, or derived from the researcher and their request id
// so that a retry finds the same dataset.
func datasetID(researcher, requestID string) (string, error) {
	if requestID == "" {
		var b [12]byte
		rand.Read(b[:])
		return "ds-" + hex.EncodeToString(b[:]), nil
	}
	if len(requestID) > maxRequestID {
		return "", fmt.Errorf("%w: request_id is longer than %d", ErrInvalid, maxRequestID)
	}
	if err := ledgerapi.ValidateID("request_id", requestID); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	sum := sha256.Sum256([]byte("healthexchange/research/request/v1\x00" + researcher + "\x00" + requestID))
	return "ds-" + hex.EncodeToString(sum[:12]), nil
}

// Get returns one of the caller's datasets.
func (s *Service) Get(ctx context.Context, p auth.Principal, id string) (*researchv1.Dataset, error) {
	if err := validateDatasetID(id); err != nil {
		return nil, err
	}
	d, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		// Authorize as if it were the caller's, so that a denial for the
		// caller's role says why, and an unknown id is not found.
		if aerr := s.authorize(ctx, p, "read", p.StudyID, p.Subject, nil, 0); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, "read", d.GetSpec().GetStudyId(), d.GetResearcher(), nil, 0); err != nil {
		if errors.Is(err, ErrDenied) && d.GetResearcher() != p.Subject {
			// Another researcher's dataset is not disclosed: the caller is
			// answered as for an unknown id, denied when they may read no
			// dataset at all (their role, org or study), else not found.
			if aerr := s.authorize(ctx, p, "read", p.StudyID, p.Subject, nil, 0); aerr != nil {
				return nil, aerr
			}
			return nil, fmt.Errorf("%w: dataset %s", ErrNotFound, id)
		}
		return nil, err
	}
	return d, nil
}

func validateDatasetID(id string) error {
	if err := ledgerapi.ValidateID("dataset_id", id); err != nil || !strings.HasPrefix(id, "ds-") {
		return fmt.Errorf("%w: dataset_id %q is not a dataset id", ErrInvalid, id)
	}
	return nil
}

// List returns the caller's datasets of their study, newest first.
func (s *Service) List(ctx context.Context, p auth.Principal, pageSize int, pageToken string) ([]*researchv1.Dataset, string, error) {
	if err := s.authorize(ctx, p, "read", p.StudyID, p.Subject, nil, 0); err != nil {
		return nil, "", err
	}
	if pageSize == 0 {
		pageSize = 20
	}
	if pageSize < 1 || pageSize > 100 {
		return nil, "", fmt.Errorf("%w: page_size must be 1 to 100", ErrInvalid)
	}
	keys, err := s.store.List(ctx, markerPrefix(p.Subject))
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var all []*researchv1.Dataset
	for _, k := range keys {
		d, err := s.load(ctx, strings.TrimPrefix(k, markerPrefix(p.Subject)))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if d.GetSpec().GetStudyId() == p.StudyID {
			all = append(all, d)
		}
	}
	slices.SortFunc(all, func(a, b *researchv1.Dataset) int {
		if c := strings.Compare(b.GetCreatedAt(), a.GetCreatedAt()); c != 0 {
			return c
		}
		return strings.Compare(b.GetDatasetId(), a.GetDatasetId())
	})
	start := 0
	if pageToken != "" {
		i := slices.IndexFunc(all, func(d *researchv1.Dataset) bool { return d.GetDatasetId() == pageToken })
		if i < 0 {
			return nil, "", fmt.Errorf("%w: page_token is not from this list", ErrInvalid)
		}
		start = i
	}
	end := min(start+pageSize, len(all))
	next := ""
	if end < len(all) {
		next = all[end].GetDatasetId()
	}
	return all[start:end], next, nil
}

// released returns a released dataset of the caller and the object key and
// hash of one of its files.
func (s *Service) released(ctx context.Context, p auth.Principal, id, file string) (*researchv1.Dataset, string, string, error) {
	if _, ok := fileObjects[file]; !ok {
		return nil, "", "", fmt.Errorf("%w: file must be csv, ndjson or manifest", ErrInvalid)
	}
	d, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, "", "", err
	}
	if d.GetState() != researchv1.DatasetState_DATASET_STATE_RELEASED {
		return nil, "", "", fmt.Errorf("%w: dataset %s is %s", ErrNotReleased, id, stateName(d.GetState()))
	}
	sum := d.GetReleaseSha256()
	for _, f := range d.GetManifest().GetFiles() {
		if f.GetName() == file {
			sum = f.GetSha256()
		}
	}
	return d, fileKey(id, file), sum, nil
}

// DownloadURL returns a short-lived URL of one file of a released dataset.
func (s *Service) DownloadURL(ctx context.Context, p auth.Principal, id, file string) (url string, expires time.Time, sum string, err error) {
	_, key, sum, err := s.released(ctx, p, id, file)
	if err != nil {
		return "", time.Time{}, "", err
	}
	expires = s.now().Add(URLExpiry)
	url, err = s.store.PresignGet(ctx, key, URLExpiry)
	if err != nil {
		return "", time.Time{}, "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.log.InfoContext(ctx, "dataset download URL issued", "dataset", id, "file", file, "researcher", p.Subject)
	return url, expires, sum, nil
}

// downloadHold is how much of a file Download holds back until the file is
// known to match its hash.
const downloadHold = 64 << 10

// Download opens one file of a released dataset as a stream checked against
// its recorded hash: the stream ends in ErrUnavailable instead of io.EOF when
// the file does not match, and its last bytes are held back until the whole
// file has been hashed, so a caller never gets an altered file whole. The
// caller closes it.
func (s *Service) Download(ctx context.Context, p auth.Principal, id, file string) (io.ReadCloser, error) {
	_, key, sum, err := s.released(ctx, p, id, file)
	if err != nil {
		return nil, err
	}
	r, err := s.store.GetStream(ctx, key, maxFileSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	s.log.InfoContext(ctx, "dataset download", "dataset", id, "file", file, "researcher", p.Subject)
	return newVerifiedReader(r, sum, downloadHold, fmt.Sprintf("file %s of dataset %s", file, id)), nil
}

func stateName(s researchv1.DatasetState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "DATASET_STATE_"))
}

// load reads a dataset's status.
func (s *Service) load(ctx context.Context, id string) (*researchv1.Dataset, error) {
	raw, err := s.store.Get(ctx, statusKey(id), maxStatusSize)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, fmt.Errorf("%w: dataset %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	d := &researchv1.Dataset{}
	if err := protojson.Unmarshal(raw, d); err != nil {
		return nil, fmt.Errorf("dataset %s: status does not decode: %w", id, err)
	}
	return d, nil
}

// save writes a dataset's status.
func (s *Service) save(ctx context.Context, d *researchv1.Dataset) error {
	raw, err := protojson.Marshal(d)
	if err != nil {
		return err
	}
	if err := s.store.Put(ctx, statusKey(d.GetDatasetId()), raw); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
