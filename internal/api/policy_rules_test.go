package api

import (
	"context"
	"sync"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/store"
)

// txHookStore lets a test hold one transaction at its door, before it starts,
// so that another request can run in between a handler's checks and its
// write.
type txHookStore struct {
	store.Store
	mu      sync.Mutex
	gate    bool
	entered chan struct{}
	release chan struct{}
}

func (s *txHookStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	s.mu.Lock()
	held := s.gate
	s.gate = false
	s.mu.Unlock()
	if held {
		close(s.entered)
		<-s.release
	}
	return s.Store.InTx(ctx, fn)
}

// arm makes the next transaction wait at the door until release is closed.
func (s *txHookStore) arm() {
	s.mu.Lock()
	s.gate, s.entered, s.release = true, make(chan struct{}), make(chan struct{})
	s.mu.Unlock()
}

func policyServer(t *testing.T) (*Server, *txHookStore, context.Context) {
	t.Helper()
	ctx := context.Background()
	st := &txHookStore{Store: openTestStore(t)}
	clk := clock.Real{}
	s := New(Config{Store: st, Dir: directory.New(st, clk, 0), Clock: clk})
	ctx = WithSubject(ctx, iam.Subject{Member: "user:owner@example.com"})
	if err := s.write(ctx, func(tx store.Tx) error {
		_, err := s.createProject(ctx, tx, "acme-prod", "", nil, "user:owner@example.com")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s, st, ctx
}

const runnerSA = "projects/acme-prod/serviceAccounts/runner@acme-prod.iam.gserviceaccount.com"

func projectPolicy(t *testing.T, ctx context.Context, prj *Projects) *iampb.Policy {
	t.Helper()
	p, err := prj.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/acme-prod", Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A binding to a service account that does not exist is refused (README,
// Fidelity: "bindings to service accounts that do not exist refused"), and
// member emails are compared case-insensitively. Spelling the project part
// of the email in upper case skips the check: the ghost is stored
// (lower-cased), and from then on every read-modify-write of the policy,
// which sends the stored member back, is refused.
func TestMissingAccountInUpperCaseIsRefused(t *testing.T) {
	for _, m := range []string{
		"serviceAccount:ghost@ACME-PROD.iam.gserviceaccount.com",
		"serviceAccount:ghost@acme-prod.IAM.gserviceaccount.com",
	} {
		s, _, ctx := policyServer(t)
		prj := &Projects{s: s}
		p := projectPolicy(t, ctx, prj)
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/viewer", Members: []string{m}})
		_, err := prj.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/acme-prod", Policy: p})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("binding %s: err = %v, want INVALID_ARGUMENT: the account does not exist", m, err)
		}
		// The consequence: gcloud's add-iam-policy-binding no longer works.
		p = projectPolicy(t, ctx, prj)
		p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/viewer", Members: []string{"user:alice@example.com"}})
		if _, err := prj.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/acme-prod", Policy: p}); err != nil {
			t.Errorf("after binding %s, a read-modify-write adding alice: %v", m, err)
		}
	}
}

// Reference §5.1: version "Must be 3 for any operation touching conditional
// bindings (... remove any binding from a policy that has conditions)" and
// "with conditions you must send etag else a v1 policy can overwrite v3 and
// drop conditions": sent with the etag, a version 1 policy must not drop
// the conditional bindings.
func TestVersionOnePolicyWithEtagKeepsConditions(t *testing.T) {
	s, _, ctx := policyServer(t)
	prj := &Projects{s: s}
	p := projectPolicy(t, ctx, prj)
	p.Version = 3
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: "roles/viewer", Members: []string{"user:carol@example.com"},
		Condition: &expr.Expr{Title: "until 2030", Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`}})
	cur, err := prj.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/acme-prod", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	var unconditional []*iampb.Binding
	for _, b := range cur.GetBindings() {
		if b.GetCondition() == nil {
			unconditional = append(unconditional, b)
		}
	}
	v1 := &iampb.Policy{Version: 1, Etag: cur.GetEtag(), Bindings: unconditional}
	got, err := prj.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/acme-prod", Policy: v1})
	if err == nil {
		t.Errorf("a version 1 policy sent with the current etag replaced a policy with conditions: now %v", got)
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("the refusal: %v, want INVALID_ARGUMENT", err)
	}
	if after := projectPolicy(t, ctx, prj); after.GetVersion() != 3 {
		t.Errorf("the conditional binding is gone: %v", after)
	}
	// Without an etag the write is blind, and Google lets it drop them.
	v1.Etag = nil
	if got, err := prj.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/acme-prod", Policy: v1}); err != nil || got.GetVersion() != 1 {
		t.Errorf("a blind version 1 write: %v, %v; want it to replace the policy", got, err)
	}
}

// A service account's own policy written while the account is being
// deleted lands on the email, not on the deleted account: an account
// created again with the same email then inherits the grant (here actAs
// for bob). README, Fidelity: "an account created again with the same
// email inherits nothing"; reference §6: a re-created account is a new one
// (new unique_id).
func TestAccountPolicySetRacingDeleteIsNotInherited(t *testing.T) {
	s, st, ctx := policyServer(t)
	adm := &IAMAdmin{s: s}
	create := func() *adminpb.ServiceAccount {
		sa, err := adm.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{Name: "projects/acme-prod", AccountId: "runner"})
		if err != nil {
			t.Fatal(err)
		}
		return sa
	}
	old := create()
	st.arm()
	done := make(chan error, 1)
	go func() {
		_, err := adm.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: runnerSA, Policy: &iampb.Policy{Bindings: []*iampb.Binding{
			{Role: "roles/iam.serviceAccountUser", Members: []string{"user:bob@example.com"}}}}})
		done <- err
	}()
	<-st.entered // SetIamPolicy has checked the account and waits to write
	if _, err := adm.DeleteServiceAccount(ctx, &adminpb.DeleteServiceAccountRequest{Name: runnerSA}); err != nil {
		t.Fatal(err)
	}
	close(st.release)
	setErr := <-done
	renewed := create()
	if renewed.GetUniqueId() == old.GetUniqueId() {
		t.Fatal("same unique id")
	}
	p, err := adm.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: runnerSA})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GetBindings()) != 0 {
		t.Errorf("the new account (uid %s) inherits %v from a setIamPolicy (err %v) on the deleted one (uid %s)",
			renewed.GetUniqueId(), p.GetBindings(), setErr, old.GetUniqueId())
	}
}

// An all-empty condition ("condition": {}) is no condition: NormalizePolicy
// and ValidatePolicy treat it so, and the stored binding has none. The
// owner check does not, and refuses the project's only, unconditional,
// owner binding.
func TestOwnerWithEmptyConditionIsAnOwner(t *testing.T) {
	s, _, ctx := policyServer(t)
	prj := &Projects{s: s}
	p := projectPolicy(t, ctx, prj)
	for _, b := range p.GetBindings() {
		if b.GetRole() == "roles/owner" {
			b.Condition = &expr.Expr{}
		}
	}
	got, err := prj.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/acme-prod", Policy: p})
	if err != nil {
		t.Fatalf("err = %v, want the policy (unchanged) accepted", err)
	}
	if got.GetVersion() != 1 {
		t.Errorf("version %d", got.GetVersion())
	}
}
