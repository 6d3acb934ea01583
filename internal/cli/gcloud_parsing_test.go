package cli_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oidcron/oidcron/internal/cli"
)

// gcloud's group commands reject an unknown subcommand ("Invalid choice")
// and exit non-zero; a typo in a script must not look like success.
func TestUnknownSubcommandIsAnError(t *testing.T) {
	e := startSched(t)
	for _, args := range [][]string{
		{"scheduler", "jobs", "creat", "http", "j"},
		{"scheduler", "jobs", "delet", "j"},
		{"iam", "service-accounts", "craete", "invoker"},
	} {
		r := e.run("", args...)
		if r.code == nil {
			t.Errorf("oidcron %s: no error (exit 0); stdout starts %q", strings.Join(args, " "), firstLine(r.out))
		}
	}
	if reqs := e.rec.take(); len(reqs) != 0 {
		t.Logf("requests: %v", reqs)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// gcloud's ArgDict (_TokenizeQuotedList) accepts a trailing delimiter:
// "A=1," is {"A": "1"}.
func TestHeadersTrailingComma(t *testing.T) {
	e := startSched(t)
	r := e.run("", "scheduler", "jobs", "create", "http", "j", "--location", "us-central1",
		"--schedule", "* * * * *", "--uri", "http://127.0.0.1:9/x", "--headers", "X-A=1,")
	if r.code != nil {
		t.Fatalf("--headers X-A=1, : %v", r.code)
	}
	r = e.run("", "scheduler", "jobs", "update", "http", "j", "--location", "us-central1", "--update-headers", "X-B=2,")
	if r.code != nil {
		t.Fatalf("--update-headers X-B=2, : %v", r.code)
	}
}

// gcloud reports an unknown flag as "unrecognized arguments: --flag", as it
// does for an extra positional argument.
func TestUnknownFlagMessage(t *testing.T) {
	e := startSched(t)
	e.fails("unrecognized arguments: --bogus", "scheduler", "jobs", "describe", "j", "--location", "us-central1", "--bogus")
}

// README: "Bytes fields (a policy's etag, ...) print in URL-safe base64, as
// gcloud prints them": also the policy remove-invoker-policy-binding prints
// when the member is not bound, as get-iam-policy prints the same policy.
func TestRemoveInvokerNotFoundEtagAlphabet(t *testing.T) {
	e := startFunctions(t)
	e.must("functions", "deploy", "hello", "--region=us-central1", "--upstream="+e.upstream, "--trigger-http")
	// Find a policy whose etag has a character where the alphabets differ.
	var etag string
	for i := 0; i < 64; i++ {
		e.must("functions", "add-iam-policy-binding", "hello", "--region=us-central1",
			fmt.Sprintf("--member=user:u%d@example.com", i), "--role=roles/cloudfunctions.viewer")
		etag = strings.TrimSpace(e.must("functions", "get-iam-policy", "hello", "--region=us-central1", "--format=value(etag)").out)
		if strings.ContainsAny(etag, "-_") {
			break
		}
	}
	if !strings.ContainsAny(etag, "-_") {
		t.Skipf("no etag with - or _ found (last %s)", etag)
	}
	r := e.must("functions", "remove-invoker-policy-binding", "hello", "--region=us-central1", "--member=user:nobody@example.com", "--format=value(etag)")
	if got := strings.TrimSpace(r.out); got != etag {
		t.Fatalf("remove-invoker-policy-binding printed etag %q; get-iam-policy prints %q (URL-safe, as gcloud)", got, etag)
	}
}

// A command line gcloud could not use is a *cli.UsageError (the binary
// exits 2 for it, as gcloud does) and sends nothing; a failed call is not.
func TestUsageMistakesAreUsageErrors(t *testing.T) {
	e := startSched(t)
	for _, args := range [][]string{
		{"scheduler", "jobz"},
		{"scheduler"},
		{"scheduler", "jobs", "describe", "j", "--location", "us-central1", "--bogus"},
		{"scheduler", "jobs", "describe", "--location", "us-central1"},
		{"scheduler", "jobs", "describe", "a", "b", "--location", "us-central1"},
		{"scheduler", "jobs", "create", "http", "j", "--location", "us-central1", "--schedule", "* * * * *", "--uri", "http://x/", "--max-doublings", "9x"},
		{"scheduler", "jobs", "list", "--location", "us-central1", "--limit", "many"},
	} {
		r := e.run("", args...)
		if _, ok := errors.AsType[*cli.UsageError](r.code); !ok {
			t.Errorf("oidcron %s: %v (%T), want a usage error", strings.Join(args, " "), r.code, r.code)
		}
	}
	if reqs := e.rec.take(); len(reqs) != 0 {
		t.Errorf("usage mistakes sent requests: %v", reqs)
	}
	r := e.run("", "scheduler", "jobs", "describe", "missing", "--location", "us-central1", "--project", "p1")
	if _, ok := errors.AsType[*cli.UsageError](r.code); r.code == nil || ok {
		t.Errorf("describing a missing job: %v (%T), want the call's error", r.code, r.code)
	}
}
