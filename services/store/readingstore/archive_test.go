package readingstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"healthexchange/services/platform/objectstore/objectstoretest"
	"healthexchange/services/platform/vault/vaulttest"
	"healthexchange/services/store/readingstore"
	"healthexchange/wearables/mhealth"
)

// seed stores n batches of one heart rate each, an hour apart from start,
// and returns their keys in order.
func seed(t *testing.T, a *readingstore.Archive, start time.Time, n int) []string {
	t.Helper()
	var keys []string
	for i := range n {
		payload, err := mhealth.Batch{DeviceID: "watch-1", PatientID: "alice", Seq: uint64(i + 1),
			Readings: []mhealth.Reading{mhealth.NewHeartRate(float64(60+i), start.Add(time.Duration(i)*time.Hour))}}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		key, err := a.StoreSigned(t.Context(), payload, []byte("signature"), start)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	return keys
}

// TestReadingsInKeyOrder: batches are loaded a few at a time, and yet fn
// sees them in key order, and the first failure in that order is the one
// returned, after every batch before it.
func TestReadingsInKeyOrder(t *testing.T) {
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const batches = 20
	tests := map[string]struct {
		tamper  int // index of a batch to break, -1 for none
		stopAt  int // value at which fn fails, 0 for never
		want    int // readings seen
		wantErr error
	}{
		"all":                {tamper: -1, want: batches},
		"a tampered batch":   {tamper: 12, want: 12, wantErr: readingstore.ErrTampered},
		"the first tampered": {tamper: 0, want: 0, wantErr: readingstore.ErrTampered},
		"fn stops it":        {tamper: 15, stopAt: 65, want: 6, wantErr: errStop},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objects := objectstoretest.New()
			a := readingstore.NewArchive(objects, vaulttest.New(t))
			keys := seed(t, a, start, batches)
			if tc.tamper >= 0 {
				b, _ := objects.Object(keys[tc.tamper])
				b[len(b)-1] ^= 1
				objects.Set(keys[tc.tamper], b)
			}
			var seen []float64
			err := a.Readings(t.Context(), "alice", start, start.Add(batches*time.Hour), func(r readingstore.StoredReading) error {
				seen = append(seen, r.Value)
				if r.Value == float64(tc.stopAt) {
					return errStop
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Readings = %v, want %v", err, tc.wantErr)
			}
			if len(seen) != tc.want {
				t.Fatalf("%d readings seen, want %d", len(seen), tc.want)
			}
			for i, v := range seen {
				if v != float64(60+i) {
					t.Fatalf("reading %d is %v: out of key order (%v)", i, v, seen)
				}
			}
		})
	}
}

var errStop = errors.New("stop")

// TestReadingsStopsWithItsContext: a cancelled read ends unavailable, not
// as a complete read of fewer batches.
func TestReadingsStopsWithItsContext(t *testing.T) {
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	a := readingstore.NewArchive(objectstoretest.New(), vaulttest.New(t))
	seed(t, a, start, 10)
	ctx, cancel := context.WithCancel(t.Context())
	n := 0
	err := a.Readings(ctx, "alice", start, start.Add(10*time.Hour), func(readingstore.StoredReading) error {
		if n++; n == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, readingstore.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Readings after cancel = %v (%d readings), want an error", err, n)
	}
}
