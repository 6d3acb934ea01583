package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// `iam troubleshoot` against a real server: the walkthrough's question (may
// the job's account invoke the function?) before and after the fix, printed
// as gcloud prints Policy Troubleshooter's answer, with a line on stderr
// saying what it means.
func TestIAMTroubleshoot(t *testing.T) {
	e := start(t)
	up := doctorUpstream(t)
	w := newDoctorWorld(e, "tsproj", up, false)
	fn := "//cloudfunctions.googleapis.com/projects/tsproj/locations/us-central1/functions/hello"
	proj := "//cloudresourcemanager.googleapis.com/projects/tsproj"

	// The usual wrong fix: the invoker role on the function, for the
	// scheduler's service agent.
	e.ok("functions", "add-iam-policy-binding", "hello", "--region=us-central1", "--project=tsproj",
		"--member=serviceAccount:"+w.agent(), "--role=roles/cloudfunctions.invoker")
	r := e.run("", "iam", "troubleshoot", fn, "--principal="+w.sa, "--permission=cloudfunctions.functions.invoke")
	if r.code != nil {
		t.Fatalf("troubleshoot: %v\n%s", r.code, r.err)
	}
	wantErr := "NOT_GRANTED: " + w.sa + " does not have cloudfunctions.functions.invoke on " + fn +
		": roles/cloudfunctions.invoker on " + fn + " contains it, but " + w.sa + " is not among its members.\n"
	if r.err != wantErr {
		t.Errorf("stderr\n got: %q\nwant: %q", r.err, wantErr)
	}
	// gcloud's YAML: keys sorted, the verdict first, each policy nearest first.
	for _, want := range []string{
		"access: NOT_GRANTED\nexplainedPolicies:\n- access: NOT_GRANTED\n  bindingExplanations:\n  - access: NOT_GRANTED\n    memberships:\n",
		"      serviceAccount:" + w.agent() + ":\n        membership: MEMBERSHIP_NOT_INCLUDED\n        relevance: HIGH\n    relevance: HIGH\n    role: roles/cloudfunctions.invoker\n    rolePermission: ROLE_PERMISSION_INCLUDED\n    rolePermissionRelevance: NORMAL\n  fullResourceName: " + fn + "\n",
		"  fullResourceName: " + proj + "\n",
		"  fullResourceName: //oidcron\n",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.out)
		}
	}

	// The fix; gcloud's flag spelling and --resource work too.
	e.ok("projects", "add-iam-policy-binding", "tsproj", "--member=serviceAccount:"+w.sa, "--role=roles/cloudfunctions.invoker")
	r = e.run("", "iam", "troubleshoot", "--resource="+fn, "--principal-email="+w.sa, "--permission=cloudfunctions.functions.invoke", "--format=json")
	if r.code != nil {
		t.Fatalf("troubleshoot: %v\n%s", r.code, r.err)
	}
	var resp struct {
		Access            string
		ExplainedPolicies []struct{ Access, FullResourceName string }
	}
	if err := json.Unmarshal([]byte(r.out), &resp); err != nil {
		t.Fatalf("--format=json: %v\n%s", err, r.out)
	}
	if resp.Access != "GRANTED" || len(resp.ExplainedPolicies) != 3 || resp.ExplainedPolicies[1].Access != "GRANTED" || resp.ExplainedPolicies[1].FullResourceName != proj {
		t.Errorf("after the fix: %+v", resp)
	}
	wantErr = "GRANTED: " + w.sa + " has cloudfunctions.functions.invoke on " + fn +
		": roles/cloudfunctions.invoker is granted to serviceAccount:" + w.sa + " on " + proj + ".\n"
	if r.err != wantErr {
		t.Errorf("stderr\n got: %q\nwant: %q", r.err, wantErr)
	}

	// A disabled account holds nothing, whatever the policies say.
	e.ok("iam", "service-accounts", "disable", w.sa, "--project=tsproj")
	r = e.run("", "iam", "troubleshoot", fn, "--principal=serviceAccount:"+w.sa, "--permission=cloudfunctions.functions.invoke", "--format=value(access)")
	if r.code != nil || r.out != "NOT_GRANTED\n" || !strings.Contains(r.err, "is disabled: a disabled service account is granted nothing.") {
		t.Errorf("disabled: %v %q %q", r.code, r.out, r.err)
	}
}

// Bad input is refused before any request, naming the argument; the
// server's refusals read as gcloud's errors.
func TestIAMTroubleshootErrors(t *testing.T) {
	e := start(t)
	fn := "//cloudfunctions.googleapis.com/projects/tsproj/locations/us-central1/functions/hello"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--permission=cloudfunctions.functions.invoke"}, "argument RESOURCE --principal: Must be specified."},
		{[]string{fn, "--principal=a@example.com"}, "argument --permission: Must be specified."},
		{[]string{fn, "--resource=//cloudresourcemanager.googleapis.com/projects/tsproj", "--principal=a@example.com", "--permission=x.y.z"}, "argument RESOURCE: give the resource once"},
		{[]string{fn, "--principal=a@example.com", "--principal-email=b@example.com", "--permission=x.y.z"}, "argument --principal: --principal and --principal-email name the same principal"},
		{[]string{"projects/tsproj", "--principal=a@example.com", "--permission=x.y.z"}, `Invalid value for [RESOURCE]: "projects/tsproj" is not a full resource name (//SERVICE.googleapis.com/NAME); for a project: //cloudresourcemanager.googleapis.com/projects/tsproj.`},
		{[]string{fn, "extra", "--principal=a@example.com", "--permission=x.y.z"}, unrecognizedOne("extra")},
		{[]string{fn, "--principal=group:g@example.com", "--permission=cloudfunctions.functions.invoke"}, `INVALID_ARGUMENT: access_tuple.principal: "group:g@example.com" is not supported`},
		{[]string{fn, "--principal=a@example.com", "--permission=invoke"}, `INVALID_ARGUMENT: access_tuple.permission: "invoke" is not a permission of the form SERVICE.RESOURCE.VERB`},
	} {
		r := e.run("", append([]string{"iam", "troubleshoot"}, tt.args...)...)
		if r.code == nil || !strings.HasPrefix(r.code.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.args, r.code, tt.want)
		}
	}
	// A project that does not exist: troubleshooting creates nothing, and
	// the dev user may not read the root's policy, so nothing is known.
	r := e.run("", "iam", "troubleshoot", "//cloudresourcemanager.googleapis.com/projects/nowhere", "--principal=a@example.com", "--permission=resourcemanager.projects.get")
	if r.code != nil || !strings.HasPrefix(r.out, "access: UNKNOWN_INFO_DENIED\n") ||
		!strings.HasPrefix(r.err, "UNKNOWN_INFO_DENIED: whether a@example.com has resourcemanager.projects.get on //cloudresourcemanager.googleapis.com/projects/nowhere depends on policies you may not read (2 of 2)") {
		t.Errorf("missing project: %v\n%s\n%s", r.code, r.out, r.err)
	}
	if out := e.ok("projects", "list", "--format=value(projectId)"); strings.Contains(out, "nowhere") {
		t.Errorf("troubleshooting created the project: %s", out)
	}
}
