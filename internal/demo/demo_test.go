package demo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestRunTellsTheStory runs the whole demo in process: it succeeds, its
// transcript shows each command and outcome in the story's order, and the
// temporary data folder is gone afterwards.
func TestRunTellsTheStory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the demo's data folder goes
	var out bytes.Buffer
	if err := Run(context.Background(), &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	inOrder(t, out.String(),
		"$ export OIDCRON_ENDPOINT=http://127.0.0.1:",
		"$ oidcron functions deploy hello --region=us-central1 --upstream=http://127.0.0.1:",
		"$ oidcron scheduler jobs create http hello-job --location=us-central1 --schedule='*/5 * * * *' --uri=https://us-central1-demo-project.cloudfunctions.net/hello --http-method=GET\nattemptDeadline: 180s",
		"$ oidcron scheduler jobs run hello-job --location=us-central1\n",
		"$ oidcron scheduler jobs executions hello-job --location=us-central1\nSCHEDULE_TIME",
		"  403          PERMISSION_DENIED  ",
		"$ oidcron doctor job hello-job --location=us-central1\n",
		"\nFAIL  token ",
		"\nPredicted: 403 PERMISSION_DENIED",
		"$ oidcron iam service-accounts create scheduler-invoker --display-name='Scheduler Invoker'\nCreated service account [scheduler-invoker].",
		"$ oidcron projects add-iam-policy-binding demo-project --member=serviceAccount:scheduler-invoker@demo-project.iam.gserviceaccount.com --role=roles/cloudfunctions.invoker\n",
		"--oidc-service-account-email=scheduler-invoker@demo-project.iam.gserviceaccount.com --oidc-token-audience=https://us-central1-demo-project.cloudfunctions.net/hello\nattemptDeadline: 180s",
		"$ oidcron scheduler jobs run hello-job --location=us-central1\n",
		"  200          OK  ",
		"\n  iss             http://127.0.0.1:",
		"\n  aud             https://us-central1-demo-project.cloudfunctions.net/hello",
		"\n  email           scheduler-invoker@demo-project.iam.gserviceaccount.com",
		"\n  email_verified  true",
		"\n  exp             ",
		"# Done:",
	)
	if strings.Contains(out.String(), "ERROR:") {
		t.Errorf("the transcript shows an error:\n%s", out.String())
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind in the temporary folder: %v", left)
	}
}

// TestRunFailsNamingTheStep leaves the invoker role out of the fix: the run
// after it is still denied, and the demo says which step and what it got.
func TestRunFailsNamingTheStep(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var out bytes.Buffer
	err := run(context.Background(), &out, options{skipGrant: true})
	if err == nil {
		t.Fatalf("demo without the grant succeeded:\n%s", out.String())
	}
	if msg := err.Error(); !strings.Contains(msg, "step 5 (run the job after the fix): the attempt got 403 PERMISSION_DENIED") ||
		!strings.Contains(msg, "want 200") {
		t.Fatalf("error: %v", err)
	}
	if strings.Contains(out.String(), "# Done:") {
		t.Errorf("a failed demo says it is done:\n%s", out.String())
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"hello-job":                            "hello-job",
		"--region=us-central1":                 "--region=us-central1",
		"--schedule=*/5 * * * *":               "--schedule='*/5 * * * *'",
		"--display-name=Scheduler Invoker":     "--display-name='Scheduler Invoker'",
		"--format=table(bindings.role)":        "--format='table(bindings.role)'",
		"it's":                                 `'it'\''s'`,
		"":                                     "''",
		"--uri=https://x.example/a?b=c&d=e":    "--uri='https://x.example/a?b=c&d=e'",
		"--member=serviceAccount:a@b.iam.test": "--member=serviceAccount:a@b.iam.test",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// inOrder fails unless each of wants occurs in text after the previous one.
func inOrder(t *testing.T, text string, wants ...string) {
	t.Helper()
	rest := text
	for _, w := range wants {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("missing, or out of order: %q\ntranscript:\n%s", w, text)
		}
		rest = rest[i+len(w):]
	}
}
