package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// oidcron's own endpoints (/oidcron/v1/...: the doctor, the attempt
// history) have no Google client library; oidcronCall is the one way the
// commands call them.

// oidcronCall sends method to path (e.g. "/oidcron/v1/projects/p/locations/l/jobs/j/attempts")
// on the server, with query if any, and decodes the JSON reply into out
// (unless out is nil). A reply other than 200 becomes the error gcloud
// would show for it: "STATUS: message".
func (g *Globals) oidcronCall(ctx context.Context, method, path string, query url.Values, out any) error {
	u := strings.TrimRight(g.Endpoint, "/") + "/" + strings.TrimLeft(path, "/")
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	resp, err := g.HTTP().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return oidcronAPIError(resp.StatusCode, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("reading the reply of %s %s: %v", method, path, err)
	}
	return nil
}

// googleError is the JSON error body of Google's APIs, which oidcron's
// own endpoints answer too: {"error":{"code","message","status"}}.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// oidcronAPIError reads an error reply of oidcron's own endpoints as
// gcloud shows one: "STATUS: message".
func oidcronAPIError(code int, body []byte) error {
	var e googleError
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		if e.Error.Status != "" {
			return fmt.Errorf("%s: %s", e.Error.Status, e.Error.Message)
		}
		return errors.New(e.Error.Message)
	}
	msg := strings.TrimSpace(string(body))
	if msg == "" {
		msg = http.StatusText(code)
	}
	return fmt.Errorf("HTTP %d: %s", code, msg)
}
