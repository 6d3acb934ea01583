package gcloudfmt

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	cloudscheduler "google.golang.org/api/cloudscheduler/v1"
)

// Golden outputs. Each expected text is what gcloud prints for the same
// data and flags: taken from gcloud's own printer tests
// (tests/unit/core/resource/*_printer_test.py), from
// ../../shared/reference/gcp-behaviour.md §7, or worked out by hand from
// gcloud's printer code where noted.

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

// instancesJSON mirrors the resources of gcloud's printer tests.
const instancesJSON = `[
 {"name": "my-instance-a-0", "kind": "compute#instance", "SelfLink": "http://g/selfie/a-0",
  "metadata": {"items": [{"key": "a", "value": "b"}, {"key": "c", "value": "d"}, {"key": "e", "value": "f"}, {"key": "g", "value": "h"}], "kind": "compute#metadata.2"},
  "networkInterfaces": [{"networkIP": "10.240.150.0", "name": "nic0"}]},
 {"name": "my-instance-az-1", "kind": "compute#instance", "networkInterfaces": [{"networkIP": "10.240.150.1"}]},
 {"name": "my-instance-azz-2", "kind": "compute#instance", "networkInterfaces": [{"networkIP": "10.240.150.2"}]},
 {"name": "my-instance-azzz-3", "kind": "compute#instance", "networkInterfaces": [{"networkIP": "10.240.150.3"}]}
]`

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

func TestGoldenYAMLPrinter(t *testing.T) {
	runGolden(t, []goldenCase{
		// From gcloud's yaml_printer_test.py.
		{name: "single", in: `{"a": 1, "b": 2, "c": 3}`, def: "yaml", want: "a: 1\nb: 2\nc: 3\n"},
		{name: "list", in: `[{"a": 1, "b": 2, "c": 3}]`, list: true, def: "yaml", want: "---\na: 1\nb: 2\nc: 3\n"},
		{name: "projection", in: `[{"a": 1, "b": 2, "c": 3}]`, list: true, def: "yaml(a,c)", want: "---\na: 1\nc: 3\n"},
		{name: "empty-dict", in: `[{"empty": {}, "full": {"PASS": 1, "FAIL": 0}}]`, list: true, def: "yaml",
			want: "---\nempty: {}\nfull:\n  FAIL: 0\n  PASS: 1\n"},
		{name: "empty-dict-projection", in: `[{"empty": {}, "full": {"PASS": 1, "FAIL": 0}}]`, list: true, def: "yaml(empty, full)",
			want: "---\nempty: {}\nfull:\n  FAIL: 0\n  PASS: 1\n"},
		{name: "empty-list", in: `[{"empty": []}]`, list: true, def: "yaml", want: "---\nempty: []\n"},
		{name: "empty-list-full", in: `[{"empty": [], "full": ["PASS", "FAIL"]}]`, list: true, def: "yaml",
			want: "---\nempty: []\nfull:\n- PASS\n- FAIL\n"},
		{name: "empty-record-dict", in: `[{}]`, list: true, def: "yaml", want: "--- {}\n"},
		{name: "empty-record-list", in: `[[]]`, list: true, def: "yaml", want: "--- []\n"},
		{name: "null", in: `[{"empty": null, "full": ["PASS", "FAIL"]}]`, list: true, def: "yaml",
			want: "---\nempty: null\nfull:\n- PASS\n- FAIL\n"},
		{name: "null-no-undefined", in: `[{"empty": null}]`, list: true, def: "yaml[no-undefined]", want: "---\n  null\n"},
		{name: "null-no-undefined-projection", in: `[{"empty": null}]`, list: true, def: "yaml[no-undefined](empty)",
			want: "---\nempty: null\n"},
		{name: "null-string", in: `[{"empty": null, "full": ["PASS", "FAIL"]}]`, list: true, def: `yaml[null="(unset)"]`,
			want: "---\nempty: (unset)\nfull:\n- PASS\n- FAIL\n"},
		{name: "null-string-no-undefined", in: `[{"empty": null}]`, list: true, def: `yaml[no-undefined,null="(unset)"]`,
			want: "---\n  (unset)\n"},
		{name: "booleans-1.2", in: `[{"falsy": ["false", "no", "off", "other"], "truthy": ["true", "yes", "on", "other"]}]`,
			list: true, def: "yaml",
			want: "---\nfalsy:\n- 'false'\n- no\n- off\n- other\ntruthy:\n- 'true'\n- yes\n- on\n- other\n"},
		{name: "firewall", list: true, def: "yaml",
			in: `[{"allowed": [{"IPProtocol": "tcp", "ports": ["2376"]}], "creationTimestamp": "2015-05-20T08:14:24.654-07:00",
			      "description": "", "id": "123456789", "kind": "compute#firewall", "name": "allow-gae-builder",
			      "network": "default", "sourceRanges": ["0.0.0.0/0"]}]`,
			want: `---
allowed:
- IPProtocol: tcp
  ports:
  - '2376'
creationTimestamp: '2015-05-20T08:14:24.654-07:00'
description: ''
id: '123456789'
kind: compute#firewall
name: allow-gae-builder
network: default
sourceRanges:
- 0.0.0.0/0
`},
		{name: "firewall-projection", list: true, def: "yaml(name,network,sourceRanges,allowed)",
			in: `[{"allowed": [{"IPProtocol": "tcp", "ports": ["2376"]}], "creationTimestamp": "2015-05-20T08:14:24.654-07:00",
			      "description": "", "id": "123456789", "kind": "compute#firewall", "name": "allow-gae-builder",
			      "network": "default", "sourceRanges": ["0.0.0.0/0"]}]`,
			want: "---\nallowed:\n- IPProtocol: tcp\n  ports:\n  - '2376'\nname: allow-gae-builder\nnetwork: default\nsourceRanges:\n- 0.0.0.0/0\n"},
		{name: "unicode-lines", list: true, def: "yaml", in: `[{"prose": "python\n2\nṲᾔḯ¢◎ⅾℯ\nṧʊ¢кṧ\n"}]`,
			want: "---\nprose: |\n  python\n  2\n  Ṳᾔḯ¢◎ⅾℯ\n  ṧʊ¢кṧ\n"},
		{name: "text", def: "yaml",
			in: `{"a": "no leading or trailing space", "b": "  leading space", "c": "trailing space  ",
			      "d": "  surrounded by space  ", "e": " Leading space.\nTrailing space.  \n  Leading and Trailing.  ",
			      "f": "This is the first line.\nAnd the middle line.\nFinally at last."}`,
			want: "a: no leading or trailing space\n" +
				"b: '  leading space'\n" +
				"c: 'trailing space  '\n" +
				"d: '  surrounded by space  '\n" +
				"e: |2-\n   Leading space.\n  Trailing space.  \n    Leading and Trailing.  \n" +
				"f: |-\n  This is the first line.\n  And the middle line.\n  Finally at last.\n"},
		{name: "float", def: "yaml",
			in: `{"a": 1.0, "b": -1.0, "c": 1.00001, "d": -1.00009, "e": 1.0009, "f": -1.009, "g": 1.009, "h": -1.09,
			      "i": 1.9, "j": -1.333333333, "k": 1.666666666, "l": -12.345678, "m": 123.456789, "n": -1234.56789,
			      "o": 12345.6789, "p": -123456.789, "q": 1234567.89, "r": -12345678.9, "s": 123456789.0,
			      "t": -1234567890.1}`,
			want: "a: 1.0\nb: -1.0\nc: 1.00001\nd: -1.00009\ne: 1.0009\nf: -1.009\ng: 1.009\nh: -1.09\ni: 1.9\n" +
				"j: -1.33333\nk: 1.66667\nl: -12.3457\nm: 123.457\nn: -1234.57\no: 12345.7\np: -123456.8\n" +
				"q: 1234567.9\nr: -12345678.9\ns: 123456789.0\nt: -1.23457e+09\n"},
		// Quoting and folding, worked out from the ruamel emitter gcloud vendors.
		{name: "quoting", def: "yaml",
			in: `{"colon": "a: b", "dash": "- x", "hash": "a #b", "star": "*x", "amp": "&x", "pct": "%x",
			      "quote": "it's", "lead-quote": "'x'", "dq": "say \"hi\"", "tab": "a\tb", "int": "123",
			      "float": "1.5e3", "null": "null", "tilde": "~", "bool": "True", "yes": "yes", "date": "2019-05-01",
			      "eq": "=", "merge": "<<", "empty": "", "uni": "héllo wörld", "emoji": "🙂", "colon-end": "a:",
			      "url": "https://x/y?a=b#c", "brace": "a{b}", "question": "? x", "octal": "0o17", "hex": "0x1F",
			      "under": "_1", "dots": "...x"}`,
			want: `amp: '&x'
bool: 'True'
brace: a{b}
colon: 'a: b'
colon-end: 'a:'
dash: '- x'
date: '2019-05-01'
dots: '...x'
dq: say "hi"
emoji: 🙂
empty: ''
eq: '='
float: '1.5e3'
hash: 'a #b'
hex: '0x1F'
int: '123'
lead-quote: "'x'"
merge: '<<'
'null': 'null'
octal: '0o17'
pct: '%x'
question: '? x'
quote: it's
star: '*x'
tab: "a\tb"
tilde: '~'
under: _1
uni: héllo wörld
url: https://x/y?a=b#c
yes: yes
`},
		{name: "fold-plain-80", def: "yaml",
			in:   `{"description": "Full access to most Google Cloud resources. See the list of included permissions."}`,
			want: "description: Full access to most Google Cloud resources. See the list of included\n  permissions.\n"},
		{name: "fold-single-quoted", def: "yaml",
			in: `{"k": "  lead spaces make this a quoted scalar that is long enough to be folded by the emitter at eighty"}`,
			want: "k: '  lead spaces make this a quoted scalar that is long enough to be folded by the\n" +
				"  emitter at eighty'\n"},
		{name: "nested-lists", def: "yaml", in: `{"a": [[1, 2], [], [[3]], {"b": [4]}]}`,
			want: "a:\n- - 1\n  - 2\n- []\n- - - 3\n- b:\n  - 4\n"},
		{name: "root-scalar-list", list: true, def: "yaml", in: `["a", "b"]`, want: "---\n  a\n---\n  b\n"},
		{name: "long-key", def: "yaml",
			in:   `{"` + strings.Repeat("k", 130) + `": "v"}`,
			want: "? " + strings.Repeat("k", 130) + "\n: v\n"},
		{name: "literal-keep", def: "yaml", in: `{"a": "x\n\n"}`, want: "a: |+\n  x\n\n...\n"},
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

func TestGoldenTablePrinter(t *testing.T) {
	runGolden(t, []goldenCase{
		// From gcloud's table_printer_test.py.
		{name: "zero-index", in: instancesJSON, list: true, def: "table(name, kind, networkInterfaces[0].networkIP)",
			want: "NAME                KIND              NETWORK_IP\n" +
				"my-instance-a-0     compute#instance  10.240.150.0\n" +
				"my-instance-az-1    compute#instance  10.240.150.1\n" +
				"my-instance-azz-2   compute#instance  10.240.150.2\n" +
				"my-instance-azzz-3  compute#instance  10.240.150.3\n"},
		{name: "empty-key-default-label", in: instancesJSON, list: true, def: "table(firstof(name), firstof(kind):label=K)",
			want: "NAME                K\n" +
				"my-instance-a-0     compute#instance\n" +
				"my-instance-az-1    compute#instance\n" +
				"my-instance-azz-2   compute#instance\n" +
				"my-instance-azzz-3  compute#instance\n"},
		{name: "empty-key-alias", in: instancesJSON, list: true,
			def: "table(firstof(name), firstof(kind):label=K)\n table(NAME, K.split('#').list():label=kind)",
			want: "NAME                kind\n" +
				"my-instance-a-0     compute,instance\n" +
				"my-instance-az-1    compute,instance\n" +
				"my-instance-azz-2   compute,instance\n" +
				"my-instance-azzz-3  compute,instance\n"},
		{name: "no-heading", in: instancesJSON, list: true, def: "table[no-heading](name:label=MONIKER:sort=2, kind:sort=1)",
			want: "my-instance-a-0     compute#instance\n" +
				"my-instance-az-1    compute#instance\n" +
				"my-instance-azz-2   compute#instance\n" +
				"my-instance-azzz-3  compute#instance\n"},
		{name: "empty-heading", in: instancesJSON, list: true, def: `table(name:label="":sort=2, kind:sort=1)`,
			want: "                    KIND\n" +
				"my-instance-a-0     compute#instance\n" +
				"my-instance-az-1    compute#instance\n" +
				"my-instance-azz-2   compute#instance\n" +
				"my-instance-azzz-3  compute#instance\n"},
		{name: "empty-optional", in: instancesJSON, list: true, def: "table(name:sort=2, unknown:optional, kind:sort=1)",
			want: "NAME                KIND\n" +
				"my-instance-a-0     compute#instance\n" +
				"my-instance-az-1    compute#instance\n" +
				"my-instance-azz-2   compute#instance\n" +
				"my-instance-azzz-3  compute#instance\n"},
		{name: "labels", in: instancesJSON, list: true, def: "table(name:label=MONIKER:sort=2, kind:sort=1, networkInterfaces[0].networkIP:label=IP)",
			want: "MONIKER             KIND              IP\n" +
				"my-instance-a-0     compute#instance  10.240.150.0\n" +
				"my-instance-az-1    compute#instance  10.240.150.1\n" +
				"my-instance-azz-2   compute#instance  10.240.150.2\n" +
				"my-instance-azzz-3  compute#instance  10.240.150.3\n"},
		{name: "fixed-width-wide", in: instancesJSON, list: true, def: "table(name:width=32, kind)",
			want: "NAME                              KIND\n" +
				"my-instance-a-0                   compute#instance\n" +
				"my-instance-az-1                  compute#instance\n" +
				"my-instance-azz-2                 compute#instance\n" +
				"my-instance-azzz-3                compute#instance\n"},
		{name: "align-center", list: true, def: "table(abc:label=LEFT:align=left:width=8,      xyz:label=RIGHT:align=center:width=9)",
			in:   `[{"abc": "A", "xyz": "Z"}, {"abc": "AB", "xyz": "YZ"}, {"abc": "ABC", "xyz": "XYZ"}]`,
			want: "LEFT        RIGHT\nA             Z\nAB            YZ\nABC          XYZ\n"},
		{name: "align-right", list: true, def: "table(abc:label=LEFT:align=left:width=8,      xyz:label=RIGHT:align=right:width=8)",
			in:   `[{"abc": "A", "xyz": "Z"}, {"abc": "AB", "xyz": "YZ"}, {"abc": "ABC", "xyz": "XYZ"}]`,
			want: "LEFT         RIGHT\nA                Z\nAB              YZ\nABC            XYZ\n"},
		{name: "wrap-with-newlines", list: true, def: "table(name, description:wrap)",
			in: `[{"name": "my-instance-a-0", "description": "Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit.\nMorbi sit amet elit nulla."},
			      {"name": "my-instance-az-1", "description": "Sed at cursus risus.\nPraesent facilisis at ligula at mattis.\nVestibulum et quam et ipsum ."}]`,
			want: "NAME              DESCRIPTION\n" +
				"my-instance-a-0   Lorem ipsum dolor sit amet,\n" +
				"                  consectetur adipiscing elit.\n" +
				"                  Morbi sit amet elit nulla.\n" +
				"my-instance-az-1  Sed at cursus risus.\n" +
				"                  Praesent facilisis at ligula at mattis.\n" +
				"                  Vestibulum et quam et ipsum .\n"},
		{name: "wrap", list: true, def: "table(name, description:wrap)",
			in: `[{"name": "my-instance-a-0", "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Morbi sit amet elit nulla."},
			      {"name": "my-instance-az-1", "description": "Sed at cursus risus. Praesent facilisis at ligula at mattis. Vestibulum et quam et ipsum ."}]`,
			want: "NAME              DESCRIPTION\n" +
				"my-instance-a-0   Lorem ipsum dolor sit amet, consectetur adipiscing elit. Morbi\n" +
				"                  sit amet elit nulla.\n" +
				"my-instance-az-1  Sed at cursus risus. Praesent facilisis at ligula at mattis.\n" +
				"                  Vestibulum et quam et ipsum .\n"},
		{name: "wrap-box-ascii", list: true, def: "table[box, ascii](name, description:wrap)",
			in: `[{"name": "my-instance-a-0", "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Morbi sit amet elit nulla."},
			      {"name": "my-instance-az-1", "description": "Sed at cursus risus. Praesent facilisis at ligula at mattis. Vestibulum et quam et ipsum ."}]`,
			want: "" +
				"+------------------+-----------------------------------------------------------+\n" +
				"|       NAME       |                        DESCRIPTION                        |\n" +
				"+------------------+-----------------------------------------------------------+\n" +
				"| my-instance-a-0  | Lorem ipsum dolor sit amet, consectetur adipiscing elit.  |\n" +
				"|                  | Morbi sit amet elit nulla.                                |\n" +
				"| my-instance-az-1 | Sed at cursus risus. Praesent facilisis at ligula at      |\n" +
				"|                  | mattis. Vestibulum et quam et ipsum .                     |\n" +
				"+------------------+-----------------------------------------------------------+\n"},
		{name: "wrap-all-box-ascii-newlines", list: true, def: "table[all-box, ascii](name, description:wrap)",
			in: `[{"name": "my-instance-a-0", "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\nMorbi sit amet elit nulla."},
			      {"name": "my-instance-az-1", "description": "Sed at cursus risus. Praesent facilisis at ligula at mattis.\nVestibulum et quam et ipsum ."}]`,
			want: "" +
				"+------------------+-----------------------------------------------------------+\n" +
				"|       NAME       |                        DESCRIPTION                        |\n" +
				"+------------------+-----------------------------------------------------------+\n" +
				"| my-instance-a-0  | Lorem ipsum dolor sit amet, consectetur adipiscing elit.  |\n" +
				"|                  | Morbi sit amet elit nulla.                                |\n" +
				"+------------------+-----------------------------------------------------------+\n" +
				"| my-instance-az-1 | Sed at cursus risus. Praesent facilisis at ligula at      |\n" +
				"|                  | mattis.                                                   |\n" +
				"|                  | Vestibulum et quam et ipsum .                             |\n" +
				"+------------------+-----------------------------------------------------------+\n"},
		{name: "long-title", list: true,
			def: `table[title="Pellentesque faucibus luctus tincidunt. Class aptent taciti sociosqu ad litora torquent per conubia nostra."](name, description:wrap)`,
			in: `[{"name": "my-instance-a-0", "description": "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Morbi sit amet elit nulla."},
			      {"name": "my-instance-az-1", "description": "Sed at cursus risus. Praesent facilisis at ligula at mattis. Vestibulum et quam et ipsum ."}]`,
			want: "Pellentesque faucibus luctus tincidunt. Class aptent taciti sociosqu ad litora torquent per conubia nostra.\n" +
				"NAME              DESCRIPTION\n" +
				"my-instance-a-0   Lorem ipsum dolor sit amet, consectetur adipiscing elit. Morbi\n" +
				"                  sit amet elit nulla.\n" +
				"my-instance-az-1  Sed at cursus risus. Praesent facilisis at ligula at mattis.\n" +
				"                  Vestibulum et quam et ipsum .\n"},
		{name: "wide-characters", list: true, def: "table(name, v)",
			in:   `[{"name": "車車", "v": "x"}, {"name": "abcde", "v": "y"}]`,
			want: "NAME   V\n車車   x\nabcde  y\n"},
		{name: "cells-python-str", list: true, def: "table(name, tags, flag, n, f, missing)",
			in:   `[{"name": "a", "tags": ["x", "y's"], "flag": true, "n": 3, "f": 0.5}, {"name": "b", "tags": {"k": "v"}, "flag": false}]`,
			want: "NAME  TAGS          FLAG   N  F    MISSING\na     ['x', \"y's\"]  True   3  0.5\nb     {'k': 'v'}    False\n"},
		{name: "sort-attribute-numbers-first", list: true, def: "table(v:sort=1)",
			in:   `[{"v": "b"}, {"v": 10}, {"v": 9}, {"v": "a"}]`,
			want: "V\n9\n10\na\nb\n"},
		{name: "sort-reverse", list: true, def: "table(v:sort=1:reverse, w)",
			in:   `[{"v": 1, "w": "a"}, {"v": 2, "w": "b"}, {"v": 1, "w": "c"}]`,
			want: "V  W\n2  b\n1  a\n1  c\n"},
		{name: "labels-disambiguated", list: true, def: "table(first.name, last.name, timeZone, httpTarget.oidcToken.serviceAccountEmail)",
			in:   `[{"first": {"name": "a"}, "last": {"name": "b"}}]`,
			want: "NAME  LAST_NAME  TIME_ZONE  SERVICE_ACCOUNT_EMAIL\na     b\n"},
		{name: "projection-required", list: true, def: "table", in: `[]`,
			wantErr: "Format [table] requires a non-empty projection. Use key parameters to specify a projection like so `table(foo, bar.baz)`"},
	})
}

func TestGoldenCSVValuePrinters(t *testing.T) {
	objects := `[{"name": "B0", "quote": {"a": 0, "b": 0.1}, "id": 0},
	             {"name": "B1", "quote": {"a": 1, "b": 1.2}, "id": 1},
	             {"name": "B2", "quote": {"a": 2, "b": 2.3}, "id": 2}]`
	runGolden(t, []goldenCase{
		// From gcloud's csv_printer_test.py.
		{name: "objects", in: objects, list: true, def: "csv(name, quote, id)",
			want: "name,quote,id\nB0,a=0;b=0.1,0\nB1,a=1;b=1.2,1\nB2,a=2;b=2.3,2\n"},
		{name: "delimiter", in: objects, list: true, def: `csv[delimiter=".."](name, quote, id)`,
			want: "name,quote,id\nB0,a=0..b=0.1,0\nB1,a=1..b=1.2,1\nB2,a=2..b=2.3,2\n"},
		{name: "separator-delimiter-newline", in: objects, list: true, def: `csv[no-heading,separator="\n",delimiter="\n"](name, quote, id)`,
			want: "B0\na=0\nb=0.1\n0\nB1\na=1\nb=1.2\n1\nB2\na=2\nb=2.3\n2\n"},
		{name: "terminator", in: objects, list: true, def: `csv[no-heading,terminator="..."](name, quote, id)`,
			want: "B0,a=0;b=0.1,0...B1,a=1;b=1.2,1...B2,a=2;b=2.3,2..."},
		{name: "quoting", list: true, def: "csv(name, quote, id)",
			in: `[{"name": "Larry", "quote": "ι ∂ι∂η'т ωαηηα ѕαу уєѕ, вυт ι ¢συℓ∂η'т ѕαу ησ.", "id": 1245},
			      {"name": "Joe", "quote": "Oh, cut it ouuuuuut!", "id": ["new", 6789]},
			      {"name": "Curly Joe", "quote": "One of these days, you're gonna poke my eyes out.", "id": {"new": 890}}]`,
			want: "name,quote,id\nLarry,\"ι ∂ι∂η'т ωαηηα ѕαу уєѕ, вυт ι ¢συℓ∂η'т ѕαу ησ.\",1245\n" +
				"Joe,\"Oh, cut it ouuuuuut!\",new;6789\nCurly Joe,\"One of these days, you're gonna poke my eyes out.\",new=890\n"},
		{name: "repeated-key-transform", list: true,
			def:  "csv(selfLink.segment(1):label=left,    selfLink.segment(3):label=middle,    selfLink.segment(5):label=right)",
			in:   `[{"selfLink": "/1/2/3/4/5"}, {"selfLink": "/i/ii/iii/iv/v/vi"}, {"selfLink": "/I/II/III/IV/V/VI"}]`,
			want: "left,middle,right\n1,3,5\ni,iii,v\nI,III,V\n"},
		{name: "repeated-key-attribute", list: true, def: "csv(selfLink:label=left,    selfLink:label=right)",
			in:   `[{"selfLink": "/1/2/3/4/5"}, {"selfLink": "/i/ii/iii/iv/v/vi"}]`,
			want: "left,right\n/1/2/3/4/5,/1/2/3/4/5\n/i/ii/iii/iv/v/vi,/i/ii/iii/iv/v/vi\n"},
		{name: "none-values", list: true, def: "csv(a,n,z)",
			in:   `[{"a": null, "n": "nnn", "z": "xyz"}, {"a": "abc", "n": null, "z": "xyz"}, {"a": null, "n": null, "z": null}]`,
			want: "a,n,z\n,nnn,xyz\nabc,,xyz\n,,\n"},
		{name: "metadata-implicit", in: instancesJSON[:strings.Index(instancesJSON, "},\n {")] + "}]", list: true, def: "csv(metadata.items.a)",
			want: "a\nb\n"},
		{name: "metadata-explicit-slice", in: instancesJSON[:strings.Index(instancesJSON, "},\n {")] + "}]", list: true, def: "csv(metadata.items[].a)",
			want: "a\n;;;\n"},
		{name: "float", def: "csv(a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t)",
			in: `{"a": 1.0, "b": -1.0, "c": 1.00001, "d": -1.00009, "e": 1.0009, "f": -1.009, "g": 1.009, "h": -1.09,
			      "i": 1.9, "j": -1.333333333, "k": 1.666666666, "l": -12.345678, "m": 123.456789, "n": -1234.56789,
			      "o": 12345.6789, "p": -123456.789, "q": 1234567.89, "r": -12345678.9, "s": 123456789.0,
			      "t": -1234567890.1}`,
			want: "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t\n1.0,-1.0,1.00001,-1.00009,1.0009,-1.009,1.009,-1.09,1.9,-1.33333,1.66667," +
				"-12.3457,123.457,-1234.57,12345.7,-123456.8,1234567.9,-12345678.9,123456789.0,-1.23457e+09\n"},
		{name: "value-tabs-lists", list: true, def: "value(name, tags, meta)",
			in:   `[{"name": "a b", "tags": ["x", "", "y"], "meta": {"k": 1, "j": true}}]`,
			want: "a b\tx;;y\tj=True;k=1\n"},
		{name: "value-whole-resource", list: true, def: "value(.)", in: `["x", "y"]`, want: "x\ny\n"},
		{name: "value-quote", list: true, def: `value[quote](name)`, in: `[{"name": "a\tb"}, {"name": "c"}]`,
			want: "\"a\tb\"\nc\n"},
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
