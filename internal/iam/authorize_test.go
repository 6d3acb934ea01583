package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// mapSource serves policies from a map keyed by resource name; it is the
// input Authorize reads, standing in for the store.
type mapSource struct {
	policies map[string]*iampb.Policy
	calls    int
}

func (s *mapSource) Ancestry(_ context.Context, resource string) ([]Node, error) {
	s.calls++
	names, err := Ancestors(resource)
	if err != nil {
		return nil, err
	}
	chain := make([]Node, len(names))
	for i, n := range names {
		chain[i] = Node{Resource: n, Policy: s.policies[n]}
	}
	return chain, nil
}

type brokenSource struct {
	chain []Node
	err   error
}

func (s brokenSource) Ancestry(context.Context, string) ([]Node, error) { return s.chain, s.err }

const (
	fn      = "projects/p/locations/us-central1/functions/hello"
	proj    = "projects/p"
	jobSA   = "serviceAccount:job@p.iam.gserviceaccount.com"
	alice   = "user:alice@example.com"
	invoke  = "cloudfunctions.functions.invoke"
	invoker = "roles/cloudfunctions.invoker"
)

func chainOf(fnPolicy, projPolicy, rootPolicy *iampb.Policy) []Node {
	return []Node{{fn, fnPolicy}, {proj, projPolicy}, {RootResource, rootPolicy}}
}

func TestEvaluate(t *testing.T) {
	sa := Subject{Member: jobSA}
	tests := []struct {
		name      string
		sub       Subject
		perm      string
		chain     []Node
		granted   bool
		grantedBy *Grant
		reason    string
	}{
		{
			name: "granted on the resource", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding(invoker, jobSA)), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, jobSA},
			reason: "granted by roles/cloudfunctions.invoker to serviceAccount:job@p.iam.gserviceaccount.com on " + fn,
		},
		{
			name: "inherited from the project", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding("roles/viewer", jobSA)), policy(binding(invoker, jobSA)), nil),
			granted: true, grantedBy: &Grant{proj, invoker, jobSA},
			reason: "granted by roles/cloudfunctions.invoker to serviceAccount:job@p.iam.gserviceaccount.com on projects/p",
		},
		{
			name: "inherited from the root", sub: Subject{Member: alice}, perm: "cloudscheduler.jobs.create",
			chain:   []Node{{proj, policy()}, {RootResource, policy(binding("roles/cloudscheduler.admin", "user:Alice@Example.com"))}},
			granted: true, grantedBy: &Grant{RootResource, "roles/cloudscheduler.admin", "user:Alice@Example.com"},
			reason: "granted by roles/cloudscheduler.admin to user:Alice@Example.com on //oidcron",
		},
		{
			name: "nearest grant wins", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding("roles/cloudfunctions.developer", jobSA)), nil, policy(binding("roles/owner", jobSA))),
			granted: true, grantedBy: &Grant{fn, "roles/cloudfunctions.developer", jobSA},
			reason: "granted by roles/cloudfunctions.developer to serviceAccount:job@p.iam.gserviceaccount.com on " + fn,
		},
		{
			name: "member mismatch", sub: sa, perm: invoke,
			chain: chainOf(policy(binding(invoker, "serviceAccount:other@p.iam.gserviceaccount.com")), nil, nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: roles/cloudfunctions.invoker on ` + fn + ` contains it, but serviceAccount:job@p.iam.gserviceaccount.com is not among the binding's members`,
		},
		{
			name: "member mismatch with a group and a deleted principal", sub: sa, perm: invoke,
			chain: chainOf(nil, policy(binding(invoker, "group:jobs@example.com", "deleted:serviceAccount:job@p.iam.gserviceaccount.com?uid=7")), nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: roles/cloudfunctions.invoker on projects/p contains it, but serviceAccount:job@p.iam.gserviceaccount.com is not among the binding's members` +
				` (group membership is not resolved by oidcron, so group: members match no one; deleted principals match nothing)`,
		},
		{
			name: "role lacks the permission", sub: sa, perm: invoke,
			chain: chainOf(policy(binding("roles/cloudfunctions.viewer", jobSA)), policy(binding("roles/run.invoker", jobSA)), nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: no binding in its policy or its ancestors' grants a role containing it to this principal`,
		},
		{
			name: "no policies at all", sub: sa, perm: invoke, chain: chainOf(nil, nil, nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: no binding in its policy or its ancestors' grants a role containing it to this principal`,
		},
		{
			name: "allUsers grants the anonymous caller", sub: Subject{Anonymous: true}, perm: invoke,
			chain:   chainOf(policy(binding(invoker, "allUsers")), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, "allUsers"},
			reason: "granted by roles/cloudfunctions.invoker to allUsers on " + fn,
		},
		{
			name: "allUsers grants an authenticated caller", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding(invoker, "allUsers")), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, "allUsers"},
			reason: "granted by roles/cloudfunctions.invoker to allUsers on " + fn,
		},
		{
			name: "allAuthenticatedUsers grants an authenticated caller", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding(invoker, "allAuthenticatedUsers")), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, "allAuthenticatedUsers"},
			reason: "granted by roles/cloudfunctions.invoker to allAuthenticatedUsers on " + fn,
		},
		{
			name: "allAuthenticatedUsers does not cover the anonymous caller", sub: Subject{Anonymous: true}, perm: invoke,
			chain: chainOf(policy(binding(invoker, "allAuthenticatedUsers")), nil, nil),
			reason: `the caller presented no credentials: roles/cloudfunctions.invoker on ` + fn +
				` grants "cloudfunctions.functions.invoke" to allAuthenticatedUsers, which covers authenticated callers only; an unauthenticated caller holds only what is granted to allUsers`,
		},
		{
			name: "anonymous caller and a private function", sub: Subject{Anonymous: true}, perm: invoke,
			chain: chainOf(policy(binding(invoker, jobSA)), nil, nil),
			reason: `the caller presented no credentials, and no binding on ` + fn +
				` or its ancestors grants a role containing "cloudfunctions.functions.invoke" to allUsers, the only member that covers unauthenticated callers`,
		},
		{
			name: "anonymous caller ignores a member it names", sub: Subject{Anonymous: true, Member: jobSA}, perm: invoke,
			chain: chainOf(policy(binding(invoker, jobSA)), nil, nil),
			reason: `the caller presented no credentials, and no binding on ` + fn +
				` or its ancestors grants a role containing "cloudfunctions.functions.invoke" to allUsers, the only member that covers unauthenticated callers`,
		},
		{
			name: "domain covers a user", sub: Subject{Member: alice}, perm: invoke,
			chain:   chainOf(policy(binding(invoker, "domain:example.com")), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, "domain:example.com"},
			reason: "granted by roles/cloudfunctions.invoker to domain:example.com on " + fn,
		},
		{
			name: "domain covers a service account", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding(invoker, "domain:p.iam.gserviceaccount.com")), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, "domain:p.iam.gserviceaccount.com"},
			reason: "granted by roles/cloudfunctions.invoker to domain:p.iam.gserviceaccount.com on " + fn,
		},
		{
			name: "domain does not cover a subdomain", sub: Subject{Member: "user:bob@eu.example.com"}, perm: invoke,
			chain: chainOf(policy(binding(invoker, "domain:example.com")), nil, nil),
			reason: `user:bob@eu.example.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: roles/cloudfunctions.invoker on ` + fn + ` contains it, but user:bob@eu.example.com is not among the binding's members`,
		},
		{
			name: "the most specific member is named", sub: sa, perm: invoke,
			chain:   chainOf(policy(binding(invoker, "allAuthenticatedUsers", "allUsers", jobSA, "domain:p.iam.gserviceaccount.com")), nil, nil),
			granted: true, grantedBy: &Grant{fn, invoker, jobSA},
			reason: "granted by roles/cloudfunctions.invoker to serviceAccount:job@p.iam.gserviceaccount.com on " + fn,
		},
		{
			name: "user: does not cover a service account of the same email", sub: sa, perm: invoke,
			chain: chainOf(policy(binding(invoker, "user:job@p.iam.gserviceaccount.com")), nil, nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: roles/cloudfunctions.invoker on ` + fn + ` contains it, but serviceAccount:job@p.iam.gserviceaccount.com is not among the binding's members`,
		},
		{
			name: "disabled service account", sub: Subject{Member: jobSA, Disabled: true}, perm: invoke,
			chain: chainOf(nil, policy(binding(invoker, jobSA)), nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com is disabled: a disabled service account is granted nothing` +
				` (enabled, it would be granted "cloudfunctions.functions.invoke" by roles/cloudfunctions.invoker to serviceAccount:job@p.iam.gserviceaccount.com on projects/p)`,
		},
		{
			name: "disabled service account even for allUsers", sub: Subject{Member: jobSA, Disabled: true}, perm: invoke,
			chain: chainOf(policy(binding(invoker, "allUsers")), nil, nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com is disabled: a disabled service account is granted nothing` +
				` (enabled, it would be granted "cloudfunctions.functions.invoke" by roles/cloudfunctions.invoker to allUsers on ` + fn + `)`,
		},
		{
			name: "disabled service account without grants", sub: Subject{Member: jobSA, Disabled: true}, perm: invoke,
			chain:  chainOf(nil, nil, nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com is disabled: a disabled service account is granted nothing`,
		},
		{
			name: "conditional binding does not grant", sub: sa, perm: invoke,
			chain: chainOf(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding(invoker, jobSA), "weekdays", "request.time.getDayOfWeek() < 5")}}, nil, nil),
			reason: `serviceAccount:job@p.iam.gserviceaccount.com lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: roles/cloudfunctions.invoker on ` + fn + ` would grant it to serviceAccount:job@p.iam.gserviceaccount.com (covering serviceAccount:job@p.iam.gserviceaccount.com), but only under a condition, and oidcron does not evaluate IAM conditions, so conditional bindings never grant`,
		},
		{
			name: "a conditional binding beside an unconditional one", sub: sa, perm: invoke,
			chain: chainOf(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding(invoker, jobSA), "t", "false")}},
				policy(binding(invoker, "allAuthenticatedUsers")), nil),
			granted: true, grantedBy: &Grant{proj, invoker, "allAuthenticatedUsers"},
			reason: "granted by roles/cloudfunctions.invoker to allAuthenticatedUsers on projects/p",
		},
		{
			name: "conditional allUsers and the anonymous caller", sub: Subject{Anonymous: true}, perm: invoke,
			chain: chainOf(&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{withCondition(binding(invoker, "allUsers"), "t", "true")}}, nil, nil),
			reason: `the unauthenticated caller lacks permission "cloudfunctions.functions.invoke" on ` + fn +
				`: roles/cloudfunctions.invoker on ` + fn + ` would grant it to allUsers (covering the unauthenticated caller), but only under a condition, and oidcron does not evaluate IAM conditions, so conditional bindings never grant`,
		},
		{
			name: "unknown permission", sub: sa, perm: "cloudfunctions.functions.invok",
			chain:  chainOf(policy(binding("roles/owner", jobSA)), nil, nil),
			reason: `permission "cloudfunctions.functions.invok" is unknown to oidcron: no role contains it, so no one holds it`,
		},
		{
			name: "owner cannot mint tokens", sub: Subject{Member: alice}, perm: "iam.serviceAccounts.getOpenIdToken",
			chain: []Node{{"projects/p/serviceAccounts/job@p.iam.gserviceaccount.com", nil}, {proj, policy(binding("roles/owner", alice))}, {RootResource, nil}},
			reason: `user:alice@example.com lacks permission "iam.serviceAccounts.getOpenIdToken" on projects/p/serviceAccounts/job@p.iam.gserviceaccount.com` +
				`: no binding in its policy or its ancestors' grants a role containing it to this principal`,
		},
		{
			name: "subject with an invalid member", sub: Subject{Member: "job@p.iam.gserviceaccount.com"}, perm: invoke,
			chain:  chainOf(policy(binding(invoker, "allUsers")), nil, nil),
			reason: `invalid subject "job@p.iam.gserviceaccount.com": invalid member "job@p.iam.gserviceaccount.com": policy members must be of the form "<type>:<value>", e.g. user:alice@example.com; nothing is granted`,
		},
		{
			name: "subject that is a group", sub: Subject{Member: "group:g@example.com"}, perm: invoke,
			chain:  chainOf(policy(binding(invoker, "group:g@example.com")), nil, nil),
			reason: `invalid subject "group:g@example.com": only user: and serviceAccount: principals make requests; nothing is granted`,
		},
		{
			name: "subject with neither member nor Anonymous", sub: Subject{}, perm: invoke,
			chain:  chainOf(policy(binding(invoker, "allUsers")), nil, nil),
			reason: `invalid subject "": a subject without credentials must be marked Anonymous; nothing is granted`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Evaluate(tt.sub, tt.perm, tt.chain[0].Resource, tt.chain)
			if d.Granted != tt.granted {
				t.Errorf("Granted = %v, want %v", d.Granted, tt.granted)
			}
			if (d.GrantedBy == nil) != (tt.grantedBy == nil) || (d.GrantedBy != nil && *d.GrantedBy != *tt.grantedBy) {
				t.Errorf("GrantedBy = %+v, want %+v", d.GrantedBy, tt.grantedBy)
			}
			if d.Reason != tt.reason {
				t.Errorf("Reason\n got: %s\nwant: %s", d.Reason, tt.reason)
			}
			if d.Subject != tt.sub || d.Permission != tt.perm {
				t.Errorf("decision does not echo the question: %+v", d)
			}
			if len(d.Policies) != len(tt.chain) {
				t.Fatalf("%d policy explanations for a chain of %d", len(d.Policies), len(tt.chain))
			}
			for i, n := range tt.chain {
				pe := d.Policies[i]
				if pe.Resource != n.Resource || pe.HasPolicy != (n.Policy != nil) || len(pe.Bindings) != len(n.Policy.GetBindings()) {
					t.Errorf("explanation %d = %+v for node %+v", i, pe, n)
				}
			}
			if strings.Contains(d.Reason, "\n") {
				t.Error("Reason spans several lines")
			}
		})
	}
}

func TestEvaluateExplanation(t *testing.T) {
	chain := chainOf(
		&iampb.Policy{Version: 3, Bindings: []*iampb.Binding{
			binding("roles/cloudfunctions.viewer", jobSA),
			withCondition(binding(invoker, jobSA), "t", "true"),
		}},
		policy(binding(invoker, "group:g@example.com", "user:bob@example.com"), binding("roles/editor", "domain:p.iam.gserviceaccount.com")),
		policy(),
	)
	d := Evaluate(Subject{Member: jobSA}, invoke, fn, chain)
	if !d.Granted || *d.GrantedBy != (Grant{proj, "roles/editor", "domain:p.iam.gserviceaccount.com"}) {
		t.Fatalf("decision %+v", d)
	}
	want := []PolicyExplanation{
		{Resource: fn, HasPolicy: true, Bindings: []BindingExplanation{
			{Role: "roles/cloudfunctions.viewer", Members: []string{jobSA}, MatchedMember: jobSA},
			{Role: invoker, RoleGrantsPermission: true, Members: []string{jobSA}, MatchedMember: jobSA, Conditional: true},
		}},
		{Resource: proj, HasPolicy: true, Bindings: []BindingExplanation{
			{Role: invoker, RoleGrantsPermission: true, Members: []string{"group:g@example.com", "user:bob@example.com"}},
			{Role: "roles/editor", RoleGrantsPermission: true, Members: []string{"domain:p.iam.gserviceaccount.com"}, MatchedMember: "domain:p.iam.gserviceaccount.com"},
		}},
		{Resource: RootResource, HasPolicy: true, Bindings: []BindingExplanation{}},
	}
	if fmt.Sprintf("%+v", d.Policies) != fmt.Sprintf("%+v", want) {
		t.Errorf("Policies\n got: %+v\nwant: %+v", d.Policies, want)
	}
	// The explanation must not alias the policies it describes.
	d.Policies[0].Bindings[0].Members[0] = "user:x@x.com"
	if chain[0].Policy.Bindings[0].Members[0] != jobSA {
		t.Error("the explanation shares member slices with the policy")
	}

	text := Evaluate(Subject{Member: jobSA}, invoke, fn, chain).Explain()
	wantText := `GRANTED: granted by roles/editor to domain:p.iam.gserviceaccount.com on projects/p
  principal:  serviceAccount:job@p.iam.gserviceaccount.com
  permission: cloudfunctions.functions.invoke
  resource:   projects/p/locations/us-central1/functions/hello
Policies, nearest first:
  projects/p/locations/us-central1/functions/hello:
    roles/cloudfunctions.viewer: does not contain the permission; the principal is a member (as serviceAccount:job@p.iam.gserviceaccount.com)
      members: serviceAccount:job@p.iam.gserviceaccount.com
    roles/cloudfunctions.invoker: contains the permission; the principal is a member (as serviceAccount:job@p.iam.gserviceaccount.com)
      conditional binding: oidcron does not evaluate IAM conditions, so it never grants
      members: serviceAccount:job@p.iam.gserviceaccount.com
  projects/p:
    roles/cloudfunctions.invoker: contains the permission; the principal is not a member
      members: group:g@example.com, user:bob@example.com
      group:g@example.com: group membership is not resolved by oidcron
    roles/editor: contains the permission; the principal is a member (as domain:p.iam.gserviceaccount.com) <- grants
      members: domain:p.iam.gserviceaccount.com
  //oidcron: policy has no bindings
`
	if text != wantText {
		t.Errorf("Explain\n got:\n%s\nwant:\n%s", text, wantText)
	}
}

func TestExplainDenied(t *testing.T) {
	many := append([]string{"deleted:user:old@example.com?uid=9"}, members("user:u", 12)...)
	d := Evaluate(Subject{Member: jobSA, Disabled: true}, invoke, fn, chainOf(nil, policy(binding(invoker, many...)), nil))
	want := `DENIED: serviceAccount:job@p.iam.gserviceaccount.com is disabled: a disabled service account is granted nothing
  principal:  serviceAccount:job@p.iam.gserviceaccount.com (disabled)
  permission: cloudfunctions.functions.invoke
  resource:   projects/p/locations/us-central1/functions/hello
Policies, nearest first:
  projects/p/locations/us-central1/functions/hello: no policy set
  projects/p:
    roles/cloudfunctions.invoker: contains the permission; the principal is not a member
      members: deleted:user:old@example.com?uid=9, user:u0@example.com, user:u1@example.com, user:u2@example.com, user:u3@example.com, user:u4@example.com, user:u5@example.com, user:u6@example.com, user:u7@example.com, user:u8@example.com, and 3 more
      deleted:user:old@example.com?uid=9: a deleted principal matches nothing
  //oidcron: no policy set
`
	if got := d.Explain(); got != want {
		t.Errorf("Explain\n got:\n%s\nwant:\n%s", got, want)
	}
	anon := Evaluate(Subject{Anonymous: true}, invoke, fn, chainOf(nil, nil, nil)).Explain()
	if !strings.HasPrefix(anon, "DENIED: the caller presented no credentials") || !strings.Contains(anon, "principal:  (none: unauthenticated caller)\n") {
		t.Errorf("anonymous explanation:\n%s", anon)
	}
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	src := &mapSource{policies: map[string]*iampb.Policy{
		proj:         policy(binding(invoker, jobSA), binding("roles/viewer", alice)),
		RootResource: policy(binding("roles/resourcemanager.projectCreator", alice)),
	}}
	tests := []struct {
		sub      Subject
		perm     string
		resource string
		want     bool
	}{
		{Subject{Member: jobSA}, invoke, fn, true},
		{Subject{Member: jobSA}, invoke, FunctionResource("other", "l", "f"), false},
		{Subject{Member: alice}, invoke, fn, false},
		{Subject{Member: alice}, "cloudscheduler.jobs.list", LocationResource("p", "us-central1"), true},
		{Subject{Member: alice}, "cloudscheduler.jobs.get", JobResource("p", "us-central1", "j"), true},
		{Subject{Member: alice}, "resourcemanager.projects.create", RootResource, true},
		{Subject{Member: alice}, "resourcemanager.projects.create", proj, true},
		{Subject{Member: jobSA}, "resourcemanager.projects.create", RootResource, false},
		{Subject{Member: alice}, "run.services.get", ServiceResource("p", "l", "s"), true},
		{Subject{Member: alice}, "iam.serviceAccounts.get", ServiceAccountResource("p", "job@p.iam.gserviceaccount.com"), true},
	}
	for _, tt := range tests {
		d, err := Authorize(ctx, src, tt.sub, tt.perm, tt.resource)
		if err != nil {
			t.Fatalf("Authorize(%s, %s, %s): %v", tt.sub, tt.perm, tt.resource, err)
		}
		if d.Granted != tt.want {
			t.Errorf("Authorize(%s, %s, %s) = %v (%s), want %v", tt.sub, tt.perm, tt.resource, d.Granted, d.Reason, tt.want)
		}
		if d.Resource != tt.resource {
			t.Errorf("decision names resource %q", d.Resource)
		}
	}

	calls := src.calls
	d, err := Authorize(ctx, src, Subject{Member: alice}, "resourcemanager.projects.get", "folders/1")
	if err != nil || d.Granted || d.Reason != `"folders/1" is not a resource name oidcron knows, so nothing is granted on it` {
		t.Errorf("unknown resource: %+v, %v", d, err)
	}
	if src.calls != calls {
		t.Error("Authorize read policies for a resource outside the hierarchy")
	}
}

func TestAuthorizeSourceFailures(t *testing.T) {
	ctx := context.Background()
	sub := Subject{Member: jobSA}
	boom := errors.New("disk on fire")
	d, err := Authorize(ctx, brokenSource{err: boom}, sub, invoke, fn)
	if !errors.Is(err, boom) || d.Granted || d.Reason != "the policies could not be read: disk on fire" {
		t.Errorf("failing source: %+v, %v", d, err)
	}

	public := policy(binding(invoker, "allUsers"))
	for name, chain := range map[string][]Node{
		"empty":          nil,
		"missing root":   {{fn, public}, {proj, nil}},
		"missing parent": {{fn, public}, {RootResource, nil}},
		"wrong resource": {{FunctionResource("p", "us-central1", "other"), public}, {proj, nil}, {RootResource, nil}},
		"farthest first": {{RootResource, nil}, {proj, nil}, {fn, public}},
	} {
		d, err := Authorize(ctx, brokenSource{chain: chain}, sub, invoke, fn)
		if status.Code(err) != codes.Internal || d.Granted {
			t.Errorf("%s chain: %+v, %v", name, d, err)
		}
	}
}

func TestTestPermissions(t *testing.T) {
	ctx := context.Background()
	src := &mapSource{policies: map[string]*iampb.Policy{
		fn:   policy(binding(invoker, jobSA)),
		proj: policy(binding("roles/cloudfunctions.viewer", jobSA)),
	}}
	got, err := TestPermissions(ctx, src, Subject{Member: jobSA}, fn, []string{
		"cloudfunctions.functions.setIamPolicy", invoke, "cloudfunctions.functions.get", "no.such.permission", invoke, "cloudfunctions.functions.list",
	})
	want := []string{invoke, "cloudfunctions.functions.get", "cloudfunctions.functions.list"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("TestPermissions = %q, %v; want %q", got, err, want)
	}
	if src.calls != 1 {
		t.Errorf("%d Ancestry calls, want 1", src.calls)
	}

	if got, err := TestPermissions(ctx, src, Subject{Member: jobSA, Disabled: true}, fn, []string{invoke}); err != nil || len(got) != 0 {
		t.Errorf("disabled: %q, %v", got, err)
	}
	if got, err := TestPermissions(ctx, src, Subject{Member: jobSA}, "nope/1", []string{invoke}); err != nil || len(got) != 0 {
		t.Errorf("unknown resource: %q, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := TestPermissions(ctx, brokenSource{err: boom}, Subject{Member: jobSA}, fn, []string{invoke}); !errors.Is(err, boom) {
		t.Errorf("failing source: %v", err)
	}
	calls := src.calls
	if got, err := TestPermissions(ctx, src, Subject{Member: jobSA}, fn, nil); err != nil || len(got) != 0 || src.calls != calls {
		t.Errorf("no permissions: %q, %v, %d calls", got, err, src.calls-calls)
	}
}

// BenchmarkEvaluate measures the gateway's per-request cost: a function
// with a small policy, a project with 50 bindings of several members each,
// and a root policy, for a caller granted at the project (found late) and
// for one denied (every binding examined).
func BenchmarkEvaluate(b *testing.B) {
	var bindings []*iampb.Binding
	names := ListRoles()
	for i := range 50 {
		ms := []string{
			fmt.Sprintf("user:dev%d@example.com", i),
			fmt.Sprintf("serviceAccount:sa%d@p.iam.gserviceaccount.com", i),
			fmt.Sprintf("group:team%d@example.com", i),
			fmt.Sprintf("user:ops%d@example.com", i),
		}
		bindings = append(bindings, binding(names[i%len(names)].Name, ms...))
	}
	bindings = append(bindings, binding(invoker, jobSA))
	chain := chainOf(
		policy(binding("roles/cloudfunctions.viewer", "user:a@example.com"), binding("roles/cloudfunctions.admin", "user:b@example.com")),
		NormalizePolicy(&iampb.Policy{Bindings: bindings}),
		policy(binding("roles/owner", "user:admin@oidcron.local"), binding("roles/resourcemanager.projectCreator", "domain:example.com")),
	)
	for _, c := range []struct {
		name string
		sub  Subject
		want bool
	}{
		{"granted", Subject{Member: jobSA}, true},
		{"denied", Subject{Member: "serviceAccount:stranger@q.iam.gserviceaccount.com"}, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := Evaluate(c.sub, invoke, fn, chain); d.Granted != c.want {
					b.Fatal(d.Reason)
				}
			}
		})
	}
}
