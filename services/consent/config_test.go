package consent

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		// wantErr are substrings the error must contain; none: valid.
		wantErr []string
	}{
		{"defaults", func(c *Config) {}, nil},
		{"event batch of 1", func(c *Config) { c.EventBatch = 1 }, nil},
		{"event batch of 500", func(c *Config) { c.EventBatch = 500 }, nil},
		{"event batch of 0", func(c *Config) { c.EventBatch = 0 }, []string{"event batch must be 1 to 500"}},
		{"negative event batch", func(c *Config) { c.EventBatch = -1 }, []string{"event batch must be 1 to 500"}},
		{"event batch of 501", func(c *Config) { c.EventBatch = 501 }, []string{"event batch must be 1 to 500"}},
		{"zero flush interval", func(c *Config) { c.FlushEvery = 0 }, []string{"interval must be positive"}},
		{"negative retry", func(c *Config) { c.Retry = -time.Second }, []string{"interval must be positive"}},
		{"zero snapshot interval", func(c *Config) { c.SaveViewEvery = 0 }, []string{"interval must be positive"}},
		{"zero await", func(c *Config) { c.AwaitView = 0 }, []string{"interval must be positive"}},
		{"every problem at once", func(c *Config) { c.AwaitView, c.EventBatch = 0, 0 },
			[]string{"interval must be positive", "event batch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConfig()
			tt.change(&c)
			err := c.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}
