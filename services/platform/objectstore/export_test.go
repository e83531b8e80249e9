package objectstore

// AskFirstEndpointFirst makes b ask its first endpoint first again, as a
// fresh handle does (tests of the failover).
func AskFirstEndpointFirst(b *Bucket) { b.preferred.Store(0) }
