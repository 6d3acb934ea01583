package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Policy files as gcloud writes them and people edit them: block and flow
// style, comments, quoting, folded and literal scalars, and anchors.
func TestReadPolicyFileYAML(t *testing.T) {
	dir := t.TempDir()
	cond := func(expr, title, desc string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"expression": expr, "title": title, "description": desc})
		return b
	}
	for _, c := range []struct {
		name, src string
		want      Policy
	}{
		{"gcloud policy", `bindings:
- members:
  - serviceAccount:service-123@gcp-sa-cloudscheduler.iam.gserviceaccount.com
  role: roles/cloudscheduler.serviceAgent
- condition:
    description: Expires at midnight
    expression: request.time < timestamp("2030-01-01T00:00:00Z")
    title: expires
  members:
  - user:alice@example.com
  role: roles/viewer
etag: BwWWja0YfJA=
version: 3
`, Policy{Etag: "BwWWja0YfJA=", Version: 3, Bindings: []*Binding{
			{Role: "roles/cloudscheduler.serviceAgent", Members: []string{"serviceAccount:service-123@gcp-sa-cloudscheduler.iam.gserviceaccount.com"}},
			{Role: "roles/viewer", Members: []string{"user:alice@example.com"},
				Condition: cond(`request.time < timestamp("2030-01-01T00:00:00Z")`, "expires", "Expires at midnight")},
		}}},
		{"document marker, comments, quotes, flow", `--- # a policy
# owners first
bindings:
  - role: 'roles/owner'   # indented sequence
    members: ["user:a@example.com", user:b@example.com]
  - {role: roles/viewer, members: [user:c@example.com]}
etag: "ACAB"
version: "1"
`, Policy{Etag: "ACAB", Version: 1, Bindings: []*Binding{
			{Role: "roles/owner", Members: []string{"user:a@example.com", "user:b@example.com"}},
			{Role: "roles/viewer", Members: []string{"user:c@example.com"}},
		}}},
		{"folded and literal scalars", `bindings:
- role: roles/viewer
  members: [user:a@example.com]
  condition:
    expression: request.time < timestamp("2030-01-01T00:00:00Z") &&
      resource.name.startsWith("projects/p")
    description: >-
      one
      two
    title: |
      line 1
      line 2
`, Policy{Bindings: []*Binding{{Role: "roles/viewer", Members: []string{"user:a@example.com"},
			Condition: cond(`request.time < timestamp("2030-01-01T00:00:00Z") && resource.name.startsWith("projects/p")`, "line 1\nline 2\n", "one two")}}}},
		{"anchors and a multi-line flow sequence", `bindings:
- role: roles/viewer
  members: &team [
    user:a@example.com,
    "user:b@example.com"
  ]
- role: roles/run.invoker
  members: *team
`, Policy{Bindings: []*Binding{
			{Role: "roles/viewer", Members: []string{"user:a@example.com", "user:b@example.com"}},
			{Role: "roles/run.invoker", Members: []string{"user:a@example.com", "user:b@example.com"}},
		}}},
	} {
		f := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(f, []byte(c.src), 0o600); err != nil {
			t.Fatal(err)
		}
		got, _, err := readPolicyFile(f)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(c.want)
		if string(gj) != string(wj) {
			t.Errorf("%s:\n got %s\nwant %s", c.name, gj, wj)
		}
	}
	for _, bad := range []string{
		"etag: ACAB\netag: ACAB\n",
		"bindings:\n  - role: x\n    members: y\n  bad\n",
		"etag: \"unterminated\n",
		"bindings: [x, y\n",
		"bindings: *alias\n",
		"",
		"etag: ACAB\n  version: 2\n",
		"- a list\n",
	} {
		f := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(f, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if p, _, err := readPolicyFile(f); err == nil || !strings.HasPrefix(err.Error(), "Policy file ["+f+"] is not a properly formatted YAML or JSON policy file. ") {
			t.Errorf("%q: policy %+v, error %v", bad, p, err)
		}
	}
}

func TestIAMReadPolicyFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	os.WriteFile(f, []byte("version: 3\netag: BwWWja0YfJA=\nbindings:\n- role: roles/viewer\n  members:\n  - user:a@example.com\n"), 0o600)
	p, mask, err := readPolicyFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 3 || p.Etag != "BwWWja0YfJA=" || len(p.Bindings) != 1 || p.Bindings[0].Members[0] != "user:a@example.com" {
		t.Errorf("policy %+v", p)
	}
	if strings.Join(mask, ",") != "bindings,etag,version" {
		t.Errorf("mask %v", mask)
	}
	os.WriteFile(f, []byte(`{"bindings": [{"role": "roles/viewer", "members": ["user:a@example.com"]}], "version": 1}`), 0o600)
	if p, mask, err = readPolicyFile(f); err != nil || p.Version != 1 || strings.Join(mask, ",") != "bindings,version" {
		t.Errorf("json: %+v %v %v", p, mask, err)
	}
	os.WriteFile(f, []byte("version: three\n"), 0o600)
	if _, _, err := readPolicyFile(f); err == nil || !strings.Contains(err.Error(), `version: "three" is not an integer.`) {
		t.Errorf("bad version: %v", err)
	}
}

func TestProjectsIDFromName(t *testing.T) {
	now := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	suffix := strconv.Itoa(int(now.Sub(projectsLaunch).Hours())/24) + "07"
	for name, want := range map[string]string{
		"Happy Project":                        "happy-project-" + suffix,
		"My_Project.v2!":                       "my-project-v2-" + suffix,
		"12 abc":                               "abc-" + suffix,
		"a":                                    "a-" + suffix,
		"Project with a long name, twenty-six": "",
		"Project with a long name":             "project-with-a-long-name",
	} {
		if got := projectsIDFromName(name, now); got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}
