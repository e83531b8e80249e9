// Package objectstore connects the services to S3-compatible object storage
// (a MinIO server; in development the one test-network/minio/minio.sh runs on
// loopback): its configuration, a client built from it, buckets made on
// demand, and the classification of the store's errors into sentinels.
//
// It must never log, print or return the secret key, and never send objects
// in plaintext to anything but a loopback address.
package objectstore
