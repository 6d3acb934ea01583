package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	statuspb "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/oidcron/oidcron/internal/store"
)

var errBoom = errors.New("storetest: fn failed")

// world is one record of every kind, written before a transaction so that
// a rollback can be seen to restore updates and deletes, not only to drop
// inserts.
type world struct {
	projectID, saID, saEmail, function, resource, op, keyID, setting string
	job, doomedJob                                                   string
}

func seedWorld(t *testing.T, st store.Tx) world {
	t.Helper()
	ctx := t.Context()
	w := world{
		projectID: "p0", saID: "100000000000000000000", saEmail: saEmail("p0", "seed"),
		function: "projects/p0/locations/us-central1/functions/seed", resource: "projects/p0",
		op: "operations/seed", keyID: "k-seed", setting: "seed",
		job: jobName("p0", "us-central1", "seed"), doomedJob: jobName("p0", "us-central1", "doomed"),
	}
	ok(t, st.CreateProject(ctx, project(w.projectID, 900, 1)), "seed project")
	ok(t, st.CreateServiceAccount(ctx, serviceAccount("p0", "seed", w.saID, 2)), "seed service account")
	ok(t, st.CreateFunction(ctx, function("p0", "us-central1", "seed", 3)), "seed function")
	ok(t, st.PutPolicy(ctx, w.resource, policy("etag-seed", 4), nil), "seed policy")
	ok(t, st.PutOperation(ctx, operation(w.op, 5)), "seed operation")
	ok(t, st.PutSigningKey(ctx, store.SigningKey{KeyID: w.keyID, PrivateDER: []byte{1}, CreateTime: time.Unix(1, 0)}), "seed key")
	ok(t, st.PutSetting(ctx, w.setting, []byte("seed")), "seed setting")
	ok(t, st.CreateJob(ctx, jobRecord("p0", "us-central1", "seed", 6)), "seed job")
	ok(t, st.CreateJob(ctx, jobRecord("p0", "us-central1", "doomed", 7)), "seed doomed job")
	ok(t, st.AddAttempts(ctx, seedAttempts(w)), "seed attempts")
	return w
}

// seedJobState is the engine's write of the seeded job in writeEverything.
func seedJobState(w world) store.JobState {
	return store.JobState{Name: w.job, Version: 1, NextFire: jobBase, DueTime: jobBase,
		Result: &store.JobResult{Status: &statuspb.Status{Code: 2, Message: "written in a transaction"}, LastAttemptTime: jobBase}}
}

// seedAttempts is one attempt of each seeded job.
func seedAttempts(w world) []store.Attempt {
	return []store.Attempt{attempt(w.job, jobBase, 1, 1), attempt(w.doomedJob, jobBase, 1, 2)}
}

// checkWorld checks that the seeded records are exactly as seeded and that
// nothing the transaction under test tried to add is there.
func checkWorld(t *testing.T, st store.Tx, w world) {
	t.Helper()
	ctx := t.Context()
	p, err := st.GetProject(ctx, w.projectID)
	ok(t, err, "seed project")
	sameProto(t, p, project(w.projectID, 900, 1), "seed project")
	sa, err := st.GetServiceAccount(ctx, w.saID)
	ok(t, err, "seed service account")
	sameProto(t, sa, serviceAccount("p0", "seed", w.saID, 2), "seed service account")
	f, err := st.GetFunction(ctx, w.function)
	ok(t, err, "seed function")
	sameProto(t, f, function("p0", "us-central1", "seed", 3), "seed function")
	pol, err := st.GetPolicy(ctx, w.resource)
	ok(t, err, "seed policy")
	sameProto(t, pol, policy("etag-seed", 4), "seed policy")
	op, err := st.GetOperation(ctx, w.op)
	ok(t, err, "seed operation")
	sameProto(t, op, operation(w.op, 5), "seed operation")
	keys, err := st.ListSigningKeys(ctx)
	ok(t, err, "seed keys")
	if len(keys) != 1 || keys[0].KeyID != w.keyID || keys[0].RetireTime != (time.Time{}) {
		t.Fatalf("signing keys after rollback: %+v", keys)
	}
	v, err := st.GetSetting(ctx, w.setting)
	ok(t, err, "seed setting")
	if string(v) != "seed" {
		t.Fatalf("seed setting: %q", v)
	}
	checkJob(t, st, jobRecord("p0", "us-central1", "seed", 6), 1, "seed job")
	checkJob(t, st, jobRecord("p0", "us-central1", "doomed", 7), 1, "seed doomed job")
	for i, a := range seedAttempts(w) {
		as, err := st.ListAttempts(ctx, a.Job, 0, time.Time{})
		ok(t, err, "seed attempts")
		sameAttempts(t, as, seedAttempts(w)[i:i+1], "attempts of "+a.Job)
	}

	_, err = st.GetProject(ctx, "p-new")
	isErr(t, err, store.ErrNotFound, "project created in a rolled-back transaction")
	_, err = st.GetServiceAccount(ctx, saEmail("p0", "new"))
	isErr(t, err, store.ErrNotFound, "service account created in a rolled-back transaction")
	_, _, err = st.GetDeletedServiceAccount(ctx, w.saID)
	isErr(t, err, store.ErrNotFound, "service account deleted in a rolled-back transaction")
	_, err = st.GetFunction(ctx, "projects/p0/locations/us-central1/functions/new")
	isErr(t, err, store.ErrNotFound, "function created in a rolled-back transaction")
	_, err = st.GetPolicy(ctx, "projects/p-new")
	isErr(t, err, store.ErrNotFound, "policy put in a rolled-back transaction")
	_, err = st.GetOperation(ctx, "operations/new")
	isErr(t, err, store.ErrNotFound, "operation put in a rolled-back transaction")
	_, err = st.GetSetting(ctx, "new")
	isErr(t, err, store.ErrNotFound, "setting put in a rolled-back transaction")
	_, err = st.GetJob(ctx, jobName("p0", "us-central1", "new"))
	isErr(t, err, store.ErrNotFound, "job created in a rolled-back transaction")
}

// writeEverything changes every seeded record and adds one of each kind,
// checking as it goes that the transaction reads its own writes.
func writeEverything(t *testing.T, tx store.Tx, w world) error {
	ctx := t.Context()
	steps := []func() error{
		func() error { return tx.CreateProject(ctx, project("p-new", 901, 10)) },
		func() error { return tx.UpdateProject(ctx, project(w.projectID, 902, 11)) },
		func() error {
			return tx.CreateServiceAccount(ctx, serviceAccount("p0", "new", "100000000000000000001", 12))
		},
		func() error { return tx.DeleteServiceAccount(ctx, w.saID, time.Unix(2, 0)) },
		func() error { return tx.CreateFunction(ctx, function("p0", "us-central1", "new", 13)) },
		func() error { return tx.DeleteFunction(ctx, w.function) },
		func() error { return tx.PutPolicy(ctx, w.resource, policy("etag-changed", 14), []byte("etag-seed")) },
		func() error {
			return tx.PutPolicy(ctx, "projects/p-new", policy("etag-new", 15), []byte(store.EmptyPolicyEtag))
		},
		func() error { return tx.PutOperation(ctx, operation(w.op, 16)) },
		func() error { return tx.PutOperation(ctx, operation("operations/new", 17)) },
		func() error {
			return tx.PutSigningKey(ctx, store.SigningKey{KeyID: w.keyID, PrivateDER: []byte{1}, CreateTime: time.Unix(1, 0), RetireTime: time.Unix(3, 0)})
		},
		func() error {
			return tx.PutSigningKey(ctx, store.SigningKey{KeyID: "k-new", PrivateDER: []byte{2}, CreateTime: time.Unix(4, 0)})
		},
		func() error { return tx.PutSetting(ctx, w.setting, []byte("changed")) },
		func() error { return tx.PutSetting(ctx, "new", []byte("new")) },
		func() error {
			refused, err := tx.UpdateJobStates(ctx, []store.JobState{seedJobState(w)})
			if err == nil && len(refused) > 0 {
				err = fmt.Errorf("UpdateJobStates refused %v", refused)
			}
			return err
		},
		func() error {
			return tx.AddAttempts(ctx, []store.Attempt{attempt(w.job, jobBase.Add(time.Minute), 2, 19)})
		},
		func() error { return tx.DeleteJob(ctx, w.doomedJob) },
		func() error { return tx.CreateJob(ctx, jobRecord("p0", "us-central1", "new", 20)) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	// Reads inside the transaction see its writes.
	if _, err := tx.GetProject(ctx, "p-new"); err != nil {
		return fmt.Errorf("read own project: %w", err)
	}
	if _, err := tx.GetProjectByNumber(ctx, 902); err != nil {
		return fmt.Errorf("read own project update: %w", err)
	}
	if _, _, err := tx.GetDeletedServiceAccount(ctx, w.saID); err != nil {
		return fmt.Errorf("read own service account delete: %w", err)
	}
	if _, err := tx.GetFunction(ctx, w.function); !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read own function delete: %v", err)
	}
	if p, err := tx.GetPolicy(ctx, w.resource); err != nil || string(p.GetEtag()) != "etag-changed" {
		return fmt.Errorf("read own policy: %v %v", p, err)
	}
	if v, err := tx.GetSetting(ctx, w.setting); err != nil || string(v) != "changed" {
		return fmt.Errorf("read own setting: %q %v", v, err)
	}
	if keys, err := tx.ListSigningKeys(ctx); err != nil || len(keys) != 2 {
		return fmt.Errorf("read own keys: %v %v", keys, err)
	}
	if j, err := tx.GetJob(ctx, w.job); err != nil || j.Version != 2 {
		return fmt.Errorf("read own job update: %+v %v", j, err)
	}
	if as, err := tx.ListAttempts(ctx, w.job, 0, time.Time{}); err != nil || len(as) != 2 {
		return fmt.Errorf("read own attempts: %v %v", as, err)
	}
	if _, err := tx.GetJob(ctx, w.doomedJob); !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read own job delete: %v", err)
	}
	if due, err := tx.DueJobs(ctx, jobBase.Add(100*time.Hour), 0); err != nil || len(due) != 2 {
		return fmt.Errorf("read own jobs in the due queue: %v %v", jobNames(due), err)
	}
	return nil
}

func testTxCommit(t *testing.T, s store.Store) {
	w := seedWorld(t, s)
	err := s.InTx(t.Context(), func(tx store.Tx) error { return writeEverything(t, tx, w) })
	ok(t, err, "InTx")
	ctx := t.Context()
	// Every write is there after the commit.
	_, err = s.GetProject(ctx, "p-new")
	ok(t, err, "committed project")
	p, err := s.GetProjectByNumber(ctx, 902)
	ok(t, err, "committed project update")
	if p.GetProjectId() != w.projectID {
		t.Fatalf("committed project update: %v", p)
	}
	_, at, err := s.GetDeletedServiceAccount(ctx, w.saID)
	ok(t, err, "committed service account delete")
	sameTime(t, at, time.Unix(2, 0), "committed deletion time")
	_, err = s.GetServiceAccount(ctx, saEmail("p0", "new"))
	ok(t, err, "committed service account")
	_, err = s.GetFunction(ctx, w.function)
	isErr(t, err, store.ErrNotFound, "committed function delete")
	_, err = s.GetFunction(ctx, "projects/p0/locations/us-central1/functions/new")
	ok(t, err, "committed function")
	pol, err := s.GetPolicy(ctx, w.resource)
	ok(t, err, "committed policy")
	sameProto(t, pol, policy("etag-changed", 14), "committed policy")
	_, err = s.GetPolicy(ctx, "projects/p-new")
	ok(t, err, "committed new policy")
	op, err := s.GetOperation(ctx, w.op)
	ok(t, err, "committed operation")
	sameProto(t, op, operation(w.op, 16), "committed operation")
	keys, err := s.ListSigningKeys(ctx)
	ok(t, err, "committed keys")
	if len(keys) != 2 || keys[0].RetireTime.IsZero() {
		t.Fatalf("committed keys: %+v", keys)
	}
	v, err := s.GetSetting(ctx, "new")
	ok(t, err, "committed setting")
	if string(v) != "new" {
		t.Fatalf("committed setting: %q", v)
	}
	checkJob(t, s, withState(jobRecord("p0", "us-central1", "seed", 6), seedJobState(w)), 2, "committed job update")
	_, err = s.GetJob(ctx, w.doomedJob)
	isErr(t, err, store.ErrNotFound, "committed job delete")
	checkJob(t, s, jobRecord("p0", "us-central1", "new", 20), 1, "committed job")
	as, err := s.ListAttempts(ctx, w.job, 0, time.Time{})
	ok(t, err, "committed attempts")
	sameAttempts(t, as, []store.Attempt{attempt(w.job, jobBase.Add(time.Minute), 2, 19), seedAttempts(w)[0]}, "committed attempts")
	as, err = s.ListAttempts(ctx, w.doomedJob, 0, time.Time{})
	ok(t, err, "attempts of the deleted job")
	sameAttempts(t, as, nil, "attempts of the committed job delete")
}

func testTxRollbackOnError(t *testing.T, s store.Store) {
	w := seedWorld(t, s)
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if err := writeEverything(t, tx, w); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx returned %v, want fn's error %v", err, errBoom)
	}
	checkWorld(t, s, w)
}

func testTxRollbackOnStoreError(t *testing.T, s store.Store) {
	w := seedWorld(t, s)
	// A store error returned by fn is the error InTx returns, and undoes
	// the writes before it, as the API layer relies on for a rejected request.
	err := s.InTx(t.Context(), func(tx store.Tx) error {
		if err := writeEverything(t, tx, w); err != nil {
			return err
		}
		return tx.CreateProject(t.Context(), project("p-new", 999, 20))
	})
	isErr(t, err, store.ErrAlreadyExists, "InTx ending in a refused create")
	checkWorld(t, s, w)
}

func testTxRollbackOnPanic(t *testing.T, s store.Store) {
	w := seedWorld(t, s)
	type boom struct{ msg string }
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = s.InTx(t.Context(), func(tx store.Tx) error {
			if err := writeEverything(t, tx, w); err != nil {
				t.Errorf("writes before the panic: %v", err)
			}
			panic(boom{"in fn"})
		})
	}()
	if recovered != (boom{"in fn"}) {
		t.Fatalf("InTx let through %v, want fn's panic value", recovered)
	}
	checkWorld(t, s, w)

	// The store is usable afterwards: a backend that leaked the transaction
	// (and with it, for SQLite, the one writer connection) would block here
	// until the deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ok(t, s.InTx(ctx, func(tx store.Tx) error { return tx.PutSetting(ctx, "after", []byte("panic")) }), "InTx after a panic")
	ok(t, s.PutSetting(ctx, "after-2", []byte("panic")), "PutSetting after a panic")
}

func testTxIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.InTx(ctx, func(tx store.Tx) error {
		if err := tx.PutSetting(ctx, "pending", []byte("1")); err != nil {
			return err
		}
		if err := tx.CreateProject(ctx, project("p-pending", 77, 1)); err != nil {
			return err
		}
		// Outside the transaction its writes are not visible before the
		// commit. (A read only: an outside write would wait for this
		// transaction on a single-writer backend.)
		if _, err := s.GetSetting(ctx, "pending"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("uncommitted setting read outside the transaction: %v", err)
		}
		if _, err := s.GetProjectByNumber(ctx, 77); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("uncommitted project read outside the transaction: %v", err)
		}
		return nil
	})
	ok(t, err, "InTx")
	v, err := s.GetSetting(ctx, "pending")
	ok(t, err, "GetSetting after commit")
	if string(v) != "1" {
		t.Fatalf("GetSetting after commit: %q", v)
	}
}

// testTxConcurrentWriters runs read-modify-write transactions from several
// goroutines; a backend that lets two of them read the same value loses an
// increment. Run it with -race.
func testTxConcurrentWriters(t *testing.T, s store.Store) {
	const workers, rounds = 8, 25
	ctx := t.Context()
	ok(t, s.PutSetting(ctx, "counter", []byte("0")), "PutSetting counter")
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				err := s.InTx(ctx, func(tx store.Tx) error {
					v, err := tx.GetSetting(ctx, "counter")
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(v))
					if err != nil {
						return err
					}
					if err := tx.PutSetting(ctx, "counter", []byte(strconv.Itoa(n+1))); err != nil {
						return err
					}
					// A write of its own in the same transaction.
					return tx.PutSetting(ctx, fmt.Sprintf("w%d-r%d", w, r), []byte{byte(r)})
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	v, err := s.GetSetting(ctx, "counter")
	ok(t, err, "GetSetting counter")
	if string(v) != strconv.Itoa(workers*rounds) {
		t.Fatalf("counter = %s after %d increments: updates were lost", v, workers*rounds)
	}
	for w := range workers {
		for r := range rounds {
			if _, err := s.GetSetting(ctx, fmt.Sprintf("w%d-r%d", w, r)); err != nil {
				t.Fatalf("worker %d round %d: its own write is missing: %v", w, r, err)
			}
		}
	}
}

// testConcurrentPolicyCAS runs the read / compare-and-swap loop of
// setIamPolicy from several goroutines on the auto-commit methods: PutPolicy
// must check and write as one step, or two writers both succeed on one etag
// and an update is lost.
func testConcurrentPolicyCAS(t *testing.T, s store.Store) {
	const workers, rounds = 8, 20
	const res = "projects/p1"
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for done := 0; done < rounds; {
				var expect []byte
				n := 0
				cur, err := s.GetPolicy(ctx, res)
				switch {
				case errors.Is(err, store.ErrNotFound):
					expect = []byte(store.EmptyPolicyEtag)
				case err != nil:
					errs <- fmt.Errorf("worker %d: GetPolicy: %w", w, err)
					return
				default:
					expect = cur.GetEtag()
					n = int(cur.GetVersion())
				}
				next := policy(fmt.Sprintf("etag-%d", n+1), 1)
				next.Version = int32(n + 1)
				err = s.PutPolicy(ctx, res, next, expect)
				switch {
				case err == nil:
					done++
				case !errors.Is(err, store.ErrEtagMismatch):
					errs <- fmt.Errorf("worker %d: PutPolicy: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p, err := s.GetPolicy(ctx, res)
	ok(t, err, "GetPolicy")
	if p.GetVersion() != workers*rounds || string(p.GetEtag()) != fmt.Sprintf("etag-%d", workers*rounds) {
		t.Fatalf("after %d successful compare-and-swaps the policy is version %d etag %q: updates were lost",
			workers*rounds, p.GetVersion(), p.GetEtag())
	}
}
