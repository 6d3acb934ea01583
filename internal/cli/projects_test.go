package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/server"
)

// iamRunAs runs a command as the holder of token (a server started with
// --require-auth needs one); "" sends none.
func iamRunAs(e *env, token, stdin string, args ...string) result {
	e.t.Helper()
	return iamRunWith(e, token, nil, stdin, args...)
}

// iamRunWith is iamRunAs with requests carried by hc.
func iamRunWith(e *env, token string, hc *http.Client, stdin string, args ...string) result {
	e.t.Helper()
	g := cli.NewGlobals()
	g.HTTPClient = hc
	g.Endpoint = e.api
	g.Project = ""
	g.AccessToken = token
	g.Interactive = false
	var out, errb bytes.Buffer
	g.In, g.Out, g.Err = strings.NewReader(stdin), &out, &errb
	root := &cobra.Command{Use: "oidcron", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(root)
	root.AddCommand(cli.Commands(g)...)
	root.SetOut(&out)
	root.SetErr(&errb)
	_, err := cli.Execute(context.Background(), root, args)
	return result{out: out.String(), err: errb.String(), code: err}
}

// iamFails runs a command that must fail with exactly want (what main
// prints after "ERROR: (oidcron.group.command) ") and print nothing on
// stdout.
func iamFails(t *testing.T, e *env, want string, args ...string) result {
	t.Helper()
	r := e.run("", args...)
	iamCheckFailure(t, r, want, args)
	return r
}

func iamCheckFailure(t *testing.T, r result, want string, args []string) {
	t.Helper()
	if r.code == nil {
		t.Fatalf("oidcron %s succeeded, want error %q\nstdout: %s", strings.Join(args, " "), want, r.out)
	}
	if r.code.Error() != want {
		t.Errorf("oidcron %s:\n got error %q\nwant error %q", strings.Join(args, " "), r.code.Error(), want)
	}
	if r.out != "" {
		t.Errorf("oidcron %s printed on stdout: %q", strings.Join(args, " "), r.out)
	}
}

// iamTable renders rows as gcloud's table printer does: columns padded to
// their widest cell, two spaces apart, the last one unpadded.
func iamTable(rows ...[]string) string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				continue
			}
			b.WriteString(c + strings.Repeat(" ", widths[i]-len(c)+2))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func iamJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

func iamSame(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n--- got ---\n%s--- want ---\n%s", what, got, want)
	}
}

// The first command of the story prints what gcloud prints: one row per
// member, the role and the member.
func TestProjectsStoryGetIamPolicyTable(t *testing.T) {
	e := start(t)
	num := strings.TrimSpace(e.ok("projects", "describe", "demo-project", "--format=value(projectNumber)"))
	if num == "" || strings.Trim(num, "0123456789") != "" {
		t.Fatalf("project number %q", num)
	}
	agent := "serviceAccount:service-" + num + "@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
	out := e.ok("projects", "get-iam-policy", "demo-project", "--flatten=bindings[].members",
		"--format=table(bindings.role, bindings.members)")
	iamSame(t, "story table", out, iamTable(
		[]string{"ROLE", "MEMBERS"},
		[]string{"roles/cloudscheduler.serviceAgent", agent},
		[]string{"roles/owner", "user:dev@oidcron.local"},
	))
	// ... and `| grep cloudscheduler` finds the agent's line.
	var hits []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "cloudscheduler") {
			hits = append(hits, l)
		}
	}
	if len(hits) != 1 || !strings.HasSuffix(hits[0], agent) {
		t.Errorf("grep cloudscheduler: %q", hits)
	}

	// The default output is the policy's YAML.
	pol := iamJSON(t, e.ok("projects", "get-iam-policy", "demo-project", "--format=json"))
	iamSame(t, "get-iam-policy yaml", e.ok("projects", "get-iam-policy", "demo-project"),
		"bindings:\n- members:\n  - "+agent+"\n  role: roles/cloudscheduler.serviceAgent\n"+
			"- members:\n  - user:dev@oidcron.local\n  role: roles/owner\n"+
			"etag: "+pol["etag"].(string)+"\nversion: 1\n")
}

func TestProjectsBindings(t *testing.T) {
	e := start(t)
	e.ok("iam", "service-accounts", "create", "scheduler-invoker", "--project", "demo-project")
	sa := "serviceAccount:scheduler-invoker@demo-project.iam.gserviceaccount.com"

	r := e.run("", "projects", "add-iam-policy-binding", "demo-project", "--member="+sa, "--role=roles/cloudfunctions.invoker")
	if r.code != nil {
		t.Fatalf("add: %v", r.code)
	}
	iamSame(t, "add stderr", r.err, "Updated IAM policy for project [demo-project].\n")
	pol := iamJSON(t, e.ok("projects", "get-iam-policy", "demo-project", "--format=json"))
	if !strings.Contains(r.out, "- members:\n  - "+sa+"\n  role: roles/cloudfunctions.invoker\n") ||
		!strings.HasSuffix(r.out, "etag: "+pol["etag"].(string)+"\nversion: 1\n") {
		t.Errorf("add stdout is not the new policy's YAML:\n%s", r.out)
	}

	// Adding it again changes nothing; another member joins the binding.
	e.ok("projects", "add-iam-policy-binding", "demo-project", "--member="+sa, "--role=roles/cloudfunctions.invoker")
	e.ok("projects", "add-iam-policy-binding", "demo-project", "--member=user:Alice@Example.com", "--role=roles/cloudfunctions.invoker")
	out := e.ok("projects", "get-iam-policy", "demo-project", "--flatten=bindings[].members",
		"--filter=bindings.role:roles/cloudfunctions.invoker", "--format=value(bindings.members)")
	iamSame(t, "invokers", out, sa+"\nuser:alice@example.com\n")

	// Removing takes the member out (emails compare case-insensitively) ...
	r = e.run("", "projects", "remove-iam-policy-binding", "demo-project", "--member=user:ALICE@example.com", "--role=roles/cloudfunctions.invoker")
	if r.code != nil {
		t.Fatalf("remove: %v", r.code)
	}
	iamSame(t, "remove stderr", r.err, "Updated IAM policy for project [demo-project].\n")
	if strings.Contains(r.out, "alice") {
		t.Errorf("alice still bound:\n%s", r.out)
	}
	// ... and a binding that is not there is gcloud's error, with nothing written.
	before := e.ok("projects", "get-iam-policy", "demo-project", "--format=value(etag)")
	iamFails(t, e, "Policy binding with the specified principal, role, and condition not found!",
		"projects", "remove-iam-policy-binding", "demo-project", "--member=user:alice@example.com", "--role=roles/cloudfunctions.invoker")
	iamSame(t, "etag after a failed remove", e.ok("projects", "get-iam-policy", "demo-project", "--format=value(etag)"), before)

	// The server's rules still hold: the last owner cannot be removed.
	r = e.run("", "projects", "remove-iam-policy-binding", "demo-project", "--member=user:dev@oidcron.local", "--role=roles/owner")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "INVALID_ARGUMENT: ") || !strings.Contains(r.code.Error(), "owner") {
		t.Errorf("removing the last owner: %v", r.code)
	}
	// A service account that does not exist cannot be bound.
	r = e.run("", "projects", "add-iam-policy-binding", "demo-project", "--member=serviceAccount:nobody@demo-project.iam.gserviceaccount.com", "--role=roles/viewer")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "INVALID_ARGUMENT: ") {
		t.Errorf("binding a missing account: %v", r.code)
	}
}

func TestProjectsBindingFlagErrors(t *testing.T) {
	e := start(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"projects", "add-iam-policy-binding", "demo-project"}, "argument --member --role: Must be specified."},
		{[]string{"projects", "add-iam-policy-binding", "demo-project", "--member=user:a@example.com"}, "argument --role: Must be specified."},
		{[]string{"projects", "remove-iam-policy-binding", "demo-project", "--role=roles/viewer"}, "argument --member: Must be specified."},
		{[]string{"projects", "add-iam-policy-binding", "--member=user:a@example.com", "--role=roles/viewer"}, "argument PROJECT_ID: Must be specified."},
		{[]string{"projects", "add-iam-policy-binding", "a", "b", "--member=user:a@example.com", "--role=roles/viewer"}, unrecognizedOne("b")},
		{[]string{"projects", "add-iam-policy-binding", "demo-project", "--member=alice@example.com", "--role=roles/viewer"},
			`Invalid value for [--member]: policy members must be of the form "<type>:<value>", e.g. user:alice@example.com. ` +
				"Principals are user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers."},
		{[]string{"projects", "add-iam-policy-binding", "demo-project", "--member=User:alice@example.com", "--role=roles/viewer"},
			"Invalid value for [--member]: member types are case-sensitive: did you mean user:?"},
		{[]string{"projects", "add-iam-policy-binding", "demo-project", "--member=user:alice", "--role=roles/viewer"}, ""},
		{[]string{"projects", "add-iam-policy-binding", "demo-project", "--member=user:a@example.com", "--role="}, "Invalid value for [--role]: must not be empty."},
		{[]string{"projects", "get-iam-policy"}, "argument PROJECT_ID_OR_NUMBER: Must be specified."},
		{[]string{"projects", "set-iam-policy", "demo-project"}, "argument POLICY_FILE: Must be specified."},
	} {
		r := e.run("", c.args...)
		if c.want == "" { // only the prefix is ours; the rule is the iam package's
			if r.code == nil || !strings.HasPrefix(r.code.Error(), "Invalid value for [--member]: ") {
				t.Errorf("%v: %v", c.args, r.code)
			}
			continue
		}
		iamCheckFailure(t, r, c.want, c.args)
	}
}

func TestProjectsSetIamPolicy(t *testing.T) {
	e := start(t)
	dir := t.TempDir()
	// The output of get-iam-policy is a valid policy file, in YAML ...
	yml := e.ok("projects", "get-iam-policy", "demo-project")
	yml = strings.Replace(yml, "bindings:\n", "bindings:\n- members:\n  - user:bob@example.com   # a comment\n  role: roles/viewer\n", 1)
	file := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.run("", "projects", "set-iam-policy", "demo-project", file)
	if r.code != nil {
		t.Fatalf("set-iam-policy: %v\n%s", r.code, r.err)
	}
	iamSame(t, "set stderr", r.err, "Updated IAM policy for project [demo-project].\n")
	if !strings.Contains(r.out, "  - user:bob@example.com\n  role: roles/viewer\n") {
		t.Errorf("set stdout:\n%s", r.out)
	}
	// ... its etag is now stale: the server refuses it.
	r = e.run("", "projects", "set-iam-policy", "demo-project", file)
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "ABORTED: There were concurrent policy changes.") {
		t.Errorf("stale etag: %v", r.code)
	}

	// ... and in JSON, here without an etag: gcloud's warning, then a blind write.
	pol := iamJSON(t, e.ok("projects", "get-iam-policy", "demo-project", "--format=json"))
	delete(pol, "etag")
	pol["bindings"] = []any{
		map[string]any{"role": "roles/owner", "members": []any{"user:dev@oidcron.local"}},
		map[string]any{"role": "roles/editor", "members": []any{"user:carol@example.com"}},
	}
	b, _ := json.MarshalIndent(pol, "", "  ")
	jfile := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(jfile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.run("", "projects", "set-iam-policy", "demo-project", jfile)
	if r.code != nil {
		t.Fatalf("set-iam-policy json: %v", r.code)
	}
	iamSame(t, "set json stderr", r.err, "The specified policy does not contain an \"etag\" field identifying a \n"+
		"specific version to replace. Changing a policy without an \"etag\" can \n"+
		"overwrite concurrent policy changes.\n\n"+
		"Replace existing policy (Y/n)?  \n"+
		"Updated IAM policy for project [demo-project].\n")
	out := e.ok("projects", "get-iam-policy", "demo-project", "--flatten=bindings[].members", "--format=value(bindings.role,bindings.members)")
	iamSame(t, "policy after json", out, "roles/editor\tuser:carol@example.com\nroles/owner\tuser:dev@oidcron.local\n")

	// Broken files are named.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("bindings:\n- role: roles/viewer\n  members:\n  - user:a@example.com\nfoo: bar\n"), 0o600)
	iamFails(t, e, "Policy file ["+bad+"] is not a properly formatted YAML or JSON policy file. "+
		`Unknown policy field "foo": a policy has bindings, etag, version and auditConfigs.`,
		"projects", "set-iam-policy", "demo-project", bad)
	os.WriteFile(bad, []byte("etag: not*base64\nbindings: []\n"), 0o600)
	r = e.run("", "projects", "set-iam-policy", "demo-project", bad)
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "The etag of policy file ["+bad+"] is not properly formatted.") {
		t.Errorf("bad etag: %v", r.code)
	}
	missing := filepath.Join(dir, "missing.yaml")
	iamFails(t, e, "Unable to read file ["+missing+"]: no such file or directory", "projects", "set-iam-policy", "demo-project", missing)
}

func TestProjectsCreateDescribeList(t *testing.T) {
	e := start(t)
	r := e.run("", "projects", "create", "my-project-1", "--name=My Project", "--labels=env=dev,team=ops")
	if r.code != nil {
		t.Fatalf("create: %v\n%s", r.code, r.err)
	}
	if r.out != "" {
		t.Errorf("create printed %q", r.out)
	}
	prefix := "Create in progress for [" + e.api + "/v1/projects/my-project-1].\nWaiting for [operations/cp."
	if !strings.HasPrefix(r.err, prefix) || !strings.HasSuffix(r.err, "] to finish...done.\n") {
		t.Errorf("create stderr: %q", r.err)
	}

	p := iamJSON(t, e.ok("projects", "describe", "my-project-1", "--format=json"))
	num, _ := p["projectNumber"].(string)
	if p["name"] != "My Project" || p["lifecycleState"] != "ACTIVE" || num == "" {
		t.Errorf("describe: %v", p)
	}
	labels, _ := p["labels"].(map[string]any)
	if labels["env"] != "dev" || labels["team"] != "ops" {
		t.Errorf("labels: %v", p["labels"])
	}
	iamSame(t, "describe yaml", e.ok("projects", "describe", "my-project-1"),
		"createTime: '"+p["createTime"].(string)+"'\nlabels:\n  env: dev\n  team: ops\nlifecycleState: ACTIVE\n"+
			"name: My Project\nprojectId: my-project-1\nprojectNumber: '"+num+"'\n")
	// By number too.
	iamSame(t, "describe by number", e.ok("projects", "describe", num, "--format=value(projectId)"), "my-project-1\n")

	// The caller owns it.
	out := e.ok("projects", "get-iam-policy", "my-project-1", "--flatten=bindings[].members",
		"--filter=bindings.role=roles/owner", "--format=value(bindings.members)")
	iamSame(t, "owner", out, "user:dev@oidcron.local\n")

	iamFails(t, e, "Project creation failed. The project ID you specified is already in use by another project. Please try an alternative ID.",
		"projects", "create", "my-project-1")
	iamFails(t, e, "argument PROJECT_ID: Bad value [My_Project]: Project IDs are immutable and can be set only during project creation. "+
		"They must start with a lowercase letter and can have lowercase ASCII letters, digits or hyphens. "+
		"Project IDs must be between 6 and 30 characters.", "projects", "create", "My_Project")
	iamFails(t, e, "Missing required argument [PROJECT_ID]: an id or a name must be provided for the new project", "projects", "create")
	iamFails(t, e, "argument --labels: Bad syntax for dict arg: [team]. Please see `gcloud topic flags-file` or `gcloud topic escaping` for information on providing list or dictionary flag values with special characters.", "projects", "create", "my-project-2", "--labels=env=dev,team")
	// Only a name: gcloud proposes an id, which needs an answer.
	iamFails(t, e, "This prompt could not be answered because you are not in an interactive session.  "+
		"You can re-run the command with the --quiet flag to accept default answers for all prompts.",
		"projects", "create", "--name=Happy Project")
	r = e.run("", "projects", "create", "--name=Happy Project", "--quiet")
	if r.code != nil {
		t.Fatalf("create --name --quiet: %v", r.code)
	}
	if !strings.HasPrefix(r.err, "Create in progress for ["+e.api+"/v1/projects/happy-project-") {
		t.Errorf("proposed id: %q", r.err)
	}

	// list: gcloud's table, sorted by id (demo-project exists since it was
	// referenced in dev mode).
	e.ok("projects", "get-iam-policy", "demo-project")
	var ids, names, nums []string
	pl := e.ok("projects", "list", "--format=value(projectId,name,projectNumber)")
	for _, l := range strings.Split(strings.TrimSpace(pl), "\n") {
		f := strings.Split(l, "\t")
		ids, names, nums = append(ids, f[0]), append(names, f[1]), append(nums, f[2])
	}
	if len(ids) != 3 || ids[0] != "demo-project" || !strings.HasPrefix(ids[1], "happy-project-") || ids[2] != "my-project-1" {
		t.Fatalf("list ids: %v", ids)
	}
	rows := [][]string{{"PROJECT_ID", "NAME", "PROJECT_NUMBER"}}
	for i := range ids {
		rows = append(rows, []string{ids[i], names[i], nums[i]})
	}
	iamSame(t, "list table", e.ok("projects", "list"), iamTable(rows...))
	iamSame(t, "list --limit", e.ok("projects", "list", "--limit=1", "--format=value(projectId)"), "demo-project\n")
}

// With --require-auth: no token is 401; a caller without the permission,
// or a project that does not exist, is Google's 403.
func TestProjectsRequireAuth(t *testing.T) {
	e := start(t, func(c *server.Config) { c.RequireAuth = true })
	b, err := os.ReadFile(e.s.Addrs.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))

	r := iamRunAs(e, "", "", "projects", "describe", "demo-project")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "UNAUTHENTICATED: ") {
		t.Errorf("no token: %v", r.code)
	}
	r = iamRunAs(e, admin, "", "projects", "describe", "nowhere-project")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "PERMISSION_DENIED: ") {
		t.Errorf("missing project: %v", r.code)
	}
	r = iamRunAs(e, admin, "", "projects", "get-iam-policy", "nowhere-project")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "PERMISSION_DENIED: ") {
		t.Errorf("policy of a missing project: %v", r.code)
	}
	if r := iamRunAs(e, admin, "", "projects", "create", "real-project"); r.code != nil {
		t.Fatalf("admin create: %v", r.code)
	}
	r = iamRunAs(e, admin, "", "projects", "add-iam-policy-binding", "real-project", "--member=user:eve@example.com", "--role=roles/viewer")
	if r.code != nil {
		t.Fatalf("admin binding: %v", r.code)
	}
	iamSame(t, "admin list", iamRunAs(e, admin, "", "projects", "list", "--format=value(projectId)").out, "real-project\n")
}

// iamRaceTransport makes a concurrent change to the policy just before the
// first setIamPolicy it carries, so that one fails on its stale etag.
type iamRaceTransport struct {
	t     *testing.T
	e     *env
	raced bool
	sets  int
}

func (rt *iamRaceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, ":setIamPolicy") {
		rt.sets++
		if !rt.raced {
			rt.raced = true
			rt.e.ok("projects", "add-iam-policy-binding", "demo-project", "--member=user:racer@example.com", "--role=roles/viewer")
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A concurrent change between the read and the write (409 ABORTED) makes
// gcloud redo the whole read-modify-write; so does oidcron, and neither
// change is lost.
func TestProjectsBindingRetriesOnConflict(t *testing.T) {
	e := start(t)
	e.ok("projects", "get-iam-policy", "demo-project")
	rt := &iamRaceTransport{t: t, e: e}
	r := iamRunWith(e, "", &http.Client{Transport: rt}, "", "projects", "add-iam-policy-binding", "demo-project",
		"--member=user:me@example.com", "--role=roles/editor")
	if r.code != nil {
		t.Fatalf("add: %v", r.code)
	}
	if rt.sets != 2 {
		t.Errorf("%d setIamPolicy calls, want 2 (one refused, one retried)", rt.sets)
	}
	out := e.ok("projects", "get-iam-policy", "demo-project", "--flatten=bindings[].members",
		"--filter=bindings.members:example.com", "--format=value(bindings.role,bindings.members)")
	iamSame(t, "both changes", out, "roles/editor\tuser:me@example.com\nroles/viewer\tuser:racer@example.com\n")
}
