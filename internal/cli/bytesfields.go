package cli

import (
	"encoding/base64"

	cfv1 "google.golang.org/api/cloudfunctions/v1"
	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	"google.golang.org/api/cloudscheduler/v1"
	iamv1 "google.golang.org/api/iam/v1"
	runv2 "google.golang.org/api/run/v2"
)

// The APIs' JSON carries bytes fields in standard base64. gcloud decodes
// them and prints them in the URL-safe alphabet (apitools' encoding): a
// policy's etag shows as `BwX_...`, not `BwX/...`, and the policy file
// `get-iam-policy > file` writes carries that form. The CLI prints them as
// gcloud does.

var (
	etagField = [][]string{{"etag"}}
	jobBytes  = [][]string{{"httpTarget", "body"}, {"appEngineHttpTarget", "body"}, {"pubsubTarget", "data"}}
)

// bytesFields lists the JSON paths of v's bytes fields (v as handed to
// Print: a resource, or a slice of them).
func bytesFields(v any) [][]string {
	switch v.(type) {
	case *Policy, *crm.Policy, *iamv1.Policy, *cfv1.Policy, *cfv2.Policy, *runv2.GoogleIamV1Policy, *iamv1.ServiceAccount, []*iamv1.ServiceAccount:
		return etagField
	case *cloudscheduler.Job, []*cloudscheduler.Job:
		return jobBytes
	}
	return nil
}

// urlSafeBytes rewrites, in the JSON-shaped val (one resource or a list of
// them), the standard base64 at each path into the URL-safe alphabet. A
// value that is not valid base64 is left as it is.
func urlSafeBytes(val any, paths [][]string) {
	if list, ok := val.([]any); ok {
		for _, item := range list {
			urlSafeBytes(item, paths)
		}
		return
	}
	for _, path := range paths {
		m, ok := val.(map[string]any)
		for _, k := range path[:len(path)-1] {
			if !ok {
				break
			}
			m, ok = m[k].(map[string]any)
		}
		if !ok {
			continue
		}
		last := path[len(path)-1]
		if s, isStr := m[last].(string); isStr {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil {
				m[last] = base64.URLEncoding.EncodeToString(b)
			}
		}
	}
}
