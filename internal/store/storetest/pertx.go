package storetest

import (
	"context"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"

	"github.com/oidcron/oidcron/internal/store"
)

// perCallTx is a store.Tx that runs each call in its own InTx, on the Tx the
// backend passes to fn. The per-entity tests run once against the Store and
// once through this, so every method of the transactional implementation
// meets the same expectations as its auto-commit twin, errors included.
type perCallTx struct{ s store.Store }

var _ store.Tx = perCallTx{}

// in runs f in a transaction and returns what it returned; an error from f
// also rolls the transaction back, which is what a caller would see.
func in[T any](ctx context.Context, s store.Store, f func(store.Tx) (T, error)) (T, error) {
	var out T
	err := s.InTx(ctx, func(tx store.Tx) error {
		var err error
		out, err = f(tx)
		return err
	})
	return out, err
}

// do is in for methods that return only an error.
func do(ctx context.Context, s store.Store, f func(store.Tx) error) error {
	return s.InTx(ctx, f)
}

func (p perCallTx) CreateProject(ctx context.Context, pr *resourcemanagerpb.Project) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.CreateProject(ctx, pr) })
}

func (p perCallTx) GetProject(ctx context.Context, id string) (*resourcemanagerpb.Project, error) {
	return in(ctx, p.s, func(tx store.Tx) (*resourcemanagerpb.Project, error) { return tx.GetProject(ctx, id) })
}

func (p perCallTx) GetProjectByNumber(ctx context.Context, n int64) (*resourcemanagerpb.Project, error) {
	return in(ctx, p.s, func(tx store.Tx) (*resourcemanagerpb.Project, error) { return tx.GetProjectByNumber(ctx, n) })
}

func (p perCallTx) ListProjects(ctx context.Context, page store.Page) ([]*resourcemanagerpb.Project, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]*resourcemanagerpb.Project, error) { return tx.ListProjects(ctx, page) })
}

func (p perCallTx) UpdateProject(ctx context.Context, pr *resourcemanagerpb.Project) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.UpdateProject(ctx, pr) })
}

func (p perCallTx) GetPolicy(ctx context.Context, resource string) (*iampb.Policy, error) {
	return in(ctx, p.s, func(tx store.Tx) (*iampb.Policy, error) { return tx.GetPolicy(ctx, resource) })
}

func (p perCallTx) PutPolicy(ctx context.Context, resource string, pol *iampb.Policy, expectEtag []byte) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.PutPolicy(ctx, resource, pol, expectEtag) })
}

func (p perCallTx) DeletePolicy(ctx context.Context, resource string) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.DeletePolicy(ctx, resource) })
}

func (p perCallTx) ListPolicies(ctx context.Context, page store.Page) ([]store.ResourcePolicy, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.ResourcePolicy, error) { return tx.ListPolicies(ctx, page) })
}

func (p perCallTx) CreateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.CreateServiceAccount(ctx, sa) })
}

func (p perCallTx) GetServiceAccount(ctx context.Context, key string) (*adminpb.ServiceAccount, error) {
	return in(ctx, p.s, func(tx store.Tx) (*adminpb.ServiceAccount, error) { return tx.GetServiceAccount(ctx, key) })
}

func (p perCallTx) ListServiceAccounts(ctx context.Context, projectID string, page store.Page) ([]*adminpb.ServiceAccount, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]*adminpb.ServiceAccount, error) {
		return tx.ListServiceAccounts(ctx, projectID, page)
	})
}

func (p perCallTx) UpdateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.UpdateServiceAccount(ctx, sa) })
}

func (p perCallTx) DeleteServiceAccount(ctx context.Context, uniqueID string, at time.Time) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.DeleteServiceAccount(ctx, uniqueID, at) })
}

func (p perCallTx) GetDeletedServiceAccount(ctx context.Context, uniqueID string) (*adminpb.ServiceAccount, time.Time, error) {
	var at time.Time
	sa, err := in(ctx, p.s, func(tx store.Tx) (*adminpb.ServiceAccount, error) {
		sa, t, err := tx.GetDeletedServiceAccount(ctx, uniqueID)
		at = t
		return sa, err
	})
	return sa, at, err
}

func (p perCallTx) UndeleteServiceAccount(ctx context.Context, uniqueID string) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.UndeleteServiceAccount(ctx, uniqueID) })
}

func (p perCallTx) CreateFunction(ctx context.Context, f *functionspb.Function) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.CreateFunction(ctx, f) })
}

func (p perCallTx) GetFunction(ctx context.Context, name string) (*functionspb.Function, error) {
	return in(ctx, p.s, func(tx store.Tx) (*functionspb.Function, error) { return tx.GetFunction(ctx, name) })
}

func (p perCallTx) ListFunctions(ctx context.Context, projectID, location string, page store.Page) ([]*functionspb.Function, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]*functionspb.Function, error) {
		return tx.ListFunctions(ctx, projectID, location, page)
	})
}

func (p perCallTx) UpdateFunction(ctx context.Context, f *functionspb.Function) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.UpdateFunction(ctx, f) })
}

func (p perCallTx) DeleteFunction(ctx context.Context, name string) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.DeleteFunction(ctx, name) })
}

func (p perCallTx) PutOperation(ctx context.Context, op *longrunningpb.Operation) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.PutOperation(ctx, op) })
}

func (p perCallTx) GetOperation(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	return in(ctx, p.s, func(tx store.Tx) (*longrunningpb.Operation, error) { return tx.GetOperation(ctx, name) })
}

func (p perCallTx) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.SigningKey, error) { return tx.ListSigningKeys(ctx) })
}

func (p perCallTx) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.PutSigningKey(ctx, k) })
}

func (p perCallTx) DeleteSigningKey(ctx context.Context, keyID string) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.DeleteSigningKey(ctx, keyID) })
}

func (p perCallTx) GetSetting(ctx context.Context, name string) ([]byte, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]byte, error) { return tx.GetSetting(ctx, name) })
}

func (p perCallTx) PutSetting(ctx context.Context, name string, value []byte) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.PutSetting(ctx, name, value) })
}

func (p perCallTx) CreateJob(ctx context.Context, j store.JobRecord) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.CreateJob(ctx, j) })
}

func (p perCallTx) GetJob(ctx context.Context, name string) (store.JobRecord, error) {
	return in(ctx, p.s, func(tx store.Tx) (store.JobRecord, error) { return tx.GetJob(ctx, name) })
}

func (p perCallTx) GetJobs(ctx context.Context, names []string) ([]store.JobRecord, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.JobRecord, error) { return tx.GetJobs(ctx, names) })
}

func (p perCallTx) ScanJobHeads(ctx context.Context, page store.Page) ([]store.JobHead, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.JobHead, error) { return tx.ScanJobHeads(ctx, page) })
}

func (p perCallTx) ListJobs(ctx context.Context, projectID, location string, page store.Page) ([]store.JobRecord, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.JobRecord, error) { return tx.ListJobs(ctx, projectID, location, page) })
}

func (p perCallTx) ScanJobs(ctx context.Context, page store.Page) ([]store.JobRecord, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.JobRecord, error) { return tx.ScanJobs(ctx, page) })
}

func (p perCallTx) UpdateJob(ctx context.Context, j store.JobRecord, expectVersion int64) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.UpdateJob(ctx, j, expectVersion) })
}

func (p perCallTx) UpdateJobStates(ctx context.Context, states []store.JobState) ([]int, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]int, error) { return tx.UpdateJobStates(ctx, states) })
}

func (p perCallTx) DeleteJob(ctx context.Context, name string) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.DeleteJob(ctx, name) })
}

func (p perCallTx) DueJobs(ctx context.Context, at time.Time, limit int) ([]store.JobRecord, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.JobRecord, error) { return tx.DueJobs(ctx, at, limit) })
}

func (p perCallTx) AddAttempts(ctx context.Context, as []store.Attempt) error {
	return do(ctx, p.s, func(tx store.Tx) error { return tx.AddAttempts(ctx, as) })
}

func (p perCallTx) ListAttempts(ctx context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.Attempt, error) { return tx.ListAttempts(ctx, job, limit, before) })
}

func (p perCallTx) TrimAttempts(ctx context.Context, keep int) (int64, error) {
	return in(ctx, p.s, func(tx store.Tx) (int64, error) { return tx.TrimAttempts(ctx, keep) })
}

func (p perCallTx) AddManual(ctx context.Context, m store.Manual) (int64, error) {
	return in(ctx, p.s, func(tx store.Tx) (int64, error) { return tx.AddManual(ctx, m) })
}

func (p perCallTx) UpdateManuals(ctx context.Context, ws []store.ManualWrite) ([]int, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]int, error) { return tx.UpdateManuals(ctx, ws) })
}

func (p perCallTx) ListManuals(ctx context.Context) ([]store.Manual, error) {
	return in(ctx, p.s, func(tx store.Tx) ([]store.Manual, error) { return tx.ListManuals(ctx) })
}
