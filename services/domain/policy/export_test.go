package policy

import (
	"context"

	"github.com/open-policy-agent/opa/v1/ast"
)

// InputDocument is the input document Decide evaluates, as Go values.
func InputDocument(in Input) (any, error) { return ast.JSON(in.value()) }

// DatasetInputDocument is the input document DatasetEngine.Decide evaluates,
// as Go values.
func DatasetInputDocument(in DatasetInput) (any, error) { return ast.JSON(in.value()) }

// FastAllow is the engine's fast allow alone.
func (e *Engine) FastAllow(ctx context.Context, in Input) (Decision, bool) {
	return e.fastAllow(ctx, in.value(), in.Subject.ID)
}

// FullDecision is the whole decision alone, without the fast allow.
func (e *Engine) FullDecision(ctx context.Context, in Input) (Decision, error) {
	return decide(ctx, e.query, in.value, decision, failedDecision)
}
