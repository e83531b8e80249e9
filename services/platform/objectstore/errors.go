package objectstore

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
)

var (
	// ErrInvalidConfig: a Config or configuration file is incomplete or
	// unsafe.
	ErrInvalidConfig = errors.New("objectstore: invalid configuration")
	// ErrNotFound: the object, its version or its bucket does not exist.
	ErrNotFound = errors.New("objectstore: not found")
)

// notFoundCodes are the S3 error codes that mean "no such thing".
var notFoundCodes = map[string]bool{
	minio.NoSuchKey:     true,
	minio.NoSuchBucket:  true,
	minio.NoSuchVersion: true,
}

// Classify returns err wrapped with the sentinel it means (ErrNotFound), so
// that errors.Is works and the store's own error stays reachable through
// errors.As; an error it has no sentinel for, and nil, come back unchanged.
func Classify(err error) error {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return err
	}
	if notFoundCodes[resp.Code] || (resp.Code == "" && resp.StatusCode == http.StatusNotFound) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
