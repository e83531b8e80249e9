//go:build tools

// Package tools records the MinIO server built for development and the
// integration tests so that `go mod tidy` keeps its dependencies in go.sum.
package tools

import (
	_ "github.com/minio/minio"
)
