package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIAMParseYAML(t *testing.T) {
	for _, c := range []struct {
		name, src string
		want      any
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
`, map[string]any{
			"bindings": []any{
				map[string]any{"members": []any{"serviceAccount:service-123@gcp-sa-cloudscheduler.iam.gserviceaccount.com"}, "role": "roles/cloudscheduler.serviceAgent"},
				map[string]any{
					"condition": map[string]any{"description": "Expires at midnight", "expression": `request.time < timestamp("2030-01-01T00:00:00Z")`, "title": "expires"},
					"members":   []any{"user:alice@example.com"}, "role": "roles/viewer",
				},
			},
			"etag": "BwWWja0YfJA=", "version": "3",
		}},
		{"document marker, comments, quotes, flow", `--- # a policy
# owners first
bindings:
  - role: 'roles/owner'   # indented sequence
    members: ["user:a@example.com", user:b@example.com]
  - {role: roles/viewer, members: [user:c@example.com]}
etag: "ACAB"
auditConfigs: []
`, map[string]any{
			"bindings": []any{
				map[string]any{"role": "roles/owner", "members": []any{"user:a@example.com", "user:b@example.com"}},
				map[string]any{"role": "roles/viewer", "members": []any{"user:c@example.com"}},
			},
			"etag": "ACAB", "auditConfigs": []any{},
		}},
		{"folded plain and block scalars", `condition:
  expression: request.time < timestamp("2030-01-01T00:00:00Z") &&
    resource.name.startsWith("projects/p")
  description: >-
    one
    two
  title: |
    line 1
    line 2
empty:
nothing: ~
`, map[string]any{
			"condition": map[string]any{
				"expression":  `request.time < timestamp("2030-01-01T00:00:00Z") && resource.name.startsWith("projects/p")`,
				"description": "one two", "title": "line 1\nline 2\n",
			},
			"empty": nil, "nothing": nil,
		}},
		{"escapes", `a: "tab\there \"q\" \u00e9"
b: 'it''s'
"c d": x: y
`, map[string]any{"a": "tab\there \"q\" é", "b": "it's", "c d": "x: y"}},
	} {
		got, err := iamParseYAML(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %#v\nwant %#v", c.name, got, c.want)
		}
	}
	for _, bad := range []string{
		"a: 1\na: 2\n",
		"a:\n  - x\n    y: z\n  bad\n",
		"a: \"unterminated\n",
		"a: [x, y\n",
		"a: *alias\n",
		"",
		"a: 1\n  b: 2\n",
	} {
		if v, err := iamParseYAML(bad); err == nil {
			t.Errorf("%q parsed as %#v", bad, v)
		}
	}
}

func TestIAMReadPolicyFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	os.WriteFile(f, []byte("version: 3\netag: BwWWja0YfJA=\nbindings:\n- role: roles/viewer\n  members:\n  - user:a@example.com\n"), 0o600)
	p, mask, err := iamReadPolicyFile(f)
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
	if p, mask, err = iamReadPolicyFile(f); err != nil || p.Version != 1 || strings.Join(mask, ",") != "bindings,version" {
		t.Errorf("json: %+v %v %v", p, mask, err)
	}
	os.WriteFile(f, []byte("version: three\n"), 0o600)
	if _, _, err := iamReadPolicyFile(f); err == nil || !strings.Contains(err.Error(), `version: "three" is not an integer.`) {
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
