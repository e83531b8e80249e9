package vault_test

import (
	"testing"

	"healthexchange/services/platform/vault"
)

const benchSize = 10 << 10

func BenchmarkSeal(b *testing.B) {
	v, _ := memVault(b)
	ctx := testContext(b)
	plaintext := record(benchSize)
	seal(b, v, "alice", "records/1", plaintext) // make and cache the key
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Seal(ctx, "alice", "records/1", plaintext); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []vault.Option
	}{
		{"cached key", nil},
		{"key unwrapped every time", []vault.Option{vault.WithCacheSize(0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v, _ := memVault(b, bc.opts...)
			ctx := testContext(b)
			sealed := seal(b, v, "alice", "records/1", record(benchSize))
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Open(ctx, "alice", "records/1", sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
