package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// httpStatus is the standard mapping of gRPC codes onto HTTP statuses
// (google/rpc/code.proto), the one Google's REST front end and the client
// libraries use in both directions.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // Client Closed Request; net/http has no name for it
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	default: // Unknown, Internal, DataLoss and codes this table does not know
		return http.StatusInternalServerError
	}
}

// toStatus turns any error into a status: gRPC status errors as they are,
// context errors as CANCELLED/DEADLINE_EXCEEDED, anything else INTERNAL with
// Google's generic text (its own text may hold details a caller should not
// see; the interceptor's log has them).
func toStatus(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err)
	}
	return status.New(codes.Internal, "Internal error encountered.")
}

type errorBody struct {
	Error errorInner `json:"error"`
}

type errorInner struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status"`
	Details []json.RawMessage `json:"details,omitempty"`
}

// WriteError writes err (a gRPC status error, or any error -> INTERNAL) as
// Google's REST error JSON: {"error":{"code","message","status","details"}}
// with the status's details in their protojson form (Any with "@type").
// Output follows the request's prettyPrint parameter.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	out := outputFor(r)
	writeStatus(w, out, toStatus(err))
}

func writeStatus(w http.ResponseWriter, out outputOptions, st *status.Status) {
	body := errorBody{Error: errorInner{
		Code:    httpStatus(st.Code()),
		Message: st.Message(),
		Status:  code.Code(st.Code()).String(),
	}}
	if _, known := code.Code_name[int32(st.Code())]; !known {
		body.Error.Status = code.Code_UNKNOWN.String()
	}
	for _, d := range st.Proto().GetDetails() {
		// A detail whose type this binary does not link cannot be shown
		// as JSON; dropping it beats failing the whole error.
		if b, err := protojson.Marshal(d); err == nil {
			body.Error.Details = append(body.Error.Details, b)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Google does not escape <, > and & in messages
	if err := enc.Encode(body); err != nil {
		buf.Reset()
		buf.WriteString(`{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`)
	}
	writeJSON(w, out, httpStatus(st.Code()), bytes.TrimRight(buf.Bytes(), "\n"))
}

// writeJSON writes compact JSON src re-indented like Google's responses:
// two spaces and a final newline, or compact with prettyPrint=false.
// Reformatting through encoding/json also removes the whitespace protojson
// randomises on purpose, so the output is stable.
func writeJSON(w http.ResponseWriter, out outputOptions, statusCode int, src []byte) {
	var buf bytes.Buffer
	var err error
	if out.pretty {
		if err = json.Indent(&buf, src, "", "  "); err == nil {
			buf.WriteByte('\n')
		}
	} else {
		err = json.Compact(&buf, src)
	}
	if err != nil {
		buf.Reset()
		buf.Write(src)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(statusCode)
	_, _ = w.Write(buf.Bytes())
}

// newFieldError is INVALID_ARGUMENT with a google.rpc.BadRequest detail
// naming the field, as Google's request-decoding errors carry.
func newFieldError(field, desc string) error {
	return newViolationsError([]violation{{field: field, desc: desc}})
}

// newViolationsError joins several violations' texts with newlines, the way
// Google reports several unknown names in one body.
func newViolationsError(vs []violation) error {
	msgs := make([]string, len(vs))
	br := &errdetails.BadRequest{}
	for i, v := range vs {
		msgs[i] = v.desc
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.field, Description: v.desc})
	}
	st := status.New(codes.InvalidArgument, strings.Join(msgs, "\n"))
	if d, err := st.WithDetails(br); err == nil {
		st = d
	}
	return st.Err()
}
