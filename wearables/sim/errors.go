package sim

import "errors"

// Domain errors, wrapped with the details.
var (
	// ErrConfig: a configuration or option is invalid.
	ErrConfig = errors.New("invalid simulator configuration")
	// ErrUnacknowledged: the simulator stopped with batches the service had
	// not answered (their readings are counted as lost).
	ErrUnacknowledged = errors.New("batches left unacknowledged")
	// ErrProtocol: the service answered out of order, for a batch not sent
	// on that stream, or with an unknown status; the stream is dropped and
	// the unanswered batches are sent again on a new one.
	ErrProtocol = errors.New("upload protocol violation")
)
