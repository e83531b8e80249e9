// Package telemetry sets up OpenTelemetry tracing and structured logs whose
// records carry the trace and span ids of the request they belong to.
//
// It must never make a service fail because telemetry is unreachable: an
// exporter that cannot deliver drops spans, the service goes on.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Exporters.
const (
	ExporterOff    = "off"
	ExporterStdout = "stdout"
	ExporterOTLP   = "otlp"
)

// Config chooses where spans go.
type Config struct {
	ServiceName string
	// Exporter is "off", "stdout" or "otlp". NewConfig picks "otlp" when
	// OTLPEndpoint is set, else "off".
	Exporter string
	// OTLPEndpoint is host:port of an OTLP/gRPC collector.
	OTLPEndpoint string
	// OTLPInsecure sends to the collector without TLS (a collector on the
	// same host).
	OTLPInsecure bool
	// Stdout receives spans when Exporter is "stdout".
	Stdout io.Writer
}

// NewConfig returns the default for a service: OTLP when an endpoint is
// given (as OTEL_EXPORTER_OTLP_ENDPOINT is by convention), otherwise off.
func NewConfig(service, otlpEndpoint string) Config {
	c := Config{ServiceName: service, Exporter: ExporterOff, OTLPEndpoint: otlpEndpoint}
	if otlpEndpoint != "" {
		c.Exporter = ExporterOTLP
	}
	return c
}

// Validate reports an impossible choice.
func (c Config) Validate() error {
	switch {
	case c.ServiceName == "":
		return errors.New("telemetry: service name is empty")
	case c.Exporter == ExporterOTLP && c.OTLPEndpoint == "":
		return errors.New("telemetry: the otlp exporter needs an endpoint")
	case c.Exporter == ExporterStdout && c.Stdout == nil:
		return errors.New("telemetry: the stdout exporter needs a writer")
	case c.Exporter != ExporterOff && c.Exporter != ExporterStdout && c.Exporter != ExporterOTLP:
		return fmt.Errorf("telemetry: unknown exporter %q (off, stdout, otlp)", c.Exporter)
	}
	return nil
}

// Setup installs the global tracer provider and W3C trace-context
// propagation. The returned function flushes and stops the exporter.
func Setup(ctx context.Context, c Config) (func(context.Context) error, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(c.ServiceName))),
	}
	switch c.Exporter {
	case ExporterStdout:
		exp, err := stdouttrace.New(stdouttrace.WithWriter(c.Stdout))
		if err != nil {
			return nil, fmt.Errorf("telemetry: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	case ExporterOTLP:
		eopts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(c.OTLPEndpoint)}
		if c.OTLPInsecure {
			eopts = append(eopts, otlptracegrpc.WithInsecure())
		}
		exp, err := otlptracegrpc.New(ctx, eopts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	// With exporter "off" spans are still made (trace ids reach the logs and
	// the callers), only not exported.
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// NewLogger returns a JSON logger whose records carry trace_id and span_id
// when logged with a context inside a span.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(traceHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
