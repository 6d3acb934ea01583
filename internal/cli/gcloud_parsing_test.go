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

// Arguments a command has no place for are reported as gcloud 528 reports
// them, word for word (printed by gcloud with "gcloud" for "oidcron"): all
// of them, in the order typed, as typed; each flag with the closest flag
// name (difflib's); the help-search hint last. Nothing is sent.
func TestUnrecognizedArgumentsAsGcloud(t *testing.T) {
	e := startSched(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"scheduler", "jobs", "describe", "j", "--location", "us-central1", "--bogus"},
			unrecognizedOne("--bogus")},
		{[]string{"scheduler", "jobs", "describe", "j", "--location", "us-central1", "--bogus=4", "extra"},
			"unrecognized arguments:\n  --bogus=4\n  extra\n  " + searchHint},
		{[]string{"scheduler", "jobs", "describe", "j", "--locaton", "us-central1"},
			"unrecognized arguments:\n  --locaton (did you mean '--location'?)\n  us-central1\n  " + searchHint},
		// An unknown flag is reported before a missing JOB.
		{[]string{"scheduler", "jobs", "describe", "--locaton"},
			"unrecognized arguments: --locaton (did you mean '--location'?) \n\n" + searchHint},
		{[]string{"scheduler", "jobs", "describe", "a", "b", "--bogus"},
			"unrecognized arguments:\n  b\n  --bogus\n  " + searchHint},
		{[]string{"scheduler", "jobs", "list", "--limt", "3", "-z"},
			"unrecognized arguments:\n  --limt (did you mean '--limit'?)\n  3\n  -z\n  " + searchHint},
		{[]string{"scheduler", "jobs", "list", "--limit", "3", "--", "extra", "--x"},
			"unrecognized arguments:\n  --\n  extra\n  --x\n  " + searchHint},
		{[]string{"scheduler", "jobs", "create", "http", "j", "--bogus"},
			unrecognizedOne("--bogus")},
		{[]string{"iam", "service-accounts", "create", "--bogus=1", "x", "y"},
			"unrecognized arguments:\n  --bogus=1\n  y\n  " + searchHint},
	} {
		e.fails(c.want, c.args...)
	}
	if reqs := e.rec.take(); len(reqs) != 0 {
		t.Errorf("requests sent: %v", reqs)
	}
}

// The edges of argparse's leftovers and its other command-line errors, as
// gcloud 528 prints them ("gcloud" replaced by "oidcron"): a "--", short-flag
// groups, a flag before the subcommand, a missing value, a value given to a
// flag that takes none, and which of several errors comes first.
func TestUnrecognizedArgumentEdgesAsGcloud(t *testing.T) {
	e := startSched(t)
	for _, c := range []struct {
		line, want string
	}{
		// argparse's JOB pattern (-*A-*) swallows a "--" next to the job
		// name; any other "--" is left over.
		{"scheduler jobs describe --location us j1 -- j2", unrecognizedOne("j2")},
		{"scheduler jobs describe --location us -- j1 j2", unrecognizedOne("j2")},
		{"scheduler jobs describe --location us j1 -- j2 j3", "unrecognized arguments:\n  j2\n  j3\n  " + searchHint},
		{"scheduler jobs describe --location us j1 j2 --", "unrecognized arguments:\n  j2\n  --\n  " + searchHint},
		{"scheduler jobs describe j1 --location us --", unrecognizedOne("--")},
		// A group of short flags with an unknown letter, as typed.
		{"scheduler jobs describe j1 --location us -qx", unrecognizedOne("-qx")},
		{"scheduler jobs describe j1 j2 --location us -qx", "unrecognized arguments:\n  j2\n  -qx\n  " + searchHint},
		// An unknown flag before the subcommand: the group stops there and
		// reports it alone.
		{"scheduler --bogus jobs describe j1 --location us", unrecognizedOne("--bogus")},
		{"scheduler jobs describe j1 --bogus --location us --", "unrecognized arguments:\n  --bogus\n  --\n  " + searchHint},
		// Before the first command name, and an unknown one.
		{"--bogus scheduler jobs list", unrecognizedOne("--bogus")},
		{"--project p --bogus=3 -z scheduler jobs list", "unrecognized arguments:\n  --bogus=3\n  -z\n  " + searchHint},
		{"schedular jobs list", "Invalid choice: 'schedular'."},
		{"schedular jobs list --location us", "Invalid choice: 'schedular'."},
		{"schedular jobs describe j1 --location=us", "Invalid choice: 'schedular'."},
		{"schedular --bogus", "Invalid choice: 'schedular'."},
		// A "--" argparse leaves over is reported before a missing argument,
		// and so is one before the first command name or a group's name.
		{"scheduler jobs describe --location us --", unrecognizedOne("--")},
		{"projects describe --", unrecognizedOne("--")},
		{"scheduler -- jobs list", unrecognizedOne("--")},
		{"-- scheduler jobs list", unrecognizedOne("--")},
		{"--", unrecognizedOne("--")},
		// A flag without its value, and a value given to a store_true flag.
		{"scheduler jobs describe j1 --location", "argument --location: expected one argument"},
		// An argument that looks like a flag is not the value of the one
		// before it (a negative number or text with a space is).
		{"scheduler jobs list --location -us", "argument --location: expected one argument"},
		{"scheduler jobs list --location --limit 3 --bogus", "argument --location: expected one argument"},
		{"scheduler jobs describe j1 --location -- us", "argument --location: expected one argument"},
		{"--project -p scheduler jobs describe j1 j2", "argument --project: expected one argument"},
		{"scheduler jobs list --quiet=x --location -us", "argument --quiet/-q: ignored explicit argument 'x'"},
		// ... and so is "--KNOWN=text with a space" (␣ is a space inside
		// one argument), which "-text with a space" is not.
		{"scheduler jobs list --location --format=a␣b", "argument --location: expected one argument"},
		{"--project --project=a␣b scheduler jobs list", "argument --project: expected one argument"},
		{"scheduler jobs list --location -us␣x --limit 0", "argument --limit: Value must be greater than or equal to 1; received: 0"},
		// A flag's refused value or --help earlier on the line comes first.
		{"scheduler jobs list --limit 0 --location -us", "argument --limit: Value must be greater than or equal to 1; received: 0"},
		{"scheduler jobs create http j1 --max-retry-attempts x --location -us", "argument --max-retry-attempts: invalid int value: 'x'"},
		// --limit, --filter and --sort-by are list commands' flags: before
		// a command name, or on another command, they are left over.
		{"scheduler jobs describe j1 --limit -x", "unrecognized arguments:\n  --limit\n  -x\n  " + searchHint},
		{"scheduler jobs --filter -x list", "unrecognized arguments:\n  --filter (did you mean '--flatten'?)\n  -x\n  " + searchHint},
		{"--sort-by=x scheduler jobs list", unrecognizedOne("--sort-by=x")},
		// The deepest parser's leftovers are reported first, a value the
		// command refuses before them; a group's come before a missing
		// argument, and a name the group does not know before them.
		{"--bogus scheduler jobs list --bogus2", unrecognizedOne("--bogus2")},
		{"scheduler --bogus jobs --bogus3 list", unrecognizedOne("--bogus3")},
		{"--bogus scheduler jobs describe", unrecognizedOne("--bogus")},
		{"--bogus=1 scheduler jobs list --limit x", "argument --limit: Value must be an integer; received: x"},
		{"--bogus scheduler jobz list", "Invalid choice: 'jobz'."},
		// ... unless a flag leading the group's part fails alone: an
		// unknown one is reported instead (calliope's _DeduceBetterError).
		{"scheduler --bogus bogus", unrecognizedOne("--bogus")},
		{"-q --bogus bogus", unrecognizedOne("--bogus")},
		{"--limit 3 scheduler jobs list", unrecognizedOne("--limit")},
		{"scheduler --filter=x bogus", unrecognizedOne("--filter=x (did you mean '--flatten'?)")},
		{"--project p --limit 3 scheduler", "Invalid choice: '3'."},
		// A group's flags are not the command's: a value the command
		// would refuse there is left over, not checked.
		{"scheduler jobs --limit=0 list --location -us", "argument --location: expected one argument"},
		{"--limit=0 scheduler jobs list --location -us", "argument --location: expected one argument"},
		// Short forms and --help take no value either.
		{"-q=true", "argument --quiet/-q: ignored explicit argument 'true'"},
		{"--help=x", "argument --help: ignored explicit argument 'x'"},
		{"scheduler jobs list --quiet=x", "argument --quiet/-q: ignored explicit argument 'x'"},
		{"scheduler jobs list --quiet=true", "argument --quiet/-q: ignored explicit argument 'true'"},
		{"--quiet=true scheduler jobs list", "argument --quiet/-q: ignored explicit argument 'true'"},
		{"scheduler jobs list --limit 0 --quiet=true", "argument --limit: Value must be greater than or equal to 1; received: 0"},
		{"scheduler jobs update http j1 --location us --clear-headers=false", "argument --clear-headers: ignored explicit argument 'false'"},
	} {
		args := strings.Fields(c.line)
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "␣", " ")
		}
		r := e.run("", args...)
		if r.code == nil || r.code.Error() != c.want {
			t.Errorf("oidcron %s:\n got %v\nwant %q", c.line, r.code, c.want)
		}
	}
}

// --help acts where argparse reads it: on a group, before a command name,
// and before a flag left without its value, it shows the help, no error.
func TestHelpComesFirst(t *testing.T) {
	e := startSched(t)
	for _, line := range []string{"--help", "-h", "scheduler --help", "scheduler jobs --help", "-q -h",
		"--help scheduler jobs list", "scheduler --help jobs list", "scheduler jobs list --help --location",
		"--help --format", "scheduler jobs list --help --location -us"} {
		r := e.run("", strings.Fields(line)...)
		if r.code != nil || !strings.Contains(r.out, "Usage:") {
			t.Errorf("oidcron %s: %v, stdout %.60q; gcloud shows the help and exits 0", line, r.code, r.out)
		}
	}
}

// argparse's pattern for an optional positional argument swallows a "--"
// when the argument is left out: the line runs as without the "--".
func TestDashBeforeLeftOutOptionalArgumentIsSwallowed(t *testing.T) {
	e := startSched(t)
	base := []string{"projects", "create", "--name", "My Project"}
	without := e.run("", base...)
	with := e.run("", append(base, "--")...)
	if fmt.Sprint(with.code) != fmt.Sprint(without.code) {
		t.Errorf("projects create --name 'My Project' --:\n got %v\nwant %v (as without the \"--\", as gcloud)", with.code, without.code)
	}
}

// --enable-cloud-apis is gcloud's Boolean pair: --no-enable-cloud-apis is
// a flag, not an argument left over.
func TestNoEnableCloudAPIsIsAFlag(t *testing.T) {
	e := startSched(t)
	r := e.run("", "projects", "create", "my-proj-123", "--no-enable-cloud-apis")
	if r.code != nil {
		t.Errorf("projects create my-proj-123 --no-enable-cloud-apis: %v", r.code)
	}
}

// searchHint ends every unrecognized-arguments error.
const searchHint = "To search the help text of oidcron commands, run:\n  oidcron help -- SEARCH_TERMS"

// unrecognizedOne is the error for one argument left over, with no suggestion.
func unrecognizedOne(arg string) string {
	return "unrecognized arguments: " + arg + " \n\n" + searchHint
}

// The hint's search: `help -- TERMS` lists the commands whose help text
// holds every term; `help COMMAND...` is that command's help.
func TestHelpSearch(t *testing.T) {
	e := startSched(t)
	r := e.run("", "help", "--", "MAX-DOUBLINGS")
	if r.code != nil || !strings.Contains(r.out, "oidcron scheduler jobs create http\n") ||
		!strings.Contains(r.out, "oidcron scheduler jobs update http\n") || strings.Contains(r.out, "jobs list") {
		t.Errorf("help -- MAX-DOUBLINGS: %v\n%s", r.code, r.out)
	}
	// Every path starts with the binary's name, which is not searched.
	r = e.run("", "help", "--", "cron")
	if r.code != nil || strings.Contains(r.out, "oidcron auth\n") || !strings.Contains(r.out, "oidcron scheduler jobs create http\n") {
		t.Errorf("help -- cron: %v\n%s", r.code, r.out)
	}
	r = e.run("", "help", "--", "max-doublings", "no-such-word")
	if r.code != nil || r.out != "No commands found matching: max-doublings no-such-word\n" {
		t.Errorf("help -- max-doublings no-such-word: %v %q", r.code, r.out)
	}
	r = e.run("", "help", "scheduler", "jobs", "list")
	if r.code != nil || !strings.Contains(r.out, "--page-size") {
		t.Errorf("help scheduler jobs list: %v\n%s", r.code, r.out)
	}
	for args, want := range map[string]string{
		"help --":           "argument SEARCH_TERMS: Must be specified.",
		"help nosuch":       "Invalid choice: 'nosuch'.",
		"help scheduler jx": "Invalid choice: 'jx'.",
	} {
		e.fails(want, strings.Fields(args)...)
	}
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
