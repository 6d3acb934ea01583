package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRealGcloud points the real gcloud (when the machine has it) at the
// real binary, as README's "Using the real gcloud" says, and lives the
// classic story with it: every command must succeed, its job must reach
// the function with 200 in the end, and for each command oidcron's own CLI
// must print what gcloud printed (outputs compared after masking the
// timestamps that differ between two calls).
func TestRealGcloud(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and gcloud")
	}
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed")
	}
	p, up, sh := startStory(t)
	cfg := t.TempDir()
	// runGcloud runs gcloud with this test's configuration.
	runGcloud := func(args ...string) (stdout, stderr string, code int) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a bound on a hang
		defer cancel()
		cmd := exec.CommandContext(ctx, gcloud, args...)
		cmd.Env = append(os.Environ(), "CLOUDSDK_CONFIG="+cfg, "CLOUDSDK_CORE_DISABLE_PROMPTS=1")
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		_ = cmd.Run()
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}
	gc := func(args ...string) (string, string) {
		t.Helper()
		o, e, code := runGcloud(args...)
		if code != 0 {
			t.Fatalf("gcloud %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, o, e)
		}
		return o, e
	}
	// gcFails runs a gcloud command that must fail, for its exit status and
	// its error line.
	gcFails := func(args ...string) (int, string) {
		t.Helper()
		_, e, code := runGcloud(args...)
		if code == 0 {
			t.Fatalf("gcloud %s succeeded, want a failure", strings.Join(args, " "))
		}
		return code, e
	}
	// ocFails runs an oidcron command that must fail, for its exit status
	// (-1: it did not fail) and its stderr.
	ocFails := func(args ...string) (int, string) {
		_, e, err := sh.run(args...)
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), e
		}
		return -1, e
	}
	gc("config", "set", "auth/disable_credentials", "true")
	gc("config", "set", "core/disable_usage_reporting", "true")
	for _, api := range []string{"cloudscheduler", "cloudresourcemanager", "iam", "iamcredentials", "cloudfunctions", "appengine", "run"} {
		gc("config", "set", "api_endpoint_overrides/"+api, p.api+"/")
	}
	gc("config", "set", "project", "demo-project")

	// Timestamps differ between the two tools' calls; everything else must not.
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	etag := regexp.MustCompile(`etag: \S+`)
	mask := func(s string) string { return etag.ReplaceAllString(stamp.ReplaceAllString(s, "TIME"), "etag: ETAG") }
	same := func(what string, gOut, gErr, oOut, oErr string) {
		t.Helper()
		if mask(gOut) != mask(oOut) {
			t.Errorf("%s: stdout differs\ngcloud:\n%s\noidcron:\n%s", what, gOut, oOut)
		}
		if gErr != oErr {
			t.Errorf("%s: stderr differs\ngcloud:  %q\noidcron: %q", what, gErr, oErr)
		}
	}
	const fn = "https://us-central1-demo-project.cloudfunctions.net/hello"
	sh.ok("functions", "deploy", "hello", "--region=us-central1", "--upstream="+up.URL)
	gOut, gErr := gc("scheduler", "jobs", "create", "http", "hello-job", "--location=us-central1", "--schedule=*/5 * * * *", "--uri="+fn, "--http-method=GET")
	oOut, oErr := sh.ok("scheduler", "jobs", "create", "http", "twin-job", "--location=us-central1", "--schedule=*/5 * * * *", "--uri="+fn, "--http-method=GET")
	same("jobs create http", gOut, gErr, strings.ReplaceAll(oOut, "twin-job", "hello-job"), oErr)

	// The story, verbatim, with gcloud; after each step oidcron's CLI asks the same.
	story := [][]string{
		{"projects", "get-iam-policy", "demo-project", "--flatten=bindings[].members", "--format=table(bindings.role, bindings.members)"},
		{"scheduler", "jobs", "run", "hello-job"},
		{"iam", "service-accounts", "create", "scheduler-invoker", "--display-name", "Scheduler Invoker"},
		{"projects", "add-iam-policy-binding", "demo-project", "--member=serviceAccount:scheduler-invoker@demo-project.iam.gserviceaccount.com", "--role=roles/cloudfunctions.invoker"},
		{"scheduler", "jobs", "update", "http", "hello-job", "--schedule=*/5 * * * *", "--uri=" + fn, "--http-method=GET",
			"--oidc-service-account-email=scheduler-invoker@demo-project.iam.gserviceaccount.com", "--oidc-token-audience=" + fn},
		{"scheduler", "jobs", "run", "hello-job"},
	}
	for i, args := range story {
		gOut, gErr := gc(args...)
		if i == 1 {
			sh.waitAttempts(1)
			sh.wantStatus("gcloud's run without a token", "403\tPERMISSION_DENIED", 7)
		}
		if i == 5 {
			sh.waitAttempts(2)
			sh.wantStatus("gcloud's run with the invoker's token", "200\tOK", 0)
			continue
		}
		if args[0] == "iam" || args[0] == "projects" && args[1] == "add-iam-policy-binding" || args[2] == "run" {
			continue // a second create or grant would differ by design; run is covered by its status
		}
		oOut, oErr := sh.ok(args...)
		same(strings.Join(args[:3], " "), gOut, gErr, oOut, oErr)
	}
	if a := up.lastAuth(); !strings.HasPrefix(a, "Bearer ") {
		t.Errorf("the function got Authorization %q, want a bearer ID token", a)
	}
	// Reads print the same.
	for _, args := range [][]string{
		{"scheduler", "jobs", "list", "--location=us-central1"},
		{"scheduler", "jobs", "describe", "hello-job", "--location=us-central1"},
		{"scheduler", "locations", "list"},
		{"iam", "service-accounts", "list"},
		{"projects", "describe", "demo-project"},
		{"functions", "describe", "hello", "--region=us-central1"},
		{"functions", "list"},
		{"functions", "get-iam-policy", "hello", "--region=us-central1"},
	} {
		gOut, gErr := gc(args...)
		oOut, oErr := sh.ok(args...)
		same(strings.Join(args, " "), gOut, gErr, oOut, oErr)
	}

	// A service account's bindings take conditions (gcloud's GA commands
	// have --condition and, on remove, --all). Once a policy has one,
	// both tools refuse to add or remove without a condition when they
	// cannot prompt, word for word, and --all removes every binding of the
	// member and role.
	sa := "scheduler-invoker@demo-project.iam.gserviceaccount.com"
	binding := []string{"--member=user:a@example.com", "--role=roles/iam.serviceAccountUser"}
	withSA := func(verb string, extra ...string) []string {
		return append(append([]string{"iam", "service-accounts", verb, sa}, binding...), extra...)
	}
	gOut, gErr = gc(withSA("add-iam-policy-binding", `--condition=expression=request.time < timestamp("2030-01-01T00:00:00Z"),title=until-2030`)...)
	oOut, oErr = sh.ok("iam", "service-accounts", "get-iam-policy", sa)
	if mask(gOut) != mask(oOut) || !strings.Contains(gOut, "title: until-2030") {
		t.Errorf("gcloud's conditional binding:\n%s\noidcron reads:\n%s", gOut, oOut)
	}
	for _, args := range [][]string{
		withSA("add-iam-policy-binding"),
		withSA("remove-iam-policy-binding"),
		withSA("remove-iam-policy-binding", "--condition=None"),
		withSA("remove-iam-policy-binding", "--all", "--condition=None"),
	} {
		gCode, gErr := gcFails(args...)
		oCode, oErr := ocFails(args...)
		gLine, _, _ := strings.Cut(strings.Replace(gErr, "(gcloud.", "(oidcron.", 1), "\n")
		oLine, _, _ := strings.Cut(oErr, "\n")
		if gCode != oCode || gLine != oLine {
			t.Errorf("%s:\ngcloud  exit %d: %s\noidcron exit %d: %s", strings.Join(args, " "), gCode, gLine, oCode, oLine)
		}
	}
	// Arguments left over: the whole message, suggestions and hint
	// included; argparse's other errors: the error line (gcloud's usage
	// lines after it are not printed).
	for _, c := range []struct {
		line  string
		whole bool
	}{
		{"scheduler jobs describe hello-job --locaton us-central1", true},
		{"scheduler jobs list --limt 3 -z", true},
		{"scheduler jobs create http j --bogus", true},
		{"--bogus scheduler jobs list", true},
		{"schedular jobs list --location us-central1", false},
		{"", false},
		{"-- scheduler jobs list", true},
		{"projects describe --", true},
		{"scheduler jobs describe hello-job --location us-central1 --", true},
		{"scheduler jobs describe hello-job --location", false},
		// A value that looks like a flag is none: the flag before it has
		// no value, and the parser reading that flag says so first.
		{"scheduler jobs list --location -us", false},
		{"scheduler jobs list --bogus --location --limit 3", false},
		{"scheduler jobs describe hello-job --location --", false},
		{"--project -x scheduler jobs list --bogus", false},
		{"scheduler jobs create http j --schedule -x --uri http://a", false},
		{"scheduler jobs list --limit 0 --location -us", false},
		{"scheduler jobs list --quiet=true", false},
		{"--quiet=true scheduler jobs list", false},
		// List commands' flags elsewhere, and which parser reports first.
		{"scheduler jobs describe hello-job --limit -x", true},
		{"scheduler jobs --filter -x list", true},
		{"--bogus scheduler jobs list --bogus2", true},
		{"scheduler --bogus jobs --bogus3 list", true},
		{"--bogus scheduler jobs describe", true},
		{"--bogus=1 scheduler jobs list", true},
		{"--bogus=1 scheduler jobs list --limit x", false},
		{"--bogus scheduler jobz list", false},
		{"scheduler --bogus bogus", true},
		{"--limit 3 scheduler jobs list", true},
		{"--project p --limit 3 scheduler", false},
		{"scheduler jobs --limit=0 list --location -us", false},
		{"-q=true", false},
		{"--help=x", false},
		{"scheduler jobs list --quiet=x", false},
		{"scheduler jobs update http j --location us-central1 --clear-headers=false", false},
	} {
		args := strings.Fields(c.line)
		gCode, gErr := gcFails(args...)
		oCode, oErr := ocFails(args...)
		want := strings.ReplaceAll(gErr, "gcloud", "oidcron")
		if !c.whole {
			want, _, _ = strings.Cut(want, "\n")
			oErr, _, _ = strings.Cut(oErr, "\n")
		}
		if gCode != oCode || oErr != want {
			t.Errorf("%s:\ngcloud  exit %d: %q\noidcron exit %d: %q", c.line, gCode, want, oCode, oErr)
		}
	}
	_, _ = gc(withSA("add-iam-policy-binding", "--condition=None")...)
	oOut, oErr = sh.ok(withSA("remove-iam-policy-binding", "--all")...)
	if strings.Contains(oOut, "user:a@example.com") || oErr != "Updated IAM policy for serviceAccount ["+sa+"].\n" {
		t.Errorf("oidcron's --all left the member:\n%s%s", oOut, oErr)
	}
}
