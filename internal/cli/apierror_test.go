package cli

import (
	"testing"

	"google.golang.org/api/googleapi"
)

// APIError takes the status from the JSON error, not from the first
// "status" anywhere in the body.
func TestAPIErrorStatus(t *testing.T) {
	for _, c := range []struct {
		code            int
		body, msg, want string
	}{
		{409, `{"error":{"code":409,"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","metadata":{"status":"stale"}}],` +
			`"message":"There were concurrent policy changes.","status":"ABORTED"}}`,
			"There were concurrent policy changes.", "ABORTED: There were concurrent policy changes."},
		{404, `{"error":{"code":404,"message":"Job not found.","status":"NOT_FOUND"}}`, "Job not found.", "NOT_FOUND: Job not found."},
		{409, `{"error":{"code":409,"message":"Conflict."}}`, "Conflict.", "ALREADY_EXISTS: Conflict."},
		{503, `<html>"status": "down"</html>`, "", `UNAVAILABLE: <html>"status": "down"</html>`},
	} {
		err := APIError(&googleapi.Error{Code: c.code, Body: c.body, Message: c.msg})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.body, err, c.want)
		}
	}
}
