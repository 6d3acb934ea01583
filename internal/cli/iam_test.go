package cli_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/server"
)

// The third command of the story prints what gcloud prints.
func TestIAMServiceAccountsCreateStory(t *testing.T) {
	e := start(t)
	r := e.run("", "iam", "service-accounts", "create", "scheduler-invoker", "--display-name", "Scheduler Invoker", "--project", "demo-project")
	if r.code != nil {
		t.Fatalf("create: %v", r.code)
	}
	iamSame(t, "create stdout", r.out, "")
	iamSame(t, "create stderr", r.err, "Created service account [scheduler-invoker].\n")

	email := "scheduler-invoker@demo-project.iam.gserviceaccount.com"
	sa := iamJSON(t, e.ok("iam", "service-accounts", "describe", email, "--format=json"))
	if sa["email"] != email || sa["displayName"] != "Scheduler Invoker" || sa["projectId"] != "demo-project" {
		t.Errorf("describe: %v", sa)
	}
	iamSame(t, "describe yaml", e.ok("iam", "service-accounts", "describe", email),
		"displayName: Scheduler Invoker\nemail: "+email+"\netag: "+sa["etag"].(string)+"\n"+
			"name: projects/demo-project/serviceAccounts/"+email+"\noauth2ClientId: '"+sa["oauth2ClientId"].(string)+"'\n"+
			"projectId: demo-project\nuniqueId: '"+sa["uniqueId"].(string)+"'\n")
	// By unique id too.
	iamSame(t, "describe by id", e.ok("iam", "service-accounts", "describe", sa["uniqueId"].(string), "--format=value(email)"), email+"\n")

	// --format shows the created account, as gcloud's does.
	out := e.ok("iam", "service-accounts", "create", "other-account", "--description=for tests", "--project", "demo-project", "--format=value(email,description)")
	iamSame(t, "create --format", out, "other-account@demo-project.iam.gserviceaccount.com\tfor tests\n")

	// A second create is gcloud's conflict message.
	iamFails(t, e, "Resource in projects [demo-project] is the subject of a conflict: Service account scheduler-invoker already exists within project projects/demo-project.",
		"iam", "service-accounts", "create", "scheduler-invoker", "--project", "demo-project")
	// The server checks the name.
	r = e.run("", "iam", "service-accounts", "create", "Bad_Name", "--project", "demo-project")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "INVALID_ARGUMENT: ") {
		t.Errorf("bad name: %v", r.code)
	}
	// No project: gcloud's message.
	r = e.run("", "iam", "service-accounts", "create", "scheduler-invoker")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "The required property [project] is not currently set.") {
		t.Errorf("no project: %v", r.code)
	}
}

func TestIAMServiceAccountsLifecycle(t *testing.T) {
	e := start(t)
	e.ok("iam", "service-accounts", "create", "scheduler-invoker", "--display-name", "Scheduler Invoker", "--project", "demo-project")
	e.ok("iam", "service-accounts", "create", "backup-runner", "--project", "demo-project")
	inv := "scheduler-invoker@demo-project.iam.gserviceaccount.com"
	bak := "backup-runner@demo-project.iam.gserviceaccount.com"

	r := e.run("", "iam", "service-accounts", "list", "--project", "empty-project")
	if r.code != nil || r.out != "" || r.err != "Listed 0 items.\n" {
		t.Errorf("empty list: %v %q %q", r.code, r.out, r.err)
	}

	// list: gcloud's table.
	iamSame(t, "list", e.ok("iam", "service-accounts", "list", "--project", "demo-project"), iamTable(
		[]string{"DISPLAY NAME", "EMAIL", "DISABLED"},
		[]string{"", bak, "False"},
		[]string{"Scheduler Invoker", inv, "False"},
	))

	// disable / enable.
	r = e.run("", "iam", "service-accounts", "disable", inv)
	if r.code != nil {
		t.Fatalf("disable: %v", r.code)
	}
	iamSame(t, "disable", r.out+r.err, "Disabled service account ["+inv+"].\n")
	iamSame(t, "list disabled", e.ok("iam", "service-accounts", "list", "--project", "demo-project", "--filter=disabled=true", "--format=value(email)"), inv+"\n")
	r = e.run("", "iam", "service-accounts", "enable", inv)
	if r.code != nil {
		t.Fatalf("enable: %v", r.code)
	}
	iamSame(t, "enable", r.out+r.err, "Enabled service account ["+inv+"].\n")

	// delete: the prompt reads stdin, terminal or not (gcloud's
	// PromptContinue with cancel_on_no): "n" aborts, the end of the input
	// takes the default; then gcloud's line.
	uid := strings.TrimSpace(e.ok("iam", "service-accounts", "describe", bak, "--format=value(uniqueId)"))
	prompt := "You are about to delete service account \n[" + bak + "]\n\nDo you want to continue (Y/n)?  \n"
	r = e.run("n\n", "iam", "service-accounts", "delete", bak)
	if !errors.Is(r.code, cli.ErrAborted) {
		t.Fatalf("declined delete: %v", r.code)
	}
	iamSame(t, "declined delete", r.out+r.err, prompt)
	e.ok("iam", "service-accounts", "describe", bak)
	r = e.run("", "iam", "service-accounts", "delete", bak)
	if r.code != nil {
		t.Fatalf("delete: %v", r.code)
	}
	iamSame(t, "delete", r.out+r.err, prompt+"deleted service account ["+bak+"]\n")
	r = e.run("", "iam", "service-accounts", "describe", bak)
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "PERMISSION_DENIED: ") && !strings.HasPrefix(r.code.Error(), "NOT_FOUND: ") {
		t.Errorf("describe deleted: %v", r.code)
	}
	iamSame(t, "list after delete", e.ok("iam", "service-accounts", "list", "--project", "demo-project", "--format=value(email)"), inv+"\n")

	// undelete takes the unique id, as gcloud's does, and prints the restored account.
	iamFails(t, e, "Invalid value for [account_id]: Account unique ID should be a number. Please double check your input and try again.",
		"iam", "service-accounts", "undelete", bak)
	out := e.ok("iam", "service-accounts", "undelete", uid)
	if !strings.HasPrefix(out, "restoredAccount:\n") || !strings.Contains(out, "  email: "+bak+"\n") {
		t.Errorf("undelete:\n%s", out)
	}
	iamSame(t, "describe undeleted", e.ok("iam", "service-accounts", "describe", bak, "--format=value(uniqueId)"), uid+"\n")

	// Missing accounts and bad identifiers.
	ghost := "ghost-account@demo-project.iam.gserviceaccount.com"
	for _, verb := range []string{"describe", "disable", "enable", "get-iam-policy"} {
		r := e.run("", "iam", "service-accounts", verb, ghost)
		if r.code == nil || !strings.HasPrefix(r.code.Error(), "PERMISSION_DENIED: ") && !strings.HasPrefix(r.code.Error(), "NOT_FOUND: ") {
			t.Errorf("%s of a missing account: %v", verb, r.code)
		}
	}
	r = e.run("", "iam", "service-accounts", "delete", ghost, "--quiet")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "PERMISSION_DENIED: ") && !strings.HasPrefix(r.code.Error(), "NOT_FOUND: ") {
		t.Errorf("delete of a missing account: %v", r.code)
	}
	iamFails(t, e, "argument SERVICE_ACCOUNT: Bad value [scheduler-invoker]: Not a valid service account identifier. "+
		"It should be either a numeric string representing the unique_id or an email of the form: "+
		"my-iam-account@somedomain.com or my-iam-account@PROJECT_ID.iam.gserviceaccount.com",
		"iam", "service-accounts", "describe", "scheduler-invoker")
	iamFails(t, e, "argument SERVICE_ACCOUNT: Must be specified.", "iam", "service-accounts", "disable")
	iamFails(t, e, unrecognizedOne("extra"), "iam", "service-accounts", "list", "extra", "--project", "demo-project")
}

func TestIAMServiceAccountsPolicy(t *testing.T) {
	e := start(t)
	e.ok("iam", "service-accounts", "create", "scheduler-invoker", "--project", "demo-project")
	sa := "scheduler-invoker@demo-project.iam.gserviceaccount.com"

	iamSame(t, "empty policy", e.ok("iam", "service-accounts", "get-iam-policy", sa), "etag: ACAB\nversion: 1\n")

	r := e.run("", "iam", "service-accounts", "add-iam-policy-binding", sa, "--member=user:dev@oidcron.local", "--role=roles/iam.serviceAccountTokenCreator")
	if r.code != nil {
		t.Fatalf("add: %v", r.code)
	}
	iamSame(t, "add stderr", r.err, "Updated IAM policy for serviceAccount ["+sa+"].\n")
	etag := strings.TrimSpace(e.ok("iam", "service-accounts", "get-iam-policy", sa, "--format=value(etag)"))
	want := "bindings:\n- members:\n  - user:dev@oidcron.local\n  role: roles/iam.serviceAccountTokenCreator\netag: " + etag + "\nversion: 1\n"
	iamSame(t, "add stdout", r.out, want)
	iamSame(t, "get-iam-policy", e.ok("iam", "service-accounts", "get-iam-policy", sa), want)

	// Not there: gcloud's message for the commands that take conditions,
	// as the service account ones do in every track.
	iamFails(t, e, "Policy binding with the specified principal, role, and condition not found!",
		"iam", "service-accounts", "remove-iam-policy-binding", sa, "--member=user:other@example.com", "--role=roles/iam.serviceAccountTokenCreator")
	iamFails(t, e, "argument --member --role: Must be specified.", "iam", "service-accounts", "add-iam-policy-binding", sa)
	r = e.run("", "iam", "service-accounts", "add-iam-policy-binding", sa, "--member=serviceAccount:not-an-email", "--role=roles/iam.serviceAccountUser")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "Invalid value for [--member]: ") {
		t.Errorf("bad member: %v", r.code)
	}

	r = e.run("", "iam", "service-accounts", "remove-iam-policy-binding", sa, "--member=user:dev@oidcron.local", "--role=roles/iam.serviceAccountTokenCreator")
	if r.code != nil {
		t.Fatalf("remove: %v", r.code)
	}
	iamSame(t, "remove stderr", r.err, "Updated IAM policy for serviceAccount ["+sa+"].\n")
	if strings.Contains(r.out, "bindings") {
		t.Errorf("binding left:\n%s", r.out)
	}
	// A role that cannot be granted on an account is the server's refusal.
	r = e.run("", "iam", "service-accounts", "add-iam-policy-binding", sa, "--member=user:dev@oidcron.local", "--role=roles/cloudscheduler.admin")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "INVALID_ARGUMENT: ") {
		t.Errorf("scheduler role on an account: %v", r.code)
	}
}

func TestIAMRoles(t *testing.T) {
	e := start(t)
	out := e.ok("iam", "roles", "describe", "roles/cloudfunctions.invoker")
	for _, want := range []string{"includedPermissions:\n- cloudfunctions.functions.invoke\n", "name: roles/cloudfunctions.invoker\n", "stage: GA\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	iamFails(t, e, "NOT_FOUND: The role named roles/no.such was not found.", "iam", "roles", "describe", "roles/no.such")
	iamFails(t, e, "Missing required argument [--organization or --project]: Should specify the project or organization name for custom roles.",
		"iam", "roles", "describe", "viewer")
	iamFails(t, e, "Invalid value for [ROLE_ID]: The role id that starts with 'roles/' only stands for predefined role. "+
		"Should not specify the project or organization for predefined roles",
		"iam", "roles", "describe", "roles/viewer", "--project", "demo-project")

	list := e.ok("iam", "roles", "list")
	if !strings.HasPrefix(list, "---\n") || !strings.Contains(list, "name: roles/cloudfunctions.invoker\n") ||
		!strings.Contains(list, "name: roles/owner\n") || strings.Contains(list, "includedPermissions") {
		t.Errorf("list:\n%s", list)
	}
	names := e.ok("iam", "roles", "list", "--format=value(name)")
	if !strings.Contains(names, "roles/run.invoker\n") || !strings.Contains(names, "roles/iam.serviceAccountTokenCreator\n") {
		t.Errorf("list names:\n%s", names)
	}
	iamSame(t, "list --limit", e.ok("iam", "roles", "list", "--limit=2", "--format=value(name)"),
		strings.Join(strings.SplitN(names, "\n", 3)[:2], "\n")+"\n")
	// Custom roles (an explicit --project) are not something oidcron has.
	r := e.run("", "iam", "roles", "list", "--project", "demo-project")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "INVALID_ARGUMENT: ") {
		t.Errorf("custom roles: %v", r.code)
	}
}

// With --require-auth, the account commands answer 401 without a token and
// 403 to a caller without the permission.
func TestIAMRequireAuth(t *testing.T) {
	e := start(t, func(c *server.Config) { c.RequireAuth = true })
	b, err := os.ReadFile(e.s.Addrs.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))
	if r := iamRunAs(e, admin, "", "projects", "create", "real-project"); r.code != nil {
		t.Fatal(r.code)
	}
	r := iamRunAs(e, "", "", "iam", "service-accounts", "list", "--project", "real-project")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "UNAUTHENTICATED: ") {
		t.Errorf("no token: %v", r.code)
	}
	r = iamRunAs(e, admin, "", "iam", "service-accounts", "create", "worker-account", "--project", "real-project")
	if r.code != nil {
		t.Fatalf("admin create: %v", r.code)
	}
	r = iamRunAs(e, admin, "", "iam", "service-accounts", "describe", "ghost-account@real-project.iam.gserviceaccount.com")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "PERMISSION_DENIED: ") {
		t.Errorf("missing account: %v", r.code)
	}
	r = iamRunAs(e, "not-a-token", "", "iam", "service-accounts", "describe", "worker-account@real-project.iam.gserviceaccount.com")
	if r.code == nil || !strings.HasPrefix(r.code.Error(), "UNAUTHENTICATED: ") {
		t.Errorf("bad token: %v", r.code)
	}
}
