package readingstore

import (
	"fmt"
	"time"
)

// Object layout in the wearables bucket, all under the patient's prefix:
//
//	<patientId>/<yyyymmddhh>/<deviceId>/<seq, 20 digits>   a stored batch
//	<patientId>/proofs/<deviceId>/<seq, 20 digits>          its anchor and Merkle path
//
// A batch is filed under the hour (UTC) of its earliest reading, and its
// readings lie within an hour of that, so a read of a time range lists the
// hours of the range and the hour before. The key follows from the signed
// payload alone, so a resent batch lands on the same key.

// MaxBatchSpan is how far apart a batch's readings may be.
const MaxBatchSpan = time.Hour

const hourLayout = "2006010215"

// BatchKey is the object key of a stored batch.
func BatchKey(patientID string, earliest time.Time, deviceID string, seq uint64) string {
	return fmt.Sprintf("%s/%s/%s/%020d", patientID, earliest.UTC().Format(hourLayout), deviceID, seq)
}

// HourPrefix is the prefix of a patient's batches filed under an hour.
func HourPrefix(patientID string, hour time.Time) string {
	return patientID + "/" + hour.UTC().Format(hourLayout) + "/"
}

// ProofKey is the object key of a batch's anchor and Merkle path.
func ProofKey(patientID, deviceID string, seq uint64) string {
	return fmt.Sprintf("%s/proofs/%s/%020d", patientID, deviceID, seq)
}
