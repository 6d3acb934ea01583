package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcron/oidcron/internal/doctor"
)

// Reference §7.2: `gcloud projects add-iam-policy-binding PROJECT
// --member=PRINCIPAL --role=ROLE [--condition=KEY=VALUE,…|None |
// --condition-from-file=PATH]`. `--condition=None` (what scripts pass so
// that gcloud never prompts) must be accepted and add an unconditional
// binding.
func TestProjectsAddBindingConditionNone(t *testing.T) {
	e := start(t)
	e.ok("projects", "describe", "demo-project") // created in dev mode
	r := e.run("", "projects", "add-iam-policy-binding", "demo-project",
		"--member=user:alice@example.com", "--role=roles/viewer", "--condition=None")
	if r.code != nil {
		t.Fatalf("add-iam-policy-binding --condition=None: %v", r.code)
	}
	if !strings.Contains(r.out, "  - user:alice@example.com\n  role: roles/viewer\n") {
		t.Errorf("policy printed:\n%s", r.out)
	}
}

// --condition=KEY=VALUE,... and --condition-from-file (a path, or - for
// standard input) add (and remove) a
// conditional binding (of a role that is not basic: gcloud refuses a
// condition on those); the policy is written as version 3.
func TestProjectsBindingWithCondition(t *testing.T) {
	e := start(t)
	e.ok("projects", "describe", "demo-project")
	r := e.run("", "projects", "add-iam-policy-binding", "demo-project", "--member=user:carol@example.com", "--role=roles/cloudscheduler.viewer",
		"--condition=^;^expression=request.time < timestamp('2030-01-01T00:00:00Z');title=until 2030;description=a, b")
	if r.code != nil {
		t.Fatalf("add with --condition: %v", r.code)
	}
	for _, want := range []string{"    expression: request.time < timestamp('2030-01-01T00:00:00Z')\n", "    title: until 2030\n", "    description: a, b\n", "version: 3\n"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("policy printed without %q:\n%s", want, r.out)
		}
	}
	file := filepath.Join(t.TempDir(), "cond.yaml")
	yml := "expression: request.time < timestamp('2030-01-01T00:00:00Z')\ntitle: until 2030\ndescription: a, b\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.run("", "projects", "remove-iam-policy-binding", "demo-project", "--member=user:carol@example.com", "--role=roles/cloudscheduler.viewer",
		"--condition-from-file="+file)
	if r.code != nil || strings.Contains(r.out, "carol") {
		t.Fatalf("remove with --condition-from-file: %v\n%s", r.code, r.out)
	}
	// "-" reads the condition from standard input.
	r = e.run(yml, "projects", "add-iam-policy-binding", "demo-project", "--member=user:carol@example.com", "--role=roles/cloudscheduler.viewer",
		"--condition-from-file=-")
	if r.code != nil || !strings.Contains(r.out, "    title: until 2030\n") {
		t.Fatalf("add with --condition-from-file=-: %v\n%s", r.code, r.out)
	}
	r = e.run("", "projects", "add-iam-policy-binding", "demo-project", "--member=user:carol@example.com", "--role=roles/cloudscheduler.viewer",
		"--condition=expression=true")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "Invalid value for [condition]: condition must be either `None` or a list of key=value pairs.") {
		t.Fatalf("a condition without a title: %v", r.code)
	}
}

// etagWithSlashOrPlus adds bindings until the project's etag holds a
// character that standard and URL-safe base64 spell differently, and
// returns it in the standard alphabet (the API's). It reads it through the
// CLI, which prints it URL-safe.
func etagWithSlashOrPlus(t *testing.T, e *env) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		etag := iamJSON(t, e.ok("projects", "get-iam-policy", "demo-project", "--format=json"))["etag"].(string)
		if strings.ContainsAny(etag, "+/") {
			t.Fatalf("the CLI printed etag %q in the standard alphabet; gcloud prints it URL-safe", etag)
		}
		if strings.ContainsAny(etag, "-_") {
			return strings.NewReplacer("-", "+", "_", "/").Replace(etag)
		}
		e.ok("projects", "add-iam-policy-binding", "demo-project", "--member=user:u"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+"@example.com", "--role=roles/viewer")
	}
	t.Fatal("no etag with + or / in 200 policy changes")
	return ""
}

// gcloud prints bytes fields (Policy.etag, HttpTarget.body) in URL-safe
// base64 (apitools' encoding; observed with gcloud 528 against this
// server: `etag: B9LtR4rYO_s=` where oidcron prints `B9LtR4rYO/s=`).
func TestGetIamPolicyEtagAsGcloudPrintsIt(t *testing.T) {
	e := start(t)
	etag := etagWithSlashOrPlus(t, e)
	want := strings.NewReplacer("+", "-", "/", "_").Replace(etag)
	got := strings.TrimSpace(e.ok("projects", "get-iam-policy", "demo-project", "--format=value(etag)"))
	if got != want {
		t.Errorf("etag printed %q, gcloud prints %q", got, want)
	}
}

// The file `gcloud projects get-iam-policy P > policy.yaml` writes carries
// the etag in URL-safe base64; `set-iam-policy P policy.yaml` must take it
// (the server does: proto3 JSON accepts both alphabets).
func TestSetIamPolicyTakesGcloudsEtag(t *testing.T) {
	e := start(t)
	etag := etagWithSlashOrPlus(t, e)
	yml := e.ok("projects", "get-iam-policy", "demo-project")
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(etag)
	yml = strings.Replace(yml, "etag: "+etag+"\n", "etag: "+urlSafe+"\n", 1)
	if !strings.Contains(yml, "etag: "+urlSafe+"\n") {
		t.Fatalf("no etag line in:\n%s", yml)
	}
	file := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("", "projects", "set-iam-policy", "demo-project", file); r.code != nil {
		t.Fatalf("set-iam-policy with gcloud's etag %q: %v", urlSafe, r.code)
	}
}

// gcloud 528 prints a job's body as `body: Pj4-Pw==` for --message-body
// '>>>?' (observed against this server); oidcron prints `Pj4+Pw==`.
func TestDescribeBodyAsGcloudPrintsIt(t *testing.T) {
	e := startSched(t)
	e.ok("scheduler", "jobs", "create", "http", "j", "--location", "us-central1", "--schedule", "* * * * *",
		"--uri", schedFnURL, "--message-body", ">>>?")
	r := e.ok("scheduler", "jobs", "describe", "j", "--location", "us-central1")
	if !strings.Contains(r.out, "  body: Pj4-Pw==\n") {
		t.Errorf("describe prints the body unlike gcloud (want `body: Pj4-Pw==`):\n%s", r.out)
	}
}

// The doctor's contract (package doctor): "A FAIL or WARN carries the
// commands that fix it". On a 2nd gen function, the classic mistake
// (roles/run.invoker granted to the Cloud Scheduler service agent, §8 row
// 4's role on the right resource but the wrong member) is a WARN with no
// command, so running every printed fix still leaves a WARN.
func TestDoctorGen2AgentInvokerHasFix(t *testing.T) {
	e := doctorStart(t)
	w := newDoctorWorld(e, "gen2-agent", doctorUpstream(t), true)
	e.ok("functions", "add-invoker-policy-binding", "hello", "--region=us-central1", "--project="+w.p,
		"--member=serviceAccount:"+w.agent())
	w.job("--uri=" + w.url)
	out := w.doctor()
	if got := doctorLines(out, "WARN"); len(got) != 1 || got[0] != "agent-invoker" {
		t.Fatalf("WARN lines %q, want [agent-invoker]\n%s", got, out)
	}
	r := w.report()
	if c := r.Check("agent-invoker"); c == nil || len(c.Fix) == 0 {
		t.Errorf("agent-invoker WARN carries no fix command:\n%s", out)
	}
	for _, f := range doctorFixes(out) {
		words := shellWords(t, f)
		if res := e.run("", words[1:]...); res.code != nil {
			t.Fatalf("fix %q: %v", f, res.code)
		}
	}
	for _, ch := range w.report().Checks {
		if ch.Result == doctor.Warn || ch.Result == doctor.Fail {
			t.Errorf("after every printed fix: %s %s: %s", ch.Result, ch.ID, ch.Detail)
		}
	}
}
