package gcloudfmt

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	cloudscheduler "google.golang.org/api/cloudscheduler/v1"
)

// Golden outputs. Each expected text is what gcloud prints for the same
// data and flags (see ../../shared/reference/gcp-behaviour.md §7 for the
// IAM and scheduler commands).

const policyJSON = `{
  "version": 1,
  "etag": "BwWWja0YfJA=",
  "bindings": [
    {"role": "roles/cloudscheduler.serviceAgent",
     "members": ["serviceAccount:service-123456789012@gcp-sa-cloudscheduler.iam.gserviceaccount.com"]},
    {"role": "roles/cloudfunctions.invoker",
     "members": ["serviceAccount:scheduler-invoker@my-project.iam.gserviceaccount.com"]},
    {"role": "roles/owner",
     "members": ["user:alice@example.com", "user:bob@example.com"]}
  ]
}`

const jobJSON = `{
  "name": "projects/my-project/locations/us-central1/jobs/my-job",
  "schedule": "*/5 * * * *",
  "timeZone": "Etc/UTC",
  "state": "ENABLED",
  "attemptDeadline": "180s",
  "userUpdateTime": "2019-05-01T12:00:00.123Z",
  "retryConfig": {"maxBackoffDuration": "3600s", "maxDoublings": 5, "maxRetryDuration": "0s", "minBackoffDuration": "5s"},
  "httpTarget": {
    "uri": "https://us-central1-my-project.cloudfunctions.net/hello",
    "httpMethod": "GET",
    "headers": {"User-Agent": "Google-Cloud-Scheduler"},
    "oidcToken": {
      "serviceAccountEmail": "scheduler-invoker@my-project.iam.gserviceaccount.com",
      "audience": "https://us-central1-my-project.cloudfunctions.net/hello"
    }
  }
}`

const jobsJSON = `[` + jobJSON + `,
{
  "name": "projects/my-project/locations/us-central1/jobs/nightly",
  "schedule": "0 3 * * *",
  "timeZone": "America/New_York",
  "state": "PAUSED",
  "pubsubTarget": {"topicName": "projects/my-project/topics/t", "data": "aGk="}
}]`

// The scheduler jobs list format as gcloud's command spec declares it.
const jobsListFormat = `table(
  name.basename():label=ID,
  name.segment(-3):label=LOCATION,
  format("{0} ({1})", schedule, timeZone):label="SCHEDULE (TZ)",
  format("{0}{1}{2}", pubsubTarget.yesno(yes="Pub/Sub", no=""), appEngineHttpTarget.yesno(yes="App Engine", no=""), httpTarget.yesno(yes="HTTP", no="")):label=TARGET_TYPE,
  state:label=STATE)`

type goldenCase struct {
	name    string
	in      string
	list    bool
	def     string
	opts    Options
	want    string
	wantErr string
}

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad test JSON: %v", err)
	}
	return v
}

func runGolden(t *testing.T, cases []goldenCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Print(&out, decodeJSON(t, c.in), c.list, c.def, c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Print: %v", err)
			}
			if got := out.String(); got != c.want {
				t.Errorf("output mismatch\n--- got ---\n%s\n--- want ---\n%s\n--- got (quoted) ---\n%q", got, c.want, got)
			}
		})
	}
}

func TestGoldenIAMPolicy(t *testing.T) {
	runGolden(t, []goldenCase{
		{
			// gcp-behaviour.md §7.1: gcloud projects get-iam-policy P.
			name: "describe-yaml",
			in:   `{"version": 1, "etag": "BwWWja0YfJA=", "bindings": [{"role": "roles/owner", "members": ["user:alice@example.com"]}]}`,
			def:  "yaml",
			want: "bindings:\n- members:\n  - user:alice@example.com\n  role: roles/owner\netag: BwWWja0YfJA=\nversion: 1\n",
		},
		{
			// The story, first command: gcloud projects get-iam-policy P
			// --flatten="bindings[].members" --format='table(bindings.role, bindings.members)'.
			name: "flatten-table-role-members",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "table(bindings.role, bindings.members)"},
			want: "" +
				"ROLE                               MEMBERS\n" +
				"roles/cloudscheduler.serviceAgent  serviceAccount:service-123456789012@gcp-sa-cloudscheduler.iam.gserviceaccount.com\n" +
				"roles/cloudfunctions.invoker       serviceAccount:scheduler-invoker@my-project.iam.gserviceaccount.com\n" +
				"roles/owner                        user:alice@example.com\n" +
				"roles/owner                        user:bob@example.com\n",
		},
		{
			// gcp-behaviour.md §7.1: the "which roles does X have" idiom.
			name: "flatten-filter-table-role",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{
				Flatten: []string{"bindings[].members"},
				Format:  "table(bindings.role)",
				Filter:  "bindings.members:scheduler-invoker@my-project.iam.gserviceaccount.com",
			},
			want: "ROLE\nroles/cloudfunctions.invoker\n",
		},
		{
			name: "flatten-filter-prefixed-member-value",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{
				Flatten: []string{"bindings[].members"},
				Format:  "value(bindings.role)",
				Filter:  "bindings.members:serviceAccount:service-123456789012@gcp-sa-cloudscheduler.iam.gserviceaccount.com",
			},
			want: "roles/cloudscheduler.serviceAgent\n",
		},
		{
			name: "flatten-filter-case-insensitive-substring",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "value(bindings.members)", Filter: "bindings.members:ALICE"},
			want: "user:alice@example.com\n",
		},
		{
			name: "flatten-filter-equals-whole-value",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "value(bindings.members)", Filter: "bindings.role=roles/owner"},
			want: "user:alice@example.com\nuser:bob@example.com\n",
		},
		{
			name: "flatten-filter-not-equals",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "value(bindings.role)", Filter: "bindings.role!=roles/owner"},
			want: "roles/cloudscheduler.serviceAgent\nroles/cloudfunctions.invoker\n",
		},
		{
			name: "flatten-filter-no-match-table-prints-nothing",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "table(bindings.role)", Filter: "bindings.members:nobody"},
			want: "",
		},
		{
			name: "flatten-filter-no-match-json-empty-list",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "json", Filter: "bindings.members:nobody"},
			want: "[]\n",
		},
		{
			// A flattened single resource prints as a list of records.
			name: "flatten-default-yaml",
			in:   `{"version": 1, "etag": "BwWWja0YfJA=", "bindings": [{"role": "roles/owner", "members": ["user:a@example.com", "user:b@example.com"]}]}`,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}},
			want: "---\nbindings:\n  members: user:a@example.com\n  role: roles/owner\netag: BwWWja0YfJA=\nversion: 1\n" +
				"---\nbindings:\n  members: user:b@example.com\n  role: roles/owner\netag: BwWWja0YfJA=\nversion: 1\n",
		},
		{
			name: "flatten-json",
			in:   `{"version": 1, "etag": "BwWWja0YfJA=", "bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}]}`,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings[].members"}, Format: "json"},
			want: `[
  {
    "bindings": {
      "members": "user:a@example.com",
      "role": "roles/owner"
    },
    "etag": "BwWWja0YfJA=",
    "version": 1
  }
]
`,
		},
		{
			name: "flatten-bindings-only-table",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Flatten: []string{"bindings"}, Format: "table(bindings.role, bindings.members)"},
			want: "" +
				"ROLE                               MEMBERS\n" +
				"roles/cloudscheduler.serviceAgent  ['serviceAccount:service-123456789012@gcp-sa-cloudscheduler.iam.gserviceaccount.com']\n" +
				"roles/cloudfunctions.invoker       ['serviceAccount:scheduler-invoker@my-project.iam.gserviceaccount.com']\n" +
				"roles/owner                        ['user:alice@example.com', 'user:bob@example.com']\n",
		},
		{
			// Without --flatten, bindings.role is an implicit slice: a list
			// cell prints as Python's str() in a table and ;-joined in value.
			name: "unflattened-implicit-slice-table",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Format: "table(etag, bindings.role)"},
			want: "ETAG          ROLE\n" +
				"BwWWja0YfJA=  ['roles/cloudscheduler.serviceAgent', 'roles/cloudfunctions.invoker', 'roles/owner']\n",
		},
		{
			name: "unflattened-implicit-slice-value",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Format: "value(bindings.role)"},
			want: "roles/cloudscheduler.serviceAgent;roles/cloudfunctions.invoker;roles/owner\n",
		},
		{
			name: "explicit-slice-index-and-flattened",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Format: "value(bindings[0].role, bindings[-1].members[1], bindings[].role.len())"},
			want: "roles/cloudscheduler.serviceAgent\tuser:bob@example.com\t3\n",
		},
		{
			name: "json-single",
			in:   `{"version": 1, "etag": "BwWWja0YfJA=", "bindings": [{"role": "roles/owner", "members": ["user:alice@example.com"]}]}`,
			def:  "yaml",
			opts: Options{Format: "json"},
			want: `{
  "bindings": [
    {
      "members": [
        "user:alice@example.com"
      ],
      "role": "roles/owner"
    }
  ],
  "etag": "BwWWja0YfJA=",
  "version": 1
}
`,
		},
		{
			name: "flattened-format",
			in:   `{"version": 1, "etag": "BwWWja0YfJA=", "bindings": [{"role": "roles/owner", "members": ["user:alice@example.com"]}]}`,
			def:  "yaml",
			opts: Options{Format: "flattened"},
			want: "bindings[0].members[0]: user:alice@example.com\n" +
				"bindings[0].role:       roles/owner\n" +
				"etag:                   BwWWja0YfJA=\n" +
				"version:                1\n",
		},
		{
			name: "yaml-projection-keeps-sorted-keys",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Format: "yaml(version, etag)"},
			want: "etag: BwWWja0YfJA=\nversion: 1\n",
		},
		{
			name: "none",
			in:   policyJSON,
			def:  "yaml",
			opts: Options{Format: "none"},
			want: "",
		},
	})
}

func TestGoldenScheduler(t *testing.T) {
	runGolden(t, []goldenCase{
		{
			// gcloud scheduler jobs describe: the Job as YAML; the schedule and
			// the timestamp are quoted, durations are not.
			name: "describe-yaml",
			in:   jobJSON,
			def:  "yaml",
			want: `attemptDeadline: 180s
httpTarget:
  headers:
    User-Agent: Google-Cloud-Scheduler
  httpMethod: GET
  oidcToken:
    audience: https://us-central1-my-project.cloudfunctions.net/hello
    serviceAccountEmail: scheduler-invoker@my-project.iam.gserviceaccount.com
  uri: https://us-central1-my-project.cloudfunctions.net/hello
name: projects/my-project/locations/us-central1/jobs/my-job
retryConfig:
  maxBackoffDuration: 3600s
  maxDoublings: 5
  maxRetryDuration: 0s
  minBackoffDuration: 5s
schedule: '*/5 * * * *'
state: ENABLED
timeZone: Etc/UTC
userUpdateTime: '2019-05-01T12:00:00.123Z'
`,
		},
		{
			name: "list-table",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			want: "" +
				"ID       LOCATION     SCHEDULE (TZ)                 TARGET_TYPE  STATE\n" +
				"my-job   us-central1  */5 * * * * (Etc/UTC)         HTTP         ENABLED\n" +
				"nightly  us-central1  0 3 * * * (America/New_York)  Pub/Sub      PAUSED\n",
		},
		{
			name: "list-sort-by-descending",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{SortBy: []string{"~name"}},
			want: "" +
				"ID       LOCATION     SCHEDULE (TZ)                 TARGET_TYPE  STATE\n" +
				"nightly  us-central1  0 3 * * * (America/New_York)  Pub/Sub      PAUSED\n" +
				"my-job   us-central1  */5 * * * * (Etc/UTC)         HTTP         ENABLED\n",
		},
		{
			name: "list-limit",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{Limit: 1},
			want: "" +
				"ID      LOCATION     SCHEDULE (TZ)          TARGET_TYPE  STATE\n" +
				"my-job  us-central1  */5 * * * * (Etc/UTC)  HTTP         ENABLED\n",
		},
		{
			name: "list-filter-state",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{Filter: "state=PAUSED", Format: "value(name)"},
			// The explicit value(name) reuses the default projection's name
			// transform (basename), as gcloud's projection composition does;
			// the "get" format and [no-transforms] turn that off.
			want: "nightly\n",
		},
		{
			name: "list-get-format-no-default-transforms",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "get(name)"},
			want: "projects/my-project/locations/us-central1/jobs/my-job\nprojects/my-project/locations/us-central1/jobs/nightly\n",
		},
		{
			name: "list-value-explicit-transform",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "value(name.segment(1), httpTarget.oidcToken.serviceAccountEmail)"},
			want: "my-project\tscheduler-invoker@my-project.iam.gserviceaccount.com\nmy-project\t\n",
		},
		{
			name: "list-yaml",
			in:   `[{"name": "projects/p/locations/l/jobs/a", "state": "ENABLED"}, {"name": "projects/p/locations/l/jobs/b", "state": "PAUSED"}]`,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "yaml"},
			want: "---\nname: projects/p/locations/l/jobs/a\nstate: ENABLED\n---\nname: projects/p/locations/l/jobs/b\nstate: PAUSED\n",
		},
		{
			name: "list-json",
			in:   `[{"name": "projects/p/locations/l/jobs/a", "state": "ENABLED"}, {"name": "projects/p/locations/l/jobs/b"}]`,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "json"},
			want: "[\n  {\n    \"name\": \"projects/p/locations/l/jobs/a\",\n    \"state\": \"ENABLED\"\n  },\n  {\n    \"name\": \"projects/p/locations/l/jobs/b\"\n  }\n]\n",
		},
		{
			name: "list-empty-json",
			in:   `[]`,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "json"},
			want: "[]\n",
		},
		{
			name: "list-empty-table",
			in:   `[]`,
			list: true,
			def:  jobsListFormat,
			want: "",
		},
		{
			name: "list-csv",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "csv(name.basename(), schedule, state)"},
			// name keeps the default projection's label ID.
			want: "id,schedule,state\nmy-job,*/5 * * * *,ENABLED\nnightly,0 3 * * *,PAUSED\n",
		},
		{
			name: "list-table-explicit-labels-and-dates",
			in:   jobsJSON,
			list: true,
			def:  jobsListFormat,
			opts: Options{Format: "table(name.basename():label=JOB, userUpdateTime.date('%Y-%m-%d %H:%M:%S %Oz'):label=UPDATED)"},
			want: "JOB      UPDATED\nmy-job   2019-05-01 12:00:00 +00:00\nnightly\n",
		},
	})
}

func TestGoldenJSONPrinter(t *testing.T) {
	runGolden(t, []goldenCase{
		{name: "empty-list", in: `[]`, list: true, def: "json", want: "[]\n"},
		{name: "scalars", in: `{"s": "a\"b\\c\n\u0001é", "i": 10, "f": 0.5, "b": true, "n": null, "e": {}, "l": []}`, def: "json",
			want: "{\n  \"b\": true,\n  \"e\": {},\n  \"f\": 0.5,\n  \"i\": 10,\n  \"l\": [],\n  \"n\": null,\n  \"s\": \"a\\\"b\\\\c\\n\\u0001é\"\n}\n"},
		{name: "projection-sorted", in: `{"b": 1, "a": {"y": 2, "x": 3}}`, def: "json(b, a.x)",
			want: "{\n  \"a\": {\n    \"x\": 3\n  },\n  \"b\": 1\n}\n"},
	})
}

func TestGoldenComposition(t *testing.T) {
	runGolden(t, []goldenCase{
		{
			// --format=json on a list command prints the raw resources: the
			// default table's transforms do not apply.
			name: "json-ignores-default-transforms",
			in:   `[{"name": "projects/p/locations/l/jobs/a"}]`,
			list: true,
			def:  "table(name.basename():label=ID)",
			opts: Options{Format: "json"},
			want: "[\n  {\n    \"name\": \"projects/p/locations/l/jobs/a\"\n  }\n]\n",
		},
		{
			// An explicit table reuses the default's label and transform for
			// the same key.
			name: "table-inherits-label-and-transform",
			in:   `[{"name": "projects/p/locations/l/jobs/a", "state": "ENABLED"}]`,
			list: true,
			def:  "table(name.basename():label=ID, state)",
			opts: Options{Format: "table(state, name)"},
			want: "STATE    ID\nENABLED  a\n",
		},
		{
			name: "no-transforms-attribute",
			in:   `[{"name": "projects/p/locations/l/jobs/a"}]`,
			list: true,
			def:  "table(name.basename():label=ID)",
			opts: Options{Format: "value[no-transforms](name)"},
			want: "projects/p/locations/l/jobs/a\n",
		},
		{
			name: "yaml-projection-transform",
			in:   `{"name": "projects/p/locations/l/jobs/a", "state": "ENABLED"}`,
			def:  "yaml",
			opts: Options{Format: "yaml(name.basename(), state)"},
			want: "name: a\nstate: ENABLED\n",
		},
		{
			name: "format-transform-method-form",
			in:   `[{"name": "a", "n": 3, "id": "x"}]`,
			list: true,
			opts: Options{Format: `value(name.format("<{0}>"), n.format("{0:>4}"), format("{0}-{1}", id, n.len()))`},
			want: "<a>\t   3\tx-0\n",
		},
		{
			// format()'s argument keys are compiled with the enclosing
			// projection as defaults, so a key that is also a column reuses
			// that column's transform.
			name: "format-args-reuse-column-transforms",
			in:   `[{"name": "a", "n": 3}]`,
			list: true,
			opts: Options{Format: `value(name.format("<{0}>"), format("{0}-{1}", name, n))`},
			want: "<a>\t<a>-3\n",
		},
		{
			name: "transforms",
			in:   `[{"s": "projects/p/regions/us-east1/x", "l": ["b", "a"], "t": "2019-05-01T12:00:00.123456Z", "e": "", "d": {"b": 2, "a": 1}}]`,
			list: true,
			opts: Options{Format: `value(s.scope(), s.segment(1), s.upper(), l.sort().join(","), l.len(), t.date("%Y/%m/%d %H:%M:%S.%3f %Ez"), e.yesno(yes=Y, no=N), s.yesno(), d.list(), d.flatten(show=keys), s.split("/").slice(1:3).join("+"), t.iso())`},
			want: "us-east1/x\tp\tPROJECTS/P/REGIONS/US-EAST1/X\ta,b\t2\t2019/05/01 12:00:00.123 Z\tN\tprojects/p/regions/us-east1/x\ta=1,b=2\ta,b\tp+regions\t2019-05-01T12:00:00.123+00:00\n",
		},
		{
			name: "custom-transform",
			in:   `[{"name": "x", "gen": "GEN_2"}]`,
			list: true,
			def:  "table(name, generation():label=ENVIRONMENT)",
			opts: Options{Transforms: map[string]TransformFunc{"generation": func(v any, _ []string, _ map[string]string) (any, error) {
				return map[string]any{"GEN_2": "2nd gen"}[v.(map[string]any)["gen"].(string)], nil
			}}},
			want:    "NAME  ENVIRONMENT\nx     2nd gen\n",
			wantErr: "",
		},
		{
			name:    "unknown-transform",
			in:      `[]`,
			list:    true,
			def:     "table(name, state():label=STATE)",
			wantErr: "Unknown transform function state [table(name, state( *HERE* ):label=STATE)].",
		},
		{
			name:    "unknown-format",
			in:      `[]`,
			list:    true,
			opts:    Options{Format: "xml"},
			wantErr: "Format must be one of config, csv, default, diff, disable, flattened, get, json, list, multi, none, object, table, text, value, yaml; received [xml].",
		},
		{
			name:    "bad-filter",
			in:      `[]`,
			list:    true,
			def:     "yaml",
			opts:    Options{Filter: "a:b AND c:d OR e:f"},
			wantErr: "Parenthesis grouping is required when AND and OR are are combined [a:b AND c:d OR *HERE* e:f].",
		},
		{
			name:    "bad-projection",
			in:      `[]`,
			list:    true,
			opts:    Options{Format: "table(name"},
			wantErr: "More tokens expected [table(name *HERE*].",
		},
		{
			name: "sort-by-multiple-keys-and-directions",
			in:   `[{"a": "x", "b": 1}, {"a": "y", "b": 2}, {"a": "x", "b": 3}, {"a": "y", "b": 1}]`,
			list: true,
			opts: Options{Format: "value(a, b)", SortBy: []string{"a", "~b"}},
			want: "x\t3\nx\t1\ny\t2\ny\t1\n",
		},
		{
			name: "sort-by-str-of-values",
			in:   `[{"n": 9}, {"n": 10}, {"n": 1}]`,
			list: true,
			opts: Options{Format: "value(n)", SortBy: []string{"n"}},
			// Python 3 compares str(value): "1" < "10" < "9".
			want: "1\n10\n9\n",
		},
		{
			name: "sort-by-hidden-column-in-table",
			in:   `[{"n": 9, "m": "a"}, {"n": 10, "m": "b"}, {"n": 1, "m": "c"}]`,
			list: true,
			opts: Options{Format: "table(m)", SortBy: []string{"n"}},
			// The table also sorts by the :(n:sort=1) column, numbers first.
			want: "M\nc\na\nb\n",
		},
		{
			name: "filter-single-resource-becomes-list",
			in:   `{"name": "a", "state": "ENABLED"}`,
			def:  "yaml",
			opts: Options{Filter: "state:enabled"},
			want: "---\nname: a\nstate: ENABLED\n",
		},
		{
			name: "filter-single-resource-no-match",
			in:   `{"name": "a", "state": "ENABLED"}`,
			def:  "yaml",
			opts: Options{Filter: "state:paused"},
			want: "",
		},
		{
			name: "flatten-non-list-replaces-record",
			in:   `[{"name": "a", "tags": ["x", "y"]}, {"name": "b"}]`,
			list: true,
			opts: Options{Format: "value(.)", Flatten: []string{"name"}},
			want: "a\nb\n",
		},
		{
			name: "flatten-empty-list-drops-record",
			in:   `[{"name": "a", "tags": ["x", "y"]}, {"name": "b", "tags": []}]`,
			list: true,
			opts: Options{Format: "value(name, tags)", Flatten: []string{"tags"}},
			want: "a\tx\na\ty\n",
		},
		{
			name: "filter-alias-from-default-labels",
			in:   `[{"name": "projects/p/locations/l/jobs/a", "state": "ENABLED"}, {"name": "projects/p/locations/l/jobs/b", "state": "PAUSED"}]`,
			list: true,
			def:  "table(name.basename():label=ID, state:label=STATE)",
			opts: Options{Filter: "STATE=paused"},
			want: "ID  STATE\nb   PAUSED\n",
		},
	})
}

func TestFilterMissingKeysWarning(t *testing.T) {
	var out, warn bytes.Buffer
	err := Print(&out, decodeJSON(t, `[{"a": 1}]`), true, "", Options{Format: "value(a)", Filter: "b:1 OR a:1", Warnings: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "1\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	if got, want := warn.String(), "WARNING: The following filter keys were not present in any resource : b\n"; got != want {
		t.Errorf("warning = %q, want %q", got, want)
	}
}

type apiStruct struct {
	Name   string            `json:"name,omitempty"`
	Count  int64             `json:"count,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

func TestToValue(t *testing.T) {
	v, err := ToValue(&apiStruct{Name: "n", Count: 3, Labels: map[string]string{"b": "2", "a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Print(&out, v, false, "yaml", Options{}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "count: 3\nlabels:\n  a: '1'\n  b: '2'\nname: n\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Structs are accepted by Print directly, too.
	out.Reset()
	if err := Print(&out, []*apiStruct{{Name: "a"}, {Name: "b"}}, true, "table(name)", Options{}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "NAME\na\nb\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestToValueAPIStructs(t *testing.T) {
	job := &cloudscheduler.Job{
		Name:            "projects/my-project/locations/us-central1/jobs/my-job",
		Schedule:        "*/5 * * * *",
		TimeZone:        "Etc/UTC",
		State:           "ENABLED",
		AttemptDeadline: "180s",
		UserUpdateTime:  "2019-05-01T12:00:00.123Z",
		RetryConfig:     &cloudscheduler.RetryConfig{MaxBackoffDuration: "3600s", MaxDoublings: 5, MaxRetryDuration: "0s", MinBackoffDuration: "5s"},
		HttpTarget: &cloudscheduler.HttpTarget{
			Uri:        "https://us-central1-my-project.cloudfunctions.net/hello",
			HttpMethod: "GET",
			Headers:    map[string]string{"User-Agent": "Google-Cloud-Scheduler"},
			OidcToken: &cloudscheduler.OidcToken{
				ServiceAccountEmail: "scheduler-invoker@my-project.iam.gserviceaccount.com",
				Audience:            "https://us-central1-my-project.cloudfunctions.net/hello",
			},
		},
	}
	v, err := ToValue(job)
	if err != nil {
		t.Fatal(err)
	}
	var want, got bytes.Buffer
	if err := Print(&want, decodeJSON(t, jobJSON), false, "yaml", Options{}); err != nil {
		t.Fatal(err)
	}
	if err := Print(&got, v, false, "yaml", Options{}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("API struct prints\n%s\nwant\n%s", got.String(), want.String())
	}
	list, err := ToValue([]*cloudscheduler.Job{job})
	if err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if err := Print(&got, list, true, jobsListFormat, Options{}); err != nil {
		t.Fatal(err)
	}
	if w := "ID      LOCATION     SCHEDULE (TZ)          TARGET_TYPE  STATE\nmy-job  us-central1  */5 * * * * (Etc/UTC)  HTTP         ENABLED\n"; got.String() != w {
		t.Errorf("got %q, want %q", got.String(), w)
	}
}

func TestDisplayReportsPrinted(t *testing.T) {
	for _, c := range []struct {
		in     string
		list   bool
		opts   Options
		printd bool
	}{
		{`[]`, true, Options{}, false},
		{`[{"name": "a"}]`, true, Options{}, true},
		{`[{"name": "a"}]`, true, Options{Filter: "name:b"}, false},
		{`[{"name": "a"}]`, true, Options{Format: "none"}, true},
		{`{}`, false, Options{}, false},
	} {
		var out bytes.Buffer
		printed, err := Display(&out, decodeJSON(t, c.in), c.list, "table(name)", c.opts)
		if err != nil || printed != c.printd {
			t.Errorf("%s %+v: printed=%v err=%v, want %v", c.in, c.opts, printed, err, c.printd)
		}
	}
}
