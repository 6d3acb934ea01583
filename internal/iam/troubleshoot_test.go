package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
)

func TestMemberIncludes(t *testing.T) {
	sa := Subject{Member: jobSA}
	tests := []struct {
		entry string
		sub   Subject
		want  Membership
	}{
		{jobSA, sa, MembershipIncluded},
		{"serviceAccount:JOB@p.iam.gserviceaccount.com", sa, MembershipIncluded},
		{"user:job@p.iam.gserviceaccount.com", sa, MembershipNotIncluded},
		{"domain:p.iam.gserviceaccount.com", sa, MembershipIncluded},
		{"allAuthenticatedUsers", sa, MembershipIncluded},
		{"allUsers", sa, MembershipIncluded},
		{alice, sa, MembershipNotIncluded},
		{alice, Subject{Member: alice}, MembershipIncluded},
		{"group:g@example.com", sa, MembershipUnsupported},
		{"principalSet://iam.googleapis.com/locations/global/workforcePools/p/*", sa, MembershipUnsupported},
		{"deleted:serviceAccount:job@p.iam.gserviceaccount.com?uid=1", sa, MembershipNotIncluded},
		{"allAuthenticatedUsers", Subject{Anonymous: true}, MembershipNotIncluded},
	}
	for _, tt := range tests {
		if got := MemberIncludes(tt.entry, tt.sub); got != tt.want {
			t.Errorf("MemberIncludes(%q, %v) = %s, want %s", tt.entry, tt.sub, got, tt.want)
		}
	}
}

// readableExcept reads every policy but the named ones.
func readableExcept(hidden ...string) func(string) bool {
	return func(r string) bool {
		for _, h := range hidden {
			if r == h {
				return false
			}
		}
		return true
	}
}

func troubleshoot(t *testing.T, sub Subject, permission string, policies map[string]*iampb.Policy, readable func(string) bool) Troubleshooting {
	t.Helper()
	src := &mapSource{policies: policies}
	ts, err := Troubleshoot(context.Background(), src, sub, permission, fn, readable)
	if err != nil {
		t.Fatal(err)
	}
	if src.calls != 1 {
		t.Errorf("the ancestry was read %d times, want once", src.calls)
	}
	if len(ts.Chain) != 3 || len(ts.Policies) != 3 {
		t.Fatalf("chain %d, policies %d: want one entry per node", len(ts.Chain), len(ts.Policies))
	}
	return ts
}

// summary is a compact rendering of the annotations, one line per policy.
func summary(ts Troubleshooting) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", ts.Access)
	for _, p := range ts.Policies {
		fmt.Fprintf(&b, "%s %s %s", p.Resource, p.Access, p.Relevance)
		for _, bd := range p.Bindings {
			fmt.Fprintf(&b, " [%s %s %s role:%s", bd.Role, bd.Access, bd.Relevance, bd.RolePermissionRelevance)
			for _, m := range bd.Memberships {
				fmt.Fprintf(&b, " %s=%s/%s", m.Member, strings.TrimPrefix(string(m.Membership), "MEMBERSHIP_"), m.Relevance)
			}
			b.WriteString("]")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestTroubleshootGranted(t *testing.T) {
	ts := troubleshoot(t, Subject{Member: jobSA}, invoke, map[string]*iampb.Policy{
		fn:   policy(binding("roles/cloudfunctions.viewer", jobSA)),
		proj: policy(binding(invoker, alice, jobSA), binding("roles/editor", alice)),
	}, readableExcept(RootResource))
	want := `GRANTED
projects/p/locations/us-central1/functions/hello NOT_GRANTED NORMAL [roles/cloudfunctions.viewer NOT_GRANTED NORMAL role:HIGH serviceAccount:job@p.iam.gserviceaccount.com=INCLUDED/NORMAL]
projects/p GRANTED HIGH [roles/cloudfunctions.invoker GRANTED HIGH role:HIGH user:alice@example.com=NOT_INCLUDED/NORMAL serviceAccount:job@p.iam.gserviceaccount.com=INCLUDED/HIGH] [roles/editor NOT_GRANTED NORMAL role:NORMAL user:alice@example.com=NOT_INCLUDED/HIGH]
//oidcron UNKNOWN_INFO_DENIED 
`
	if got := summary(ts); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(ts.Notes) != 0 {
		t.Errorf("notes %v", ts.Notes)
	}
	if ts.Policies[2].Bindings != nil {
		t.Error("a policy the caller may not read shows its bindings")
	}
	if !ts.Decision.Granted || ts.Chain[1].Policy.GetBindings()[0].GetRole() != invoker {
		t.Errorf("decision %+v, chain %v", ts.Decision, ts.Chain)
	}
}

func TestTroubleshootNotGranted(t *testing.T) {
	policies := map[string]*iampb.Policy{
		proj: policy(binding(invoker, alice), binding("roles/viewer", jobSA)),
	}
	// Every policy readable: a definite no, the binding whose role holds
	// the permission marked as the one that matters.
	ts := troubleshoot(t, Subject{Member: jobSA}, invoke, policies, nil)
	want := `NOT_GRANTED
projects/p/locations/us-central1/functions/hello NOT_GRANTED NORMAL
projects/p NOT_GRANTED HIGH [roles/cloudfunctions.invoker NOT_GRANTED HIGH role:NORMAL user:alice@example.com=NOT_INCLUDED/HIGH] [roles/viewer NOT_GRANTED NORMAL role:HIGH serviceAccount:job@p.iam.gserviceaccount.com=INCLUDED/NORMAL]
//oidcron NOT_GRANTED NORMAL
`
	if got := summary(ts); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if ts.Policies[0].Bindings == nil || len(ts.Policies[0].Bindings) != 0 {
		t.Errorf("a readable policy without bindings: %#v", ts.Policies[0].Bindings)
	}
	// The root hidden: it could grant, so the answer is unknown.
	ts = troubleshoot(t, Subject{Member: jobSA}, invoke, policies, readableExcept(RootResource))
	if ts.Access != UnknownInfoDenied || ts.Policies[2].Access != UnknownInfoDenied || ts.Policies[1].Access != NotGranted {
		t.Errorf("root hidden:\n%s", summary(ts))
	}
}

// A grant in a policy the caller may not read is not revealed.
func TestTroubleshootHiddenGrant(t *testing.T) {
	ts := troubleshoot(t, Subject{Member: jobSA}, invoke, map[string]*iampb.Policy{
		RootResource: policy(binding(invoker, jobSA)),
	}, readableExcept(RootResource))
	if !ts.Decision.Granted || ts.Access != UnknownInfoDenied {
		t.Errorf("got %s (decision %v), want UNKNOWN_INFO_DENIED", ts.Access, ts.Decision.Granted)
	}
	ts = troubleshoot(t, Subject{Member: jobSA}, invoke, map[string]*iampb.Policy{
		RootResource: policy(binding(invoker, jobSA)),
	}, nil)
	if ts.Access != Granted || ts.Policies[2].Relevance != RelevanceHigh || ts.Policies[1].Relevance != RelevanceNormal {
		t.Errorf("root readable:\n%s", summary(ts))
	}
}

func TestTroubleshootConditional(t *testing.T) {
	ts := troubleshoot(t, Subject{Member: jobSA}, invoke, map[string]*iampb.Policy{
		fn: {Version: 3, Bindings: []*iampb.Binding{withCondition(binding(invoker, jobSA), "weekdays", "true")}},
	}, nil)
	want := `NOT_GRANTED
projects/p/locations/us-central1/functions/hello UNKNOWN_CONDITIONAL HIGH [roles/cloudfunctions.invoker UNKNOWN_CONDITIONAL HIGH role:HIGH serviceAccount:job@p.iam.gserviceaccount.com=INCLUDED/HIGH]
projects/p NOT_GRANTED NORMAL
//oidcron NOT_GRANTED NORMAL
`
	if got := summary(ts); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(ts.Notes) != 1 || ts.Notes[0].Code != codes.Unimplemented || !strings.Contains(ts.Notes[0].Message, "oidcron does not evaluate IAM conditions") {
		t.Errorf("notes %v", ts.Notes)
	}
}

// A disabled account is granted nothing: the policies say they would grant,
// the answer says no, and a note says why, whatever else is hidden.
func TestTroubleshootDisabled(t *testing.T) {
	for _, readable := range []func(string) bool{nil, readableExcept(RootResource)} {
		ts := troubleshoot(t, Subject{Member: jobSA, Disabled: true}, invoke, map[string]*iampb.Policy{
			proj: policy(binding(invoker, jobSA)),
		}, readable)
		if ts.Access != NotGranted || ts.Policies[1].Access != Granted || ts.Policies[1].Relevance != RelevanceHigh {
			t.Errorf("disabled:\n%s", summary(ts))
		}
		if len(ts.Notes) != 1 || ts.Notes[0].Code != codes.FailedPrecondition || !strings.Contains(ts.Notes[0].Message, "is disabled") {
			t.Errorf("notes %v", ts.Notes)
		}
	}
}

// No hidden policy can grant a permission no role contains.
func TestTroubleshootUnknownPermission(t *testing.T) {
	ts := troubleshoot(t, Subject{Member: jobSA}, "compute.instances.get", map[string]*iampb.Policy{
		proj: policy(binding("roles/owner", jobSA)),
	}, readableExcept(RootResource))
	if ts.Access != NotGranted || ts.Policies[1].Bindings[0].RolePermissionRelevance != RelevanceHigh {
		t.Errorf("unknown permission:\n%s", summary(ts))
	}
	if len(ts.Notes) != 1 || ts.Notes[0].Code != codes.NotFound || !strings.Contains(ts.Notes[0].Message, "unknown to oidcron") {
		t.Errorf("notes %v", ts.Notes)
	}
}

func TestTroubleshootUnresolvedMembers(t *testing.T) {
	ts := troubleshoot(t, Subject{Member: jobSA}, invoke, map[string]*iampb.Policy{
		proj: policy(binding(invoker, "group:g@example.com", "deleted:serviceAccount:job@p.iam.gserviceaccount.com?uid=7")),
		// A group in a binding whose role lacks the permission is not worth a note.
		fn: policy(binding("roles/cloudfunctions.viewer", "group:other@example.com")),
	}, nil)
	want := `NOT_GRANTED
projects/p/locations/us-central1/functions/hello NOT_GRANTED NORMAL [roles/cloudfunctions.viewer NOT_GRANTED NORMAL role:NORMAL group:other@example.com=UNKNOWN_UNSUPPORTED/NORMAL]
projects/p NOT_GRANTED HIGH [roles/cloudfunctions.invoker NOT_GRANTED HIGH role:NORMAL group:g@example.com=UNKNOWN_UNSUPPORTED/HIGH deleted:serviceAccount:job@p.iam.gserviceaccount.com?uid=7=NOT_INCLUDED/HIGH]
//oidcron NOT_GRANTED NORMAL
`
	if got := summary(ts); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	var msgs []string
	for _, n := range ts.Notes {
		msgs = append(msgs, fmt.Sprintf("%s: %s", n.Code, n.Message))
	}
	wantNotes := []string{
		"Unimplemented: group:g@example.com in the binding of roles/cloudfunctions.invoker on projects/p: group membership is not resolved by oidcron, so it matches no one.",
		"NotFound: deleted:serviceAccount:job@p.iam.gserviceaccount.com?uid=7 in the binding of roles/cloudfunctions.invoker on projects/p: a deleted principal matches nothing.",
	}
	if strings.Join(msgs, "\n") != strings.Join(wantNotes, "\n") {
		t.Errorf("notes\n got: %q\nwant: %q", msgs, wantNotes)
	}
}

func TestTroubleshootSourceFailures(t *testing.T) {
	_, err := Troubleshoot(context.Background(), brokenSource{err: errors.New("disk on fire")}, Subject{Member: jobSA}, invoke, fn, nil)
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("source error: %v", err)
	}
	_, err = Troubleshoot(context.Background(), brokenSource{chain: []Node{{Resource: fn}}}, Subject{Member: jobSA}, invoke, fn, nil)
	if err == nil {
		t.Error("a chain that is not the ancestry was accepted")
	}
	ts, err := Troubleshoot(context.Background(), &mapSource{}, Subject{Member: jobSA}, invoke, "folders/1", nil)
	if err != nil || ts.Access != NotGranted || len(ts.Policies) != 0 || len(ts.Notes) != 1 || ts.Notes[0].Code != codes.InvalidArgument {
		t.Errorf("unknown resource: %+v, %v", ts, err)
	}
}
