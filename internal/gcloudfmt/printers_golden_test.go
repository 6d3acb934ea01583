package gcloudfmt

import (
	"strings"
	"testing"
)

// accountsJSON is a service-accounts list response.
const accountsJSON = `[
 {"email": "invoker@demo-project.iam.gserviceaccount.com", "displayName": "Scheduler invoker", "disabled": false,
  "uniqueId": "104729345671234567890", "keys": [{"keyType": "USER_MANAGED", "name": "k1"}, {"keyType": "SYSTEM_MANAGED", "name": "k2"}]},
 {"email": "deployer@demo-project.iam.gserviceaccount.com", "displayName": "CI deployer", "disabled": true,
  "uniqueId": "104729345671234567891", "keys": [{"keyType": "SYSTEM_MANAGED", "name": "k3"}]},
 {"email": "ci@demo-project.iam.gserviceaccount.com", "displayName": "", "disabled": false,
  "uniqueId": "104729345671234567892", "keys": [{"keyType": "USER_MANAGED", "name": "k4"}]}
]`

// functionsJSON is a functions list with prose descriptions.
const functionsJSON = `[
 {"name": "projects/demo-project/locations/us-central1/functions/hello", "runtime": "go122",
  "description": "Answers HTTP requests with a greeting. It runs on the second generation runtime and scales to zero."},
 {"name": "projects/demo-project/locations/europe-west1/functions/nightly-report", "runtime": "python312",
  "description": "Builds the nightly report from the billing export. Triggered by Cloud Scheduler at three in the morning."}
]`

const functionsNewlinesJSON = `[
 {"name": "projects/demo-project/locations/us-central1/functions/hello", "runtime": "go122",
  "description": "Answers HTTP requests with a greeting.\nRuns on the second generation runtime.\nScales to zero."},
 {"name": "projects/demo-project/locations/europe-west1/functions/nightly-report", "runtime": "python312",
  "description": "Builds the nightly report from the billing export and mails it.\nTriggered by Cloud Scheduler."}
]`

func TestGoldenYAMLPrinter(t *testing.T) {
	env := `[{"labels": {}, "environmentVariables": {"LOG_LEVEL": "debug", "DRY_RUN": "1"}}]`
	runGolden(t, []goldenCase{
		{name: "single-sorted-keys", def: "yaml", in: `{"timeoutSeconds": 60, "state": "ACTIVE", "environment": "GEN_2"}`,
			want: "" +
				"environment: GEN_2\n" +
				"state: ACTIVE\n" +
				"timeoutSeconds: 60\n"},
		{name: "list-documents", list: true, def: "yaml", in: `[{"state": "ACTIVE", "timeoutSeconds": 60}, {"state": "FAILED"}]`,
			want: "" +
				"---\n" +
				"state: ACTIVE\n" +
				"timeoutSeconds: 60\n" +
				"---\n" +
				"state: FAILED\n"},
		{name: "projection", list: true, def: "yaml(state, environment)", in: `[{"timeoutSeconds": 60, "state": "ACTIVE", "environment": "GEN_2"}]`,
			want: "" +
				"---\n" +
				"environment: GEN_2\n" +
				"state: ACTIVE\n"},
		{name: "empty-dict", in: env, list: true, def: "yaml", want: "" +
			"---\n" +
			"environmentVariables:\n" +
			"  DRY_RUN: '1'\n" +
			"  LOG_LEVEL: debug\n" +
			"labels: {}\n"},
		{name: "empty-dict-projection", in: env, list: true, def: "yaml(labels, environmentVariables)", want: "" +
			"---\n" +
			"environmentVariables:\n" +
			"  DRY_RUN: '1'\n" +
			"  LOG_LEVEL: debug\n" +
			"labels: {}\n"},
		{name: "empty-list", in: `[{"members": []}]`, list: true, def: "yaml", want: "" +
			"---\n" +
			"members: []\n"},
		{name: "empty-and-full-lists", in: `[{"members": [], "roles": ["roles/owner", "roles/viewer"]}]`, list: true, def: "yaml", want: "" +
			"---\n" +
			"members: []\n" +
			"roles:\n" +
			"- roles/owner\n" +
			"- roles/viewer\n"},
		{name: "empty-record-dict", in: `[{}]`, list: true, def: "yaml", want: "--- {}\n"},
		{name: "empty-record-list", in: `[[]]`, list: true, def: "yaml", want: "--- []\n"},
		{name: "null", in: `[{"condition": null, "members": ["user:ana@example.com"]}]`, list: true, def: "yaml", want: "" +
			"---\n" +
			"condition: null\n" +
			"members:\n" +
			"- user:ana@example.com\n"},
		{name: "null-no-undefined", in: `[{"condition": null}]`, list: true, def: "yaml[no-undefined]", want: "" +
			"---\n" +
			"  null\n"},
		{name: "null-no-undefined-projection", in: `[{"condition": null}]`, list: true, def: "yaml[no-undefined](condition)", want: "" +
			"---\n" +
			"condition: null\n"},
		{name: "null-string", in: `[{"condition": null, "members": ["user:ana@example.com"]}]`, list: true, def: `yaml[null="<none>"]`, want: "" +
			"---\n" +
			"condition: <none>\n" +
			"members:\n" +
			"- user:ana@example.com\n"},
		{name: "null-string-no-undefined", in: `[{"condition": null}]`, list: true, def: `yaml[no-undefined,null="<none>"]`, want: "" +
			"---\n" +
			"  <none>\n"},
		// YAML 1.2: only true/false spellings are booleans; yes/no/on/off/y/n stay plain.
		{name: "boolean-words", def: "yaml", in: `{"answers": ["true", "False", "TRUE", "yes", "No", "on", "OFF", "y", "n", "maybe"]}`, want: "" +
			"answers:\n" +
			"- 'true'\n" +
			"- 'False'\n" +
			"- 'TRUE'\n" +
			"- yes\n" +
			"- No\n" +
			"- on\n" +
			"- OFF\n" +
			"- y\n" +
			"- n\n" +
			"- maybe\n"},
		// A function as the v2 API returns it: numeric strings, timestamps and
		// the empty string are quoted; durations, URLs and e-mails are not.
		{name: "function-describe", def: "yaml", in: `{
		  "name": "projects/demo-project/locations/us-central1/functions/hello", "description": "",
		  "state": "ACTIVE", "environment": "GEN_2", "updateTime": "2024-05-01T09:30:00.123456789Z",
		  "buildConfig": {"runtime": "go122", "entryPoint": "Hello", "dockerRepository": "projects/demo-project/locations/us-central1/repositories/gcf-artifacts"},
		  "serviceConfig": {"availableMemory": "256M", "timeoutSeconds": 60, "maxInstanceCount": 100, "port": "8080", "revision": "hello-00003-kid",
		    "serviceAccountEmail": "123456789012-compute@developer.gserviceaccount.com", "uri": "https://hello-abc123-uc.a.run.app",
		    "ingressSettings": "ALLOW_ALL", "allTrafficOnLatestRevision": true},
		  "labels": {"deployment-tool": "cli-oidcron"}, "url": "https://us-central1-demo-project.cloudfunctions.net/hello"}`,
			want: "" +
				"buildConfig:\n" +
				"  dockerRepository: projects/demo-project/locations/us-central1/repositories/gcf-artifacts\n" +
				"  entryPoint: Hello\n" +
				"  runtime: go122\n" +
				"description: ''\n" +
				"environment: GEN_2\n" +
				"labels:\n" +
				"  deployment-tool: cli-oidcron\n" +
				"name: projects/demo-project/locations/us-central1/functions/hello\n" +
				"serviceConfig:\n" +
				"  allTrafficOnLatestRevision: true\n" +
				"  availableMemory: 256M\n" +
				"  ingressSettings: ALLOW_ALL\n" +
				"  maxInstanceCount: 100\n" +
				"  port: '8080'\n" +
				"  revision: hello-00003-kid\n" +
				"  serviceAccountEmail: 123456789012-compute@developer.gserviceaccount.com\n" +
				"  timeoutSeconds: 60\n" +
				"  uri: https://hello-abc123-uc.a.run.app\n" +
				"state: ACTIVE\n" +
				"updateTime: '2024-05-01T09:30:00.123456789Z'\n" +
				"url: https://us-central1-demo-project.cloudfunctions.net/hello\n"},
		{name: "function-describe-projection", def: "yaml(name, serviceConfig.port, labels)", in: `{
		  "name": "projects/demo-project/locations/us-central1/functions/hello", "description": "",
		  "serviceConfig": {"availableMemory": "256M", "port": "8080"}, "labels": {"deployment-tool": "cli-oidcron"}}`,
			want: "" +
				"labels:\n" +
				"  deployment-tool: cli-oidcron\n" +
				"name: projects/demo-project/locations/us-central1/functions/hello\n" +
				"serviceConfig:\n" +
				"  port: '8080'\n"},
		{name: "unicode-literal-block", list: true, def: "yaml", in: `[{"greeting": "Grüße\nこんにちは\nçà va\n"}]`, want: "" +
			"---\n" +
			"greeting: |\n" +
			"  Grüße\n" +
			"  こんにちは\n" +
			"  çà va\n"},
		{name: "leading-and-trailing-spaces", def: "yaml",
			in: `{"plain": "runs nightly", "lead": "   indented", "trail": "ends with a space ", "both": " padded ",
			      "block": "  first line indented\nsecond line  \n third", "lines": "one\ntwo\nthree"}`,
			want: "" +
				"block: |2-\n" +
				"    first line indented\n" +
				"  second line  \n" +
				"   third\n" +
				"both: ' padded '\n" +
				"lead: '   indented'\n" +
				"lines: |-\n" +
				"  one\n" +
				"  two\n" +
				"  three\n" +
				"plain: runs nightly\n" +
				"trail: 'ends with a space '\n"},
		// Floats print with 6 significant digits, in fixed notation below 1e9.
		{name: "floats", def: "yaml",
			in: `{"a": 2.0, "b": -3.0, "c": 0.1, "d": 1.23456789, "e": -0.000012345, "f": 12.5, "g": 123456.789, "h": 1234567.891,
			      "i": -98765432.1, "j": 123456789.0, "k": 1234567890.5, "l": 0.333333333, "m": 99999.95, "n": 5e-324}`,
			want: "" +
				"a: 2.0\n" +
				"b: -3.0\n" +
				"c: 0.1\n" +
				"d: 1.23457\n" +
				"e: -1.2345e-05\n" +
				"f: 12.5\n" +
				"g: 123456.8\n" +
				"h: 1234567.9\n" +
				"i: -98765432.1\n" +
				"j: 123456789.0\n" +
				"k: 1.23457e+09\n" +
				"l: 0.333333\n" +
				"m: 99999.9\n" +
				"n: 4.94066e-324\n"},
		{name: "quoting", def: "yaml",
			in: `{"colon": "a: b", "dash": "- x", "hash": "a #b", "star": "*x", "amp": "&x", "pct": "%x",
			      "quote": "it's", "lead-quote": "'x'", "dq": "say \"hi\"", "tab": "a\tb", "int": "123",
			      "float": "1.5e3", "null": "null", "tilde": "~", "bool": "True", "yes": "yes", "date": "2019-05-01",
			      "eq": "=", "merge": "<<", "empty": "", "uni": "héllo wörld", "emoji": "🙂", "colon-end": "a:",
			      "url": "https://x/y?a=b#c", "brace": "a{b}", "question": "? x", "octal": "0o17", "hex": "0x1F",
			      "under": "_1", "dots": "...x", "cron": "*/5 * * * *"}`,
			want: "" +
				"amp: '&x'\n" +
				"bool: 'True'\n" +
				"brace: a{b}\n" +
				"colon: 'a: b'\n" +
				"colon-end: 'a:'\n" +
				"cron: '*/5 * * * *'\n" +
				"dash: '- x'\n" +
				"date: '2019-05-01'\n" +
				"dots: '...x'\n" +
				"dq: say \"hi\"\n" +
				"emoji: 🙂\n" +
				"empty: ''\n" +
				"eq: '='\n" +
				"float: '1.5e3'\n" +
				"hash: 'a #b'\n" +
				"hex: '0x1F'\n" +
				"int: '123'\n" +
				"lead-quote: \"'x'\"\n" +
				"merge: '<<'\n" +
				"'null': 'null'\n" +
				"octal: '0o17'\n" +
				"pct: '%x'\n" +
				"question: '? x'\n" +
				"quote: it's\n" +
				"star: '*x'\n" +
				"tab: \"a\\tb\"\n" +
				"tilde: '~'\n" +
				"under: _1\n" +
				"uni: héllo wörld\n" +
				"url: https://x/y?a=b#c\n" +
				"yes: yes\n"},
		{name: "fold-plain-80", def: "yaml",
			in:   `{"description": "Full access to most Google Cloud resources. See the list of included permissions."}`,
			want: "description: Full access to most Google Cloud resources. See the list of included\n  permissions.\n"},
		{name: "fold-single-quoted", def: "yaml",
			in: `{"k": "  lead spaces make this a quoted scalar that is long enough to be folded by the emitter at eighty"}`,
			want: "" +
				"k: '  lead spaces make this a quoted scalar that is long enough to be folded by the\n" +
				"  emitter at eighty'\n"},
		{name: "fold-double-quoted", def: "yaml",
			in: `{"k": "'quoted' at the start makes this double-quoted, and it is long enough to be folded at eighty"}`,
			want: "" +
				"k: \"'quoted' at the start makes this double-quoted, and it is long enough to be folded\\\n" +
				"  \\ at eighty\"\n"},
		{name: "nested-lists", def: "yaml", in: `{"a": [[1, 2], [], [[3]], {"b": [4]}]}`,
			want: "a:\n- - 1\n  - 2\n- []\n- - - 3\n- b:\n  - 4\n"},
		{name: "root-scalar-list", list: true, def: "yaml", in: `["a", "b"]`, want: "---\n  a\n---\n  b\n"},
		{name: "long-key", def: "yaml",
			in:   `{"` + strings.Repeat("k", 130) + `": "v"}`,
			want: "? " + strings.Repeat("k", 130) + "\n: v\n"},
		{name: "literal-keep", def: "yaml", in: `{"a": "x\n\n"}`, want: "a: |+\n  x\n\n...\n"},
	})
}

func TestGoldenTablePrinter(t *testing.T) {
	short := `[{"fn": "hello", "rt": "go"}, {"fn": "report", "rt": "py3"}, {"fn": "cleanup", "rt": "node"}]`
	runGolden(t, []goldenCase{
		{name: "list-index", in: accountsJSON, list: true, def: "table(email, disabled, keys[0].keyType)", want: "" +
			"EMAIL                                          DISABLED  KEY_TYPE\n" +
			"invoker@demo-project.iam.gserviceaccount.com   False     USER_MANAGED\n" +
			"deployer@demo-project.iam.gserviceaccount.com  True      SYSTEM_MANAGED\n" +
			"ci@demo-project.iam.gserviceaccount.com        False     USER_MANAGED\n"},
		{name: "call-without-key-label", in: accountsJSON, list: true, def: "table(firstof(displayName, email), firstof(uniqueId):label=ID)", want: "" +
			"EMAIL              ID\n" +
			"Scheduler invoker  104729345671234567890\n" +
			"CI deployer        104729345671234567891\n" +
			"                   104729345671234567892\n"},
		{name: "labels-are-aliases", in: accountsJSON, list: true,
			def: "table(firstof(email):label=ACCOUNT, disabled)\n table(ACCOUNT.split('@').list():label=parts, disabled)",
			want: "" +
				"parts                                          DISABLED\n" +
				"invoker,demo-project.iam.gserviceaccount.com   False\n" +
				"deployer,demo-project.iam.gserviceaccount.com  True\n" +
				"ci,demo-project.iam.gserviceaccount.com        False\n"},
		{name: "no-heading-sorted", in: accountsJSON, list: true, def: "table[no-heading](email:label=ACCOUNT:sort=2, disabled:sort=1)", want: "" +
			"ci@demo-project.iam.gserviceaccount.com        False\n" +
			"invoker@demo-project.iam.gserviceaccount.com   False\n" +
			"deployer@demo-project.iam.gserviceaccount.com  True\n"},
		{name: "empty-label", in: accountsJSON, list: true, def: `table(email:label="":sort=2, disabled:sort=1)`, want: "" +
			"                                               DISABLED\n" +
			"ci@demo-project.iam.gserviceaccount.com        False\n" +
			"invoker@demo-project.iam.gserviceaccount.com   False\n" +
			"deployer@demo-project.iam.gserviceaccount.com  True\n"},
		{name: "optional-without-data", in: accountsJSON, list: true, def: "table(email, description:optional, disabled)", want: "" +
			"EMAIL                                          DISABLED\n" +
			"invoker@demo-project.iam.gserviceaccount.com   False\n" +
			"deployer@demo-project.iam.gserviceaccount.com  True\n" +
			"ci@demo-project.iam.gserviceaccount.com        False\n"},
		{name: "optional-with-data", in: accountsJSON, list: true, def: "table(email, displayName:optional)", want: "" +
			"EMAIL                                          DISPLAY_NAME\n" +
			"invoker@demo-project.iam.gserviceaccount.com   Scheduler invoker\n" +
			"deployer@demo-project.iam.gserviceaccount.com  CI deployer\n" +
			"ci@demo-project.iam.gserviceaccount.com\n"},
		{name: "explicit-labels", in: accountsJSON, list: true, def: "table(email:label=ACCOUNT:sort=2, disabled:sort=1, keys[0].keyType:label=KEY)", want: "" +
			"ACCOUNT                                        DISABLED  KEY\n" +
			"ci@demo-project.iam.gserviceaccount.com        False     USER_MANAGED\n" +
			"invoker@demo-project.iam.gserviceaccount.com   False     USER_MANAGED\n" +
			"deployer@demo-project.iam.gserviceaccount.com  True      SYSTEM_MANAGED\n"},
		{name: "fixed-width", in: accountsJSON, list: true, def: "table(displayName:width=24, disabled)", want: "" +
			"DISPLAY_NAME              DISABLED\n" +
			"Scheduler invoker         False\n" +
			"CI deployer               True\n" +
			"                          False\n"},
		{name: "pad", in: accountsJSON, list: true, def: "table[pad=4](displayName, disabled)", want: "" +
			"DISPLAY_NAME         DISABLED\n" +
			"Scheduler invoker    False\n" +
			"CI deployer          True\n" +
			"                     False\n"},
		{name: "align-center", in: short, list: true, def: "table(fn:label=FN:align=left:width=8, rt:label=RUNTIME:align=center:width=9)", want: "" +
			"FN         RUNTIME\n" +
			"hello         go\n" +
			"report       py3\n" +
			"cleanup      node\n"},
		{name: "align-right", in: short, list: true, def: "table(fn:label=FN:align=left:width=8, rt:label=RUNTIME:align=right:width=9)", want: "" +
			"FN          RUNTIME\n" +
			"hello            go\n" +
			"report          py3\n" +
			"cleanup        node\n"},
		{name: "wrap", in: functionsJSON, list: true, def: "table(name.basename(), description:wrap)", want: "" +
			"NAME            DESCRIPTION\n" +
			"hello           Answers HTTP requests with a greeting. It runs on the second\n" +
			"                generation runtime and scales to zero.\n" +
			"nightly-report  Builds the nightly report from the billing export. Triggered by\n" +
			"                Cloud Scheduler at three in the morning.\n"},
		{name: "wrap-newlines", in: functionsNewlinesJSON, list: true, def: "table(name.basename(), description:wrap)", want: "" +
			"NAME            DESCRIPTION\n" +
			"hello           Answers HTTP requests with a greeting.\n" +
			"                Runs on the second generation runtime.\n" +
			"                Scales to zero.\n" +
			"nightly-report  Builds the nightly report from the billing export and mails it.\n" +
			"                Triggered by Cloud Scheduler.\n"},
		{name: "wrap-min-width", in: functionsJSON, list: true, def: "table(name, description:wrap=30)", want: "" +
			"NAME                                                                   DESCRIPTION\n" +
			"projects/demo-project/locations/us-central1/functions/hello            Answers HTTP requests with a\n" +
			"                                                                       greeting. It runs on the\n" +
			"                                                                       second generation runtime and\n" +
			"                                                                       scales to zero.\n" +
			"projects/demo-project/locations/europe-west1/functions/nightly-report  Builds the nightly report from\n" +
			"                                                                       the billing export. Triggered\n" +
			"                                                                       by Cloud Scheduler at three in\n" +
			"                                                                       the morning.\n"},
		{name: "wrap-terminal-width", in: functionsJSON, list: true, def: "table(name.basename(), description:wrap)", opts: Options{TermWidth: 50}, want: "" +
			"NAME            DESCRIPTION\n" +
			"hello           Answers HTTP requests with a\n" +
			"                greeting. It runs on the second\n" +
			"                generation runtime and scales to\n" +
			"                zero.\n" +
			"nightly-report  Builds the nightly report from the\n" +
			"                billing export. Triggered by Cloud\n" +
			"                Scheduler at three in the morning.\n"},
		{name: "box-unicode", in: accountsJSON, list: true, def: "table[box](displayName, disabled)", want: "" +
			"┌───────────────────┬──────────┐\n" +
			"│    DISPLAY_NAME   │ DISABLED │\n" +
			"├───────────────────┼──────────┤\n" +
			"│ Scheduler invoker │ False    │\n" +
			"│ CI deployer       │ True     │\n" +
			"│                   │ False    │\n" +
			"└───────────────────┴──────────┘\n"},
		{name: "box-ascii-wrap", in: functionsJSON, list: true, def: "table[box,ascii](name.basename(), description:wrap)", want: "" +
			"+----------------+-------------------------------------------------------------+\n" +
			"|      NAME      |                         DESCRIPTION                         |\n" +
			"+----------------+-------------------------------------------------------------+\n" +
			"| hello          | Answers HTTP requests with a greeting. It runs on the       |\n" +
			"|                | second generation runtime and scales to zero.               |\n" +
			"| nightly-report | Builds the nightly report from the billing export.          |\n" +
			"|                | Triggered by Cloud Scheduler at three in the morning.       |\n" +
			"+----------------+-------------------------------------------------------------+\n"},
		{name: "all-box-ascii-wrap-newlines", in: functionsNewlinesJSON, list: true, def: "table[all-box,ascii](name.basename(), description:wrap)", want: "" +
			"+----------------+-------------------------------------------------------------+\n" +
			"|      NAME      |                         DESCRIPTION                         |\n" +
			"+----------------+-------------------------------------------------------------+\n" +
			"| hello          | Answers HTTP requests with a greeting.                      |\n" +
			"|                | Runs on the second generation runtime.                      |\n" +
			"|                | Scales to zero.                                             |\n" +
			"+----------------+-------------------------------------------------------------+\n" +
			"| nightly-report | Builds the nightly report from the billing export and mails |\n" +
			"|                | it.                                                         |\n" +
			"|                | Triggered by Cloud Scheduler.                               |\n" +
			"+----------------+-------------------------------------------------------------+\n"},
		{name: "box-title", in: accountsJSON, list: true, def: `table[box,title="Service accounts"](email, disabled)`, want: "" +
			"┌──────────────────────────────────────────────────────────┐\n" +
			"│                     Service accounts                     │\n" +
			"├───────────────────────────────────────────────┬──────────┤\n" +
			"│                     EMAIL                     │ DISABLED │\n" +
			"├───────────────────────────────────────────────┼──────────┤\n" +
			"│ invoker@demo-project.iam.gserviceaccount.com  │ False    │\n" +
			"│ deployer@demo-project.iam.gserviceaccount.com │ True     │\n" +
			"│ ci@demo-project.iam.gserviceaccount.com       │ False    │\n" +
			"└───────────────────────────────────────────────┴──────────┘\n"},
		{name: "title-wider-than-table", in: short, list: true, def: `table[title="Functions deployed by the nightly pipeline"](fn, rt)`, want: "" +
			"       Functions deployed by the nightly pipeline\n" +
			"FN                            RT\n" +
			"hello                         go\n" +
			"report                        py3\n" +
			"cleanup                       node\n"},
		{name: "long-title-with-wrap", in: functionsJSON, list: true,
			def: `table[title="Functions of demo-project, with their descriptions as the Cloud Functions API reports them today"](name.basename(), description:wrap)`,
			want: "" +
				"Functions of demo-project, with their descriptions as the Cloud Functions API reports them today\n" +
				"NAME            DESCRIPTION\n" +
				"hello           Answers HTTP requests with a greeting. It runs on the second\n" +
				"                generation runtime and scales to zero.\n" +
				"nightly-report  Builds the nightly report from the billing export. Triggered by\n" +
				"                Cloud Scheduler at three in the morning.\n"},
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
	fns := `[{"name": "hello", "limits": {"cpu": 1, "memory": 0.25}, "maxInstances": 3},
	         {"name": "report", "limits": {"cpu": 2, "memory": 1.5}, "maxInstances": 10},
	         {"name": "cleanup", "limits": {"cpu": 0.5, "memory": 0.125}, "maxInstances": 1}]`
	meta := `[{"name": "vm", "metadata": {"items": [{"key": "env", "value": "prod"}, {"key": "team", "value": "data"}, {"key": "tier", "value": "gold"}]}}]`
	runGolden(t, []goldenCase{
		{name: "dict-cells", in: fns, list: true, def: "csv(name, limits, maxInstances)", want: "" +
			"name,limits,max_instances\n" +
			"hello,cpu=1;memory=0.25,3\n" +
			"report,cpu=2;memory=1.5,10\n" +
			"cleanup,cpu=0.5;memory=0.125,1\n"},
		{name: "delimiter", in: fns, list: true, def: `csv[delimiter=" & "](name, limits, maxInstances)`, want: "" +
			"name,limits,max_instances\n" +
			"hello,cpu=1 & memory=0.25,3\n" +
			"report,cpu=2 & memory=1.5,10\n" +
			"cleanup,cpu=0.5 & memory=0.125,1\n"},
		{name: "separator-delimiter-newline", in: fns, list: true, def: `csv[no-heading,separator="\n",delimiter="\n"](name, limits, maxInstances)`, want: "" +
			"hello\n" +
			"cpu=1\n" +
			"memory=0.25\n" +
			"3\n" +
			"report\n" +
			"cpu=2\n" +
			"memory=1.5\n" +
			"10\n" +
			"cleanup\n" +
			"cpu=0.5\n" +
			"memory=0.125\n" +
			"1\n"},
		{name: "terminator", in: fns, list: true, def: `csv[no-heading,terminator=" | "](name, limits, maxInstances)`, want: "hello,cpu=1;memory=0.25,3 | report,cpu=2;memory=1.5,10 | cleanup,cpu=0.5;memory=0.125,1 | "},
		{name: "no-quote", list: true, def: "csv[no-quote](name, description)",
			in: `[{"name": "hello", "description": "Says \"hello\", politely"}]`, want: "" +
				"name,description\n" +
				"hello,Says \"hello\", politely\n"},
		{name: "quoting", list: true, def: "csv(name, description, tags)",
			in: `[{"name": "hello", "description": "Says \"hello\", politely", "tags": ["http", "gen2"]},
			      {"name": "grüße", "description": "Grüßt auf Deutsch; höflich", "tags": {"lang": "de"}},
			      {"name": " padded", "description": "plain text", "tags": 7}]`,
			want: "" +
				"name,description,tags\n" +
				"hello,\"Says \"\"hello\"\", politely\",http;gen2\n" +
				"grüße,\"Grüßt auf Deutsch; höflich\",lang=de\n" +
				"\" padded\",plain text,7\n"},
		{name: "same-key-twice-with-transforms", list: true,
			def: "csv(name.segment(1):label=project, name.segment(3):label=location, name.segment(5):label=function)",
			in:  functionsJSON,
			want: "" +
				"project,location,function\n" +
				"demo-project,us-central1,hello\n" +
				"demo-project,europe-west1,nightly-report\n"},
		{name: "same-key-twice-with-labels", list: true, def: "csv(name:label=full, name:label=again)",
			in: `[{"name": "projects/p/locations/l/functions/f"}]`, want: "" +
				"full,again\n" +
				"projects/p/locations/l/functions/f,projects/p/locations/l/functions/f\n"},
		{name: "null-cells", list: true, def: "csv(email, displayName, description)",
			in: `[{"email": null, "displayName": "CI", "description": "deploys"}, {"email": "a@b", "displayName": null, "description": "x"}, {"email": null, "displayName": null, "description": null}]`,
			want: "" +
				"email,display_name,description\n" +
				",CI,deploys\n" +
				"a@b,,x\n" +
				",,\n"},
		{name: "metadata-lookup", in: meta, list: true, def: "csv(metadata.items.team, metadata.items.env)", want: "" +
			"team,env\n" +
			"data,prod\n"},
		{name: "metadata-explicit-slice", in: meta, list: true, def: "csv(metadata.items[].team)", want: "" +
			"team\n" +
			";;\n"},
		{name: "floats", def: "csv(a,b,c,d,e,f,g,h,i,j)",
			in: `{"a": 2.0, "b": -3.0, "c": 0.1, "d": 1.23456789, "e": -0.000012345, "f": 12.5, "g": 123456.789, "h": 1234567.891, "i": 123456789.0, "j": 1234567890.5}`,
			want: "" +
				"a,b,c,d,e,f,g,h,i,j\n" +
				"2.0,-3.0,0.1,1.23457,-1.2345e-05,12.5,123456.8,1234567.9,123456789.0,1.23457e+09\n"},
		{name: "value-tabs-lists", list: true, def: "value(name, tags, meta)",
			in:   `[{"name": "a b", "tags": ["x", "", "y"], "meta": {"k": 1, "j": true}}]`,
			want: "a b\tx;;y\tj=True;k=1\n"},
		{name: "value-whole-resource", list: true, def: "value(.)", in: `["x", "y"]`, want: "x\ny\n"},
		{name: "value-quote", list: true, def: `value[quote](name)`, in: `[{"name": "a\tb"}, {"name": "c"}]`,
			want: "\"a\tb\"\nc\n"},
		{name: "value-separator", in: accountsJSON, list: true, def: `value[separator=" | "](email, disabled)`, want: "" +
			"invoker@demo-project.iam.gserviceaccount.com | False\n" +
			"deployer@demo-project.iam.gserviceaccount.com | True\n" +
			"ci@demo-project.iam.gserviceaccount.com | False\n"},
	})
}

func TestGoldenFlattenedPrinter(t *testing.T) {
	runGolden(t, []goldenCase{
		{name: "leaves-aligned", in: `{"name": "hello", "serviceConfig": {"timeoutSeconds": 60, "env": {}}, "tags": ["a", "b"], "none": [], "ratio": 0.5}`,
			def: "flattened", want: "" +
				"name:                         hello\n" +
				"none:                         []\n" +
				"ratio:                        0.5\n" +
				"serviceConfig.env:            {}\n" +
				"serviceConfig.timeoutSeconds: 60\n" +
				"tags[0]:                      a\n" +
				"tags[1]:                      b\n"},
		{name: "list-separator-no-pad", list: true, in: `[{"name": "hello", "note": " spaced", "multi": "a\nb"}, {"name": "bye"}]`,
			def: `flattened[no-pad,separator=" = "]`, want: "" +
				"---\n" +
				"multi = \"a\\n" +
				"b\"\n" +
				"name = hello\n" +
				"note = \" spaced\"\n" +
				"---\n" +
				"name = bye\n"},
		{name: "labels-as-keys", list: true, in: `[{"name": "projects/p/locations/l/functions/f", "state": "ACTIVE"}]`,
			def: `text(name.basename():label=ID, state)`, want: "" +
				"---\n" +
				"id:    f\n" +
				"state: ACTIVE\n"},
	})
}
