// Package sim simulates wearables for the ingest service: a deterministic
// generator of Open mHealth readings (heart rate, blood pressure, SpO2, body
// temperature, step counts) paced by an injected clock, and a streamer that
// batches, numbers and signs them with a device key (wearables/device) and
// uploads them on the ingest service's Upload stream, resending every
// unacknowledged batch after a reconnection; a Fleet runs many devices at
// once for load.
//
// Each device has one Upload stream; the devices of a Fleet share one gRPC
// connection (one HTTP/2 connection, one stream per device).
//
// It must never drop a reading silently or have one stored twice: a batch
// leaves the in-flight window only when the service answered it (ACCEPTED,
// DUPLICATE or REJECTED), a reconnection resends every unanswered batch
// oldest first with the same sequence number and bytes, and whatever is
// still unanswered when the simulator stops is counted as lost, never
// reported as sent. It never connects without TLS.
package sim
