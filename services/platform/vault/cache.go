package vault

import (
	"container/list"
	"crypto/cipher"
	"sync"
	"time"
)

// dataKey is an unwrapped data key, ready to use.
//
// It holds the key only inside the AES-GCM cipher: the raw bytes are zeroed
// as soon as the cipher is built. Go's crypto/aes cannot wipe its expanded
// key, so evicting an entry drops the cipher for the collector instead;
// that, a short TTL and a bounded size are what is practical.
type dataKey struct {
	id       KeyID
	previous []KeyID // the patient's erased keys
	aead     cipher.AEAD
}

// keyCache keeps the data keys of the most recently used patients, each for
// at most ttl after it was unwrapped (even while in use, so an erasure by
// another vault sharing the key store takes effect here within ttl).
type keyCache struct {
	size int
	ttl  time.Duration

	mu     sync.Mutex
	lru    *list.List // of *cacheEntry, most recently used first
	m      map[string]*list.Element
	closed bool // set by close: put caches nothing more
}

type cacheEntry struct {
	patientID string
	key       *dataKey
	expires   time.Time
	timer     *time.Timer // drops the entry at expiry, even if the vault is idle
}

func newKeyCache(size int, ttl time.Duration) *keyCache {
	return &keyCache{size: size, ttl: ttl, lru: list.New(), m: map[string]*list.Element{}}
}

// get returns the patient's key if it is cached and has not expired.
func (c *keyCache) get(patientID string) (*dataKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[patientID]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !time.Now().Before(e.expires) {
		c.removeElement(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.key, true
}

// put caches the patient's key, evicting the least recently used patient
// beyond the size.
func (c *keyCache) put(patientID string, k *dataKey) {
	if c.size == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if el, ok := c.m[patientID]; ok {
		c.removeElement(el)
	}
	e := &cacheEntry{patientID: patientID, key: k, expires: time.Now().Add(c.ttl)}
	el := c.lru.PushFront(e)
	c.m[patientID] = el
	e.timer = time.AfterFunc(c.ttl, func() { c.expire(el) })
	for c.lru.Len() > c.size {
		c.removeElement(c.lru.Back())
	}
}

// remove evicts the patient's key.
func (c *keyCache) remove(patientID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[patientID]; ok {
		c.removeElement(el)
	}
}

// close evicts every key and caches no more.
func (c *keyCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for c.lru.Len() > 0 {
		c.removeElement(c.lru.Back())
	}
}

// expire evicts el if it is still cached (not already evicted or replaced).
func (c *keyCache) expire(el *list.Element) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := el.Value.(*cacheEntry)
	if c.m[e.patientID] == el {
		c.removeElement(el)
	}
}

func (c *keyCache) removeElement(el *list.Element) {
	e := el.Value.(*cacheEntry)
	e.timer.Stop()
	delete(c.m, e.patientID)
	c.lru.Remove(el)
	e.key = nil
}
