package objectstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"healthexchange/services/platform/objectstore"
)

// fakeBuckets is a BucketMaker that records what EnsureBucket asked of it.
type fakeBuckets struct {
	exists    bool
	existsErr error
	makeErr   error
	made      []string
}

func (f *fakeBuckets) BucketExists(_ context.Context, _ string) (bool, error) {
	return f.exists, f.existsErr
}

func (f *fakeBuckets) MakeBucket(_ context.Context, name string, _ minio.MakeBucketOptions) error {
	f.made = append(f.made, name)
	return f.makeErr
}

func TestEnsureBucket(t *testing.T) {
	denied := minio.ErrorResponse{Code: minio.AccessDenied, StatusCode: 403}
	tests := map[string]struct {
		store    fakeBuckets
		wantMade bool
		wantErr  error // nil for success
	}{
		"exists: nothing made":        {store: fakeBuckets{exists: true}},
		"missing: made":               {store: fakeBuckets{}, wantMade: true},
		"made concurrently by us":     {store: fakeBuckets{makeErr: minio.ErrorResponse{Code: minio.BucketAlreadyOwnedByYou}}, wantMade: true},
		"owned by someone else":       {store: fakeBuckets{makeErr: minio.ErrorResponse{Code: minio.BucketAlreadyExists}}, wantMade: true, wantErr: minio.ErrorResponse{Code: minio.BucketAlreadyExists}},
		"existence check fails":       {store: fakeBuckets{existsErr: denied}, wantErr: denied},
		"making the bucket is denied": {store: fakeBuckets{makeErr: denied}, wantMade: true, wantErr: denied},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := objectstore.EnsureBucket(ctx, &tc.store, "records")
			if tc.wantErr == nil && err != nil {
				t.Fatalf("EnsureBucket = %v, want nil", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("EnsureBucket = %v, want an error wrapping %v", err, tc.wantErr)
			}
			if made := len(tc.store.made) == 1 && tc.store.made[0] == "records"; made != tc.wantMade {
				t.Fatalf("MakeBucket calls %v, want a call for \"records\": %v", tc.store.made, tc.wantMade)
			}
		})
	}
}
