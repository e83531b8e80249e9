package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
)

func TestConfigValidate(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		want string
	}{
		"off by default":     {NewConfig("consent", ""), ""},
		"otlp with endpoint": {NewConfig("consent", "127.0.0.1:4317"), ""},
		"no service":         {NewConfig("", ""), "service name"},
		"otlp, no endpoint":  {Config{ServiceName: "s", Exporter: ExporterOTLP}, "endpoint"},
		"stdout, no writer":  {Config{ServiceName: "s", Exporter: ExporterStdout}, "writer"},
		"unknown exporter":   {Config{ServiceName: "s", Exporter: "zipkin"}, "unknown exporter"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// A span exported to stdout and a log line written inside it share the trace id.
func TestLogsCarryTheTraceID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var spans, logs bytes.Buffer
	shutdown, err := Setup(ctx, Config{ServiceName: "test", Exporter: ExporterStdout, Stdout: &spans})
	if err != nil {
		t.Fatal(err)
	}
	log := NewLogger(&logs, 0)
	spanCtx, span := otel.Tracer("test").Start(ctx, "decide")
	log.InfoContext(spanCtx, "decided")
	log.InfoContext(ctx, "outside")
	span.End()
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var inside, outside map[string]any
	json.Unmarshal([]byte(lines[0]), &inside)
	json.Unmarshal([]byte(lines[1]), &outside)
	traceID := span.SpanContext().TraceID().String()
	if inside["trace_id"] != traceID {
		t.Fatalf("log inside the span has trace_id %v, want %s", inside["trace_id"], traceID)
	}
	if _, ok := outside["trace_id"]; ok {
		t.Fatal("a log line outside any span has a trace id")
	}
	if !strings.Contains(spans.String(), traceID) {
		t.Fatal("the exported span does not carry the trace id")
	}
}
