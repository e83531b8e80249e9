package objectstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"

	"healthexchange/services/platform/objectstore"
)

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		err          error
		wantNotFound bool
	}{
		"missing object":          {err: minio.ErrorResponse{Code: minio.NoSuchKey, StatusCode: http.StatusNotFound}, wantNotFound: true},
		"missing bucket":          {err: minio.ErrorResponse{Code: minio.NoSuchBucket, StatusCode: http.StatusNotFound}, wantNotFound: true},
		"missing version":         {err: minio.ErrorResponse{Code: minio.NoSuchVersion, StatusCode: http.StatusNotFound}, wantNotFound: true},
		"bare 404 without a code": {err: minio.ErrorResponse{StatusCode: http.StatusNotFound}, wantNotFound: true},
		"wrapped missing object":  {err: fmt.Errorf("reading: %w", minio.ErrorResponse{Code: minio.NoSuchKey}), wantNotFound: true},
		"access denied":           {err: minio.ErrorResponse{Code: minio.AccessDenied, StatusCode: http.StatusForbidden}},
		"404 with another code":   {err: minio.ErrorResponse{Code: "NoSuchLifecycleConfiguration", StatusCode: http.StatusNotFound}},
		"not a store error":       {err: errors.New("connection refused")},
		"context deadline":        {err: context.DeadlineExceeded},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := objectstore.Classify(tc.err)
			if isNF := errors.Is(got, objectstore.ErrNotFound); isNF != tc.wantNotFound {
				t.Fatalf("errors.Is(Classify(%v), ErrNotFound) = %v, want %v", tc.err, isNF, tc.wantNotFound)
			}
			if !errors.Is(got, tc.err) {
				t.Fatalf("Classify(%v) = %v, which no longer wraps the original error", tc.err, got)
			}
		})
	}
	if err := objectstore.Classify(nil); err != nil {
		t.Fatalf("Classify(nil) = %v, want nil", err)
	}
}
