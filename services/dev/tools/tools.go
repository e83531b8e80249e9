//go:build tools

// Package tools names the linters this module pins, so go mod tidy keeps them.
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
