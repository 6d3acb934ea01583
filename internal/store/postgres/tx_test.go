package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres/pgtest"
)

// twoStores opens two Stores on one fresh database: two processes, each
// with connections of its own.
func twoStores(t *testing.T) (*Store, *Store) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	return openURL(t, url), openURL(t, url)
}

// TestInTxReadThenWriteAcrossStores is the identity key rotation's
// pattern (identity.KeySet.Maintain): read the keys, and create one if
// there is none, from two processes at once. Both transactions read before
// either writes; only one key may be created, and the other transaction,
// run again, must see it and write nothing.
func TestInTxReadThenWriteAcrossStores(t *testing.T) {
	a, b := twoStores(t)
	ctx := t.Context()
	var read sync.WaitGroup // both first runs have read
	read.Add(2)
	type outcome struct {
		runs  int
		wrote bool
		saw   []string // the keys the last run read
		err   error
	}
	rotate := func(s *Store, id string) outcome {
		var o outcome
		o.err = s.InTx(ctx, func(tx store.Tx) error {
			o.runs++
			o.wrote, o.saw = false, nil
			keys, err := tx.ListSigningKeys(ctx)
			if err != nil {
				return err
			}
			for _, k := range keys {
				o.saw = append(o.saw, k.KeyID)
			}
			if o.runs == 1 {
				// Only the first run waits: a run again after a refusal
				// must not wait for a read that already happened.
				read.Done()
				read.Wait()
			}
			if len(keys) > 0 {
				return nil
			}
			o.wrote = true
			return tx.PutSigningKey(ctx, store.SigningKey{KeyID: id, PrivateDER: []byte(id), CreateTime: time.Unix(1, 0)})
		})
		return o
	}
	var wg sync.WaitGroup
	var oa, ob outcome
	wg.Go(func() { oa = rotate(a, "key-a") })
	wg.Go(func() { ob = rotate(b, "key-b") })
	wg.Wait()
	if oa.err != nil || ob.err != nil {
		t.Fatalf("InTx: %v / %v", oa.err, ob.err)
	}
	if oa.wrote == ob.wrote {
		t.Fatalf("wrote a key: a %v (runs %d), b %v (runs %d); want exactly one", oa.wrote, oa.runs, ob.wrote, ob.runs)
	}
	winner, loser, want := oa, ob, "key-a"
	if ob.wrote {
		winner, loser, want = ob, oa, "key-b"
	}
	if winner.runs != 1 || loser.runs < 2 {
		t.Fatalf("the winner ran %d times, the loser %d: the loser must have been refused and run again", winner.runs, loser.runs)
	}
	if len(loser.saw) != 1 || loser.saw[0] != want {
		t.Fatalf("the loser's last run read %q, want the winner's %q", loser.saw, want)
	}
	keys, err := a.ListSigningKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].KeyID != want {
		t.Fatalf("stored keys %+v, %v; want only %s", keys, err, want)
	}
}

// TestCreateDeleteRaceAcrossStores: processes that delete and create one
// job name at once never give two creations the same incarnation. A
// creation reads the name's tombstone and inserts past it; read before a
// concurrent deletion committed its tombstone, it would reuse the deleted
// incarnation's versions.
func TestCreateDeleteRaceAcrossStores(t *testing.T) {
	a, b := twoStores(t)
	ctx := t.Context()
	const name = "projects/p1/locations/us-central1/jobs/contended"
	const rounds = 40
	var (
		mu   sync.Mutex
		seen = map[int64]string{} // incarnation -> the creation that got it
	)
	var wg sync.WaitGroup
	for w, s := range []*Store{a, a, b, b} {
		wg.Go(func() {
			for r := range rounds {
				mark := fmt.Sprintf("w%d-r%d", w, r)
				err := s.CreateJob(ctx, store.JobRecord{Job: &schedulerpb.Job{Name: name, Description: mark}})
				if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
					t.Errorf("%s: CreateJob: %v", mark, err)
					return
				}
				// The job read is this creation's only if no one deleted and
				// created it since; then its incarnation is the one given.
				got, err := s.GetJob(ctx, name)
				if err == nil && got.Job.GetDescription() == mark {
					mu.Lock()
					if prev, dup := seen[got.Incarnation]; dup {
						t.Errorf("creations %s and %s both got incarnation %d", prev, mark, got.Incarnation)
					}
					seen[got.Incarnation] = mark
					mu.Unlock()
				} else if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: GetJob: %v", mark, err)
					return
				}
				if err := s.DeleteJob(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: DeleteJob: %v", mark, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) < rounds {
		t.Fatalf("only %d creations were read back: the race was hardly run", len(seen))
	}
}

// TestSerializationFailureIsRetried: a transaction that PostgreSQL
// refuses because another one wrote what it read is run again, and the
// run that commits sees the other's write.
func TestSerializationFailureIsRetried(t *testing.T) {
	a, b := twoStores(t)
	ctx := t.Context()
	if err := a.PutSetting(ctx, "n", []byte("0")); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := a.InTx(ctx, func(tx store.Tx) error {
		runs++
		v, err := tx.GetSetting(ctx, "n")
		if err != nil {
			return err
		}
		if runs == 1 {
			// Another process writes what this transaction read, and
			// commits first.
			if err := b.PutSetting(ctx, "n", []byte("1")); err != nil {
				return err
			}
		}
		return tx.PutSetting(ctx, "n", append(v, '+'))
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if runs != 2 {
		t.Fatalf("fn ran %d times, want 2 (refused once, then committed)", runs)
	}
	if v, err := a.GetSetting(ctx, "n"); err != nil || string(v) != "1+" {
		t.Fatalf("setting %q, %v; want 1+", v, err)
	}
}
