package policy

import "github.com/open-policy-agent/opa/v1/ast"

// InputDocument is the input document Decide evaluates, as Go values.
func InputDocument(in Input) (any, error) { return ast.JSON(in.value()) }

// DatasetInputDocument is the input document DatasetEngine.Decide evaluates,
// as Go values.
func DatasetInputDocument(in DatasetInput) (any, error) { return ast.JSON(in.value()) }
