package research

import (
	"context"
	"time"

	"healthexchange/chaincode/ledgerapi"
	"healthexchange/services/platform/objectstore"
	"healthexchange/services/store/readingstore"
	"healthexchange/services/store/recordstore"
)

// storeSources read the ledger's notarizations and the records and
// wearables buckets, as the records and ingest services laid them out.
type storeSources struct {
	ledger   Ledger
	records  *recordstore.Archive
	readings *readingstore.Archive
}

var _ Sources = (*storeSources)(nil)

// The bucket streams the dataset files.
var _ Store = (*objectstore.Bucket)(nil)

const recordsPageSize = 100

func (s *storeSources) Latest(ctx context.Context, patientID string) ([]ledgerapi.Notarization, error) {
	var out []ledgerapi.Notarization
	bookmark := ""
	for {
		page, err := s.ledger.RecordsByPatient(ctx, patientID, recordsPageSize, bookmark)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Bookmark == "" || len(page.Items) == 0 {
			return out, nil
		}
		bookmark = page.Bookmark
	}
}

func (s *storeSources) Read(ctx context.Context, n ledgerapi.Notarization) ([]byte, error) {
	return s.records.Read(ctx, n)
}

func (s *storeSources) Readings(ctx context.Context, patientID string, from, to time.Time, fn func(readingstore.StoredReading) error) error {
	return s.readings.Readings(ctx, patientID, from, to, fn)
}
