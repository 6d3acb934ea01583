// Package postgres is the store.Store (and store.Claimer) that several
// oidcron replicas can share: one PostgreSQL database, reached through
// pgx's connection pool.
//
// Isolation. Every connection of the pool defaults to SERIALIZABLE
// (default_transaction_isolation), so InTx's read-then-write transactions
// are safe across processes without the caller locking anything: two
// transactions that read what the other writes cannot both commit, and the
// loser is run again (see retry). The Store's own methods are each one
// statement (a batch of statements for UpdateJobStates, which PostgreSQL
// runs as one implicit transaction), serializable like the rest and
// retried the same way. The exceptions are ClaimJobs and ClaimManuals,
// queue reads with FOR UPDATE SKIP LOCKED, which run READ COMMITTED
// (claims.go explains).
//
// The data model is the SQLite backend's (narrow jobs rows beside the Job
// messages, tombstones of deleted job names, incarnations, attempts), with
// the schema in migrations/, applied by Open.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oidcron/oidcron/internal/store"
)

// Store is the PostgreSQL backend. Its Tx methods, called directly, each
// run as one auto-committed statement (or batch) on the pool.
type Store struct {
	queries
	pool *pgxpool.Pool
	// migrated lists the schema versions this Open applied, so that a test
	// can tell who ran a migration.
	migrated []int64
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Claimer = (*Store)(nil)
)

// Open connects to the database at url (a libpq URL or key=value string,
// as pgx parses it), brings its schema up to date and returns the Store.
// Several processes may open one database at once.
func Open(ctx context.Context, url string) (*Store, error) {
	if url == "" {
		return nil, errors.New("postgres: empty database URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return open(ctx, cfg)
}

// IdleInTransactionTimeout is the server's idle_in_transaction_session_timeout
// for the store's sessions, unless the URL sets it (pgx passes a URL's
// unknown parameters to the server: ?idle_in_transaction_session_timeout=1min).
const IdleInTransactionTimeout = "30s"

// open is Open on a parsed configuration, which a test may give a tracer.
func open(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	// A startup parameter, so that it holds on every connection the pool
	// ever opens, for implicit transactions (single statements, batches)
	// as for BEGIN.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	// pgx prepares each statement once per connection; left to choose,
	// PostgreSQL planned the engine's statements again on every execution
	// (a custom plan per array of states or attempts, per claim), and the
	// planning cost as much database CPU as running them. The generic
	// plans are the ones TestJobQueryPlans holds to the right indexes.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	// A client lost without a word (a black-holed network) in the middle
	// of a claim would leave its rows locked, skipped by every other
	// replica's claims, until TCP gives up, hours later: the server ends
	// such a session after this long idle inside a transaction (every
	// transaction here runs its statements back to back, in milliseconds).
	if cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] == "" {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = IdleInTransactionTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "oidcron"
	}

	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	applied, err := migrate(ctx, conn, migrationsFS())
	// Closing the session also drops its advisory lock, whatever happened.
	if cerr := conn.Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
		err = fmt.Errorf("postgres: close the migration connection: %w", cerr)
	}
	if err != nil {
		return nil, err
	}

	// Opened after the migrations, so that no pooled connection has cached
	// a statement against a schema about to change.
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// The auto-commit methods rely on the parameter; a connection pooler
	// in between that drops startup parameters would silently leave them
	// at the server's default.
	var iso string
	if err := pool.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&iso); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if iso != "serializable" {
		pool.Close()
		return nil, fmt.Errorf("postgres: statements run %s, not serializable: the startup parameter default_transaction_isolation did not reach the server (a connection pooler?)", iso)
	}
	s := &Store{pool: pool, migrated: applied}
	s.queries = queries{db: pool, auto: true}
	return s, nil
}

// Close closes the pool, waiting for the connections in use to come back.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// InTx runs fn in one SERIALIZABLE transaction, and runs it again, from a
// fresh transaction, when PostgreSQL refuses it as a serialization failure
// or a deadlock victim (SQLSTATE 40001, 40P01): that is how SERIALIZABLE
// makes a read-then-write safe, by letting only one of two transactions
// that read what the other writes commit. fn must use only tx and must
// have no other effect, as the contract says; an error of fn's own is
// returned as it is, without a retry. (The Store's own methods, called in
// fn, would run on other connections, outside the transaction, and a write
// of a row the transaction wrote would wait for it forever.)
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return retry(ctx, func() error {
		return s.tryTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
			return fn(queries{db: tx})
		})
	})
}

// tryTx runs fn in one transaction of the pool with opts: committed when
// fn returns nil, rolled back otherwise and on panic (or runtime.Goexit).
func (s *Store) tryTx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) (err error) {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		// Not ctx, which may be what ended fn: the connection must go back
		// to the pool clean. A failed rollback closes the connection.
		if rbErr := tx.Rollback(context.WithoutCancel(ctx)); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			err = errors.Join(err, fmt.Errorf("postgres: rollback: %w", rbErr))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// Retries of a transaction PostgreSQL refused: at most maxTries runs in
// all, each after a random pause that doubles, up to maxBackoff, so that
// transactions that collided once do not collide again in step. Eight
// writers incrementing one counter (the conformance suite's worst case)
// each need a few.
const (
	maxTries    = 30
	baseBackoff = time.Millisecond
	maxBackoff  = 100 * time.Millisecond
)

// retry runs try until it returns anything but a serialization failure or
// a deadlock, maxTries times at most, and returns its last error.
func retry(ctx context.Context, try func() error) error {
	backoff := baseBackoff
	for n := 1; ; n++ {
		err := try()
		if err == nil || !retryable(err) || n == maxTries {
			return err
		}
		t := time.NewTimer(rand.N(backoff) + time.Microsecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func retryable(err error) bool {
	switch sqlState(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}
