package cli_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/oidcron/oidcron/internal/cli"
)

// fakeAPI answers every GET with {} and every other call with 418, and
// records "METHOD PATH?QUERY" of each request (prettyPrint and alt left out).
type fakeAPI struct {
	mu   sync.Mutex
	reqs []string
}

func (f *fakeAPI) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reqs
	f.reqs = nil
	return out
}

func startFake(t *testing.T) (*env, *fakeAPI) {
	f := &fakeAPI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("prettyPrint")
		q.Del("alt")
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.Path+"?"+q.Encode())
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte(`{"error":{"code":418,"message":"captured","status":"FAILED_PRECONDITION"}}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return &env{t: t, api: srv.URL}, f
}

func isUsage(err error) bool {
	_, ok := errors.AsType[*cli.UsageError](err)
	return ok
}

// gcloud 528 (run against a recording server): --page-size is a flag of
// the scheduler lists (honoured), of projects list and functions list
// (accepted and ignored: they always ask for 500 and 100, or --limit when
// smaller), and of nothing else: `iam service-accounts list --page-size=5`
// and `iam roles list --page-size=5` exit 2 "unrecognized arguments".
func TestPageSizeOnlyWhereGcloudHasIt(t *testing.T) {
	e, f := startFake(t)

	r := e.run("", "iam", "service-accounts", "list", "--project=p", "--page-size=5")
	if !isUsage(r.code) || !strings.HasPrefix(r.code.Error(), "unrecognized arguments: --page-size") {
		t.Errorf("iam service-accounts list --page-size=5: %v (sent %v), gcloud: exit 2 unrecognized arguments: --page-size=5", r.code, f.take())
	}
	f.take()

	e.run("", "projects", "list", "--page-size=5", "--limit=7")
	if got := f.take(); len(got) != 1 || got[0] != "GET /v1/projects?filter=lifecycleState%3AACTIVE&pageSize=7" {
		t.Errorf("projects list --page-size=5 --limit=7 sent %v, gcloud sends pageSize=7", got)
	}

	for _, c := range []struct {
		flags []string
		size  string
	}{{nil, "100"}, {[]string{"--page-size=5"}, "100"}, {[]string{"--limit=2"}, "2"}} {
		e.run("", append([]string{"functions", "list", "--project=p", "--regions=us-central1"}, c.flags...)...)
		want := []string{
			"GET /v2/projects/p/locations/us-central1/functions?pageSize=" + c.size,
			"GET /v1/projects/p/locations/us-central1/functions?pageSize=" + c.size,
		}
		if got := f.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("functions list %v sent\n%v\ngcloud's page size is %s", c.flags, got, c.size)
		}
	}
}

// gcloud 528's --condition is an ArgDict typed flag (keys None,
// description, expression, title; key-only allowed) and
// --condition-from-file a FileContents flag: their conversion errors are
// argparse's (exit 2); a dict without expression and title, or None with
// other keys, is CONDITION_FORMAT_EXCEPTION at run time (exit 1).
func TestConditionFlagErrorsAsGcloud(t *testing.T) {
	e, f := startFake(t)
	base := []string{"projects", "add-iam-policy-binding", "p", "--member=user:a@example.com", "--role=roles/run.invoker"}
	const format = "Invalid value for [condition]: condition must be either `None` or a list of key=value pairs. " +
		"If not `None`, `expression` and `title` are required keys.\n" +
		"Example: --condition=expression=[expression],title=[title],description=[description]"
	for _, c := range []struct {
		flag, want string
		usage      bool
	}{
		{"--condition-from-file=/nonexistent/c.yaml", "argument --condition-from-file: Unable to read file [/nonexistent/c.yaml]: [Errno 2] No such file or directory: '/nonexistent/c.yaml'", true},
		{"--condition=foo=1,title=t,expression=e", "argument --condition: valid keys are [None, description, expression, title]; received: foo", true},
		{"--condition=None,title=t", format, false},
		{"--condition=title", format, false},
		{"--condition=title=t", format, false},
	} {
		r := e.run("", append(base, c.flag)...)
		if r.code == nil || r.code.Error() != c.want || isUsage(r.code) != c.usage {
			t.Errorf("%s: %v (usage error: %v)\ngcloud: %q (exit %d)", c.flag, r.code, isUsage(r.code), c.want, map[bool]int{true: 2, false: 1}[c.usage])
		}
	}
	f.take()
}

// gcloud 528's projects add-iam-policy-binding and iam service-accounts
// add-iam-policy-binding (ValidateAndExtractConditionMutexRole) refuse a
// condition on a basic role before any call (the remove commands do not).
func TestConditionOnBasicRoleRefused(t *testing.T) {
	e, f := startFake(t)
	const want = "Binding with a condition and a basic role is not allowed. Basic roles are `roles/editor`, `roles/owner`, and `roles/viewer`."
	for _, args := range [][]string{
		{"projects", "add-iam-policy-binding", "p", "--member=user:a@example.com", "--role=roles/viewer", "--condition=expression=true,title=t"},
		{"iam", "service-accounts", "add-iam-policy-binding", "sa@p.iam.gserviceaccount.com", "--member=user:a@example.com", "--role=roles/editor", "--condition=expression=true,title=t"},
	} {
		r := e.run("", args...)
		if r.code == nil || r.code.Error() != want {
			t.Errorf("%s: %v, sent %v\ngcloud: %s", strings.Join(args[:2], " "), r.code, f.take(), want)
		}
		f.take()
	}
}

// gcloud's --gen2/--no-gen2 are store_true flags: an explicit value, "true"
// too, is an argparse error (exit 2 "argument --gen2: ignored explicit
// argument 'false'"), not the other flag, and nothing is sent.
func TestBoolPairTakesNoExplicitValue(t *testing.T) {
	e, f := startFake(t)
	for _, flag := range []string{"--gen2=false", "--no-gen2=false", "--gen2=true", "--no-gen2=true"} {
		r := e.run("", "functions", "describe", "f", "--project=p", "--region=us-central1", flag)
		name, v, _ := strings.Cut(flag, "=")
		want := "argument " + name + ": ignored explicit argument '" + v + "'"
		if !isUsage(r.code) || r.code.Error() != want {
			t.Errorf("functions describe %s: %v, sent %v; gcloud: exit 2 %s", flag, r.code, f.take(), want)
		}
		if sent := f.take(); len(sent) > 0 {
			t.Errorf("functions describe %s sent %v", flag, sent)
		}
	}
}
