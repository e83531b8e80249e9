package apiclient

import (
	"encoding/json"
	"fmt"
	"strings"
)

// errorInfoType is the @type of a google.rpc.ErrorInfo status detail.
const errorInfoType = "type.googleapis.com/google.rpc.ErrorInfo"

// StatusError is a call the service answered with an error status.
type StatusError struct {
	// HTTPStatus is the answer's HTTP status code.
	HTTPStatus int
	// Code is the gRPC code (0 when the body was not a status).
	Code int
	// Message is the service's message ("" when the body was not a status).
	Message string
	// Reason and Metadata are from the status's ErrorInfo detail, if any
	// (e.g. ACCESS_DENIED with the policy's "reasons").
	Reason   string
	Metadata map[string]string
	// Method and Path are the call that failed.
	Method, Path string
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%s (HTTP %d)", e.Message, e.HTTPStatus)
	}
	return fmt.Sprintf("HTTP %d from %s %s", e.HTTPStatus, e.Method, e.Path)
}

// statusBody is how the gateway reports a failed call.
type statusBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

type errorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Metadata map[string]string `json:"metadata"`
}

func parseStatus(method, path string, httpStatus int, raw []byte) *StatusError {
	e := &StatusError{HTTPStatus: httpStatus, Method: method, Path: path}
	var s statusBody
	if json.Unmarshal(raw, &s) != nil {
		return e
	}
	e.Code, e.Message = s.Code, strings.TrimSpace(s.Message)
	for _, d := range s.Details {
		var info errorInfo
		if json.Unmarshal(d, &info) == nil && info.Type == errorInfoType {
			e.Reason, e.Metadata = info.Reason, info.Metadata
			break
		}
	}
	return e
}
