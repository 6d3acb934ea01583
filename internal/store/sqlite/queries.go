package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/protobuf/proto"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// querier is what *sql.DB and *sql.Tx have in common: the one seam that lets
// the Store's auto-commit methods and the Tx given to InTx share every query.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Tx. Reads go to r and writes to w: on the Store
// they are the reader pool and the writer, in a transaction both are the
// *sql.Tx (so a transaction reads its own writes).
//
// Every write is a single statement, so that outside InTx it is atomic on
// its own: compare-and-swap, soft delete and undelete are conditions in a
// WHERE clause, and uniqueness is left to the schema's constraints. The
// exceptions are the job store's batches and DeleteJob (jobs.go), which go
// through atomically.
type queries struct {
	r, w querier
	// The writer's own handle, for the few writes of several statements
	// (batches, a delete with its history) that must be atomic: on the
	// Store, db is the writer pool and tx nil; in InTx, tx is the
	// transaction and db nil. See atomically.
	db *sql.DB
	tx *sql.Tx
	// ws are the engine's hot writes, prepared once on the writer (see
	// stmts.go): the same on the Store and in every InTx.
	ws *writerStmts
}

var _ store.Tx = queries{}

// notFound and alreadyExists wrap the sentinels with the key, for logs.
func notFound(kind, key string) error {
	return fmt.Errorf("%s %q: %w", kind, key, store.ErrNotFound)
}

func alreadyExists(kind, key string) error {
	return fmt.Errorf("%s %q: %w", kind, key, store.ErrAlreadyExists)
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key.
// Inserts avoid it with ON CONFLICT DO NOTHING; an UPDATE has no such clause,
// and the unique index is the only check that cannot race.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// affected returns how many rows a write changed.
func affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: rows affected: %w", err)
	}
	return n, nil
}

// getRecord reads the one blob a query selects, or returns ErrNotFound
// naming kind and key.
func getRecord(ctx context.Context, q querier, kind, key, query string, args ...any) ([]byte, error) {
	var b []byte
	err := q.QueryRowContext(ctx, query, args...).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(kind, key)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get %s %q: %w", kind, key, err)
	}
	return b, nil
}

// listRecords decodes every blob a query selects, in its order.
func listRecords[T proto.Message](ctx context.Context, q querier, what string, newT func() T, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
		}
		m, err := decode(what, b, newT())
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", what, err)
	}
	return out, nil
}

// ---- Projects ----

func (q queries) CreateProject(ctx context.Context, p *resourcemanagerpb.Project) error {
	number, rec, err := rowcodec.ProjectColumns(backend, p)
	if err != nil {
		return err
	}
	// DO NOTHING covers both unique keys, id and number, without a failed
	// statement (which would abort a PostgreSQL transaction).
	res, err := q.w.ExecContext(ctx,
		`INSERT INTO projects (project_id, number, record) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		p.GetProjectId(), number, rec)
	if err != nil {
		return fmt.Errorf("sqlite: create project: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return alreadyExists("project", p.GetProjectId())
	}
	return nil
}

func (q queries) GetProject(ctx context.Context, projectID string) (*resourcemanagerpb.Project, error) {
	b, err := getRecord(ctx, q.r, "project", projectID, `SELECT record FROM projects WHERE project_id = ?`, projectID)
	if err != nil {
		return nil, err
	}
	return decode("project", b, &resourcemanagerpb.Project{})
}

func (q queries) GetProjectByNumber(ctx context.Context, number int64) (*resourcemanagerpb.Project, error) {
	b, err := getRecord(ctx, q.r, "project number", strconv.FormatInt(number, 10), `SELECT record FROM projects WHERE number = ?`, number)
	if err != nil {
		return nil, err
	}
	return decode("project", b, &resourcemanagerpb.Project{})
}

func (q queries) ListProjects(ctx context.Context, page store.Page) ([]*resourcemanagerpb.Project, error) {
	return listRecords(ctx, q.r, "projects", func() *resourcemanagerpb.Project { return &resourcemanagerpb.Project{} },
		`SELECT record FROM projects WHERE project_id > ? ORDER BY project_id LIMIT ?`, page.After, rowcodec.Limit(page.Size))
}

func (q queries) UpdateProject(ctx context.Context, p *resourcemanagerpb.Project) error {
	number, rec, err := rowcodec.ProjectColumns(backend, p)
	if err != nil {
		return err
	}
	res, err := q.w.ExecContext(ctx, `UPDATE projects SET number = ?, record = ? WHERE project_id = ?`,
		number, rec, p.GetProjectId())
	if isUniqueViolation(err) {
		return alreadyExists("project number", strconv.FormatInt(number, 10))
	}
	if err != nil {
		return fmt.Errorf("sqlite: update project: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("project", p.GetProjectId())
	}
	return nil
}

// ---- Policies ----

func (q queries) GetPolicy(ctx context.Context, resource string) (*iampb.Policy, error) {
	b, err := getRecord(ctx, q.r, "policy of", resource, `SELECT record FROM policies WHERE resource = ?`, resource)
	if err != nil {
		return nil, err
	}
	return decode("policy", b, &iampb.Policy{})
}

func (q queries) ListPolicies(ctx context.Context, page store.Page) ([]store.ResourcePolicy, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT resource, record FROM policies WHERE resource > ? ORDER BY resource LIMIT ?`, page.After, rowcodec.Limit(page.Size))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list policies: %w", err)
	}
	defer rows.Close()
	var out []store.ResourcePolicy
	for rows.Next() {
		var r string
		var b []byte
		if err := rows.Scan(&r, &b); err != nil {
			return nil, fmt.Errorf("sqlite: list policies: %w", err)
		}
		p, err := decode("policy", b, &iampb.Policy{})
		if err != nil {
			return nil, err
		}
		out = append(out, store.ResourcePolicy{Resource: r, Policy: p})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list policies: %w", err)
	}
	return out, nil
}

func (q queries) PutPolicy(ctx context.Context, resource string, p *iampb.Policy, expectEtag []byte) error {
	if resource == "" {
		return errors.New("sqlite: policy without a resource name")
	}
	if p == nil {
		return fmt.Errorf("sqlite: nil policy for %q", resource)
	}
	rec, err := encode("policy", p)
	if err != nil {
		return err
	}
	etag := rowcodec.NonNil(p.GetEtag())
	var res sql.Result
	switch {
	case expectEtag == nil:
		res, err = q.w.ExecContext(ctx, `INSERT INTO policies (resource, etag, record) VALUES (?, ?, ?)
			ON CONFLICT (resource) DO UPDATE SET etag = excluded.etag, record = excluded.record`,
			resource, etag, rec)
	case bytes.Equal(expectEtag, []byte(store.EmptyPolicyEtag)):
		// The caller saw no policy (or a stored one whose etag happens to
		// be the empty policy's): insert, or replace only that etag. One
		// statement, so the check and the write cannot be split by another
		// writer even outside a transaction.
		res, err = q.w.ExecContext(ctx, `INSERT INTO policies (resource, etag, record) VALUES (?, ?, ?)
			ON CONFLICT (resource) DO UPDATE SET etag = excluded.etag, record = excluded.record
			WHERE policies.etag = ?`,
			resource, etag, rec, expectEtag)
	default:
		// Any other etag can only match a stored policy.
		res, err = q.w.ExecContext(ctx, `UPDATE policies SET etag = ?, record = ? WHERE resource = ? AND etag = ?`,
			etag, rec, resource, expectEtag)
	}
	if err != nil {
		return fmt.Errorf("sqlite: put policy: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("policy of %q: %w", resource, store.ErrEtagMismatch)
	}
	return nil
}

func (q queries) DeletePolicy(ctx context.Context, resource string) error {
	if _, err := q.w.ExecContext(ctx, `DELETE FROM policies WHERE resource = ?`, resource); err != nil {
		return fmt.Errorf("sqlite: delete policy: %w", err)
	}
	return nil
}

// ---- Service accounts ----

func (q queries) CreateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error {
	rec, err := rowcodec.ServiceAccountRecord(backend, sa)
	if err != nil {
		return err
	}
	// DO NOTHING covers the primary key (unique ids are never reused, even
	// those of deleted accounts) and the live-email index.
	res, err := q.w.ExecContext(ctx, `INSERT INTO service_accounts (unique_id, email, project_id, delete_time, record)
		VALUES (?, ?, ?, NULL, ?) ON CONFLICT DO NOTHING`,
		sa.GetUniqueId(), sa.GetEmail(), sa.GetProjectId(), rec)
	if err != nil {
		return fmt.Errorf("sqlite: create service account: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return alreadyExists("service account", sa.GetEmail())
	}
	return nil
}

func (q queries) GetServiceAccount(ctx context.Context, emailOrUniqueID string) (*adminpb.ServiceAccount, error) {
	// Two indexed lookups rather than one OR, which SQLite may answer with a
	// scan. An email has an '@' and a unique id is digits, so at most one
	// branch matches.
	b, err := getRecord(ctx, q.r, "service account", emailOrUniqueID, `
		SELECT record FROM service_accounts WHERE email = ? AND delete_time IS NULL
		UNION ALL
		SELECT record FROM service_accounts WHERE unique_id = ? AND delete_time IS NULL
		LIMIT 1`, emailOrUniqueID, emailOrUniqueID)
	if err != nil {
		return nil, err
	}
	return decode("service account", b, &adminpb.ServiceAccount{})
}

func (q queries) ListServiceAccounts(ctx context.Context, projectID string, page store.Page) ([]*adminpb.ServiceAccount, error) {
	return listRecords(ctx, q.r, "service accounts", func() *adminpb.ServiceAccount { return &adminpb.ServiceAccount{} },
		`SELECT record FROM service_accounts WHERE project_id = ? AND delete_time IS NULL AND email > ?
		ORDER BY email LIMIT ?`, projectID, page.After, rowcodec.Limit(page.Size))
}

func (q queries) UpdateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error {
	rec, err := rowcodec.ServiceAccountRecord(backend, sa)
	if err != nil {
		return err
	}
	res, err := q.w.ExecContext(ctx, `UPDATE service_accounts SET email = ?, project_id = ?, record = ?
		WHERE unique_id = ? AND delete_time IS NULL`,
		sa.GetEmail(), sa.GetProjectId(), rec, sa.GetUniqueId())
	if isUniqueViolation(err) {
		return alreadyExists("service account", sa.GetEmail())
	}
	if err != nil {
		return fmt.Errorf("sqlite: update service account: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("service account", sa.GetUniqueId())
	}
	return nil
}

func (q queries) DeleteServiceAccount(ctx context.Context, uniqueID string, at time.Time) error {
	if at.IsZero() {
		// NULL is how a live account is told apart; a zero deletion time
		// would have to be stored as NULL and the delete would not happen.
		return fmt.Errorf("sqlite: delete service account %q: no deletion time", uniqueID)
	}
	t, err := timeToDB(at)
	if err != nil {
		return err
	}
	res, err := q.w.ExecContext(ctx, `UPDATE service_accounts SET delete_time = ?
		WHERE unique_id = ? AND delete_time IS NULL`, t, uniqueID)
	if err != nil {
		return fmt.Errorf("sqlite: delete service account: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("service account", uniqueID)
	}
	return nil
}

func (q queries) GetDeletedServiceAccount(ctx context.Context, uniqueID string) (*adminpb.ServiceAccount, time.Time, error) {
	var (
		b  []byte
		at sql.NullInt64
	)
	err := q.r.QueryRowContext(ctx, `SELECT record, delete_time FROM service_accounts
		WHERE unique_id = ? AND delete_time IS NOT NULL`, uniqueID).Scan(&b, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, notFound("deleted service account", uniqueID)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sqlite: get deleted service account: %w", err)
	}
	sa, err := decode("service account", b, &adminpb.ServiceAccount{})
	if err != nil {
		return nil, time.Time{}, err
	}
	return sa, rowcodec.TimeFromDB(at), nil
}

func (q queries) UndeleteServiceAccount(ctx context.Context, uniqueID string) error {
	res, err := q.w.ExecContext(ctx, `UPDATE service_accounts SET delete_time = NULL
		WHERE unique_id = ? AND delete_time IS NOT NULL`, uniqueID)
	if isUniqueViolation(err) {
		// The live-email index: another live account took the email.
		return alreadyExists("service account email of", uniqueID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: undelete service account: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("deleted service account", uniqueID)
	}
	return nil
}

// ---- Functions ----

func (q queries) CreateFunction(ctx context.Context, f *functionspb.Function) error {
	project, location, err := rowcodec.FunctionKey(backend, f.GetName())
	if err != nil {
		return err
	}
	rec, err := encode("function", f)
	if err != nil {
		return err
	}
	res, err := q.w.ExecContext(ctx, `INSERT INTO functions (name, project_id, location, record) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, f.GetName(), project, location, rec)
	if err != nil {
		return fmt.Errorf("sqlite: create function: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return alreadyExists("function", f.GetName())
	}
	return nil
}

func (q queries) GetFunction(ctx context.Context, name string) (*functionspb.Function, error) {
	b, err := getRecord(ctx, q.r, "function", name, `SELECT record FROM functions WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	return decode("function", b, &functionspb.Function{})
}

func (q queries) ListFunctions(ctx context.Context, projectID, location string, page store.Page) ([]*functionspb.Function, error) {
	newF := func() *functionspb.Function { return &functionspb.Function{} }
	if location == "-" {
		return listRecords(ctx, q.r, "functions", newF,
			`SELECT record FROM functions WHERE project_id = ? AND name > ? ORDER BY name LIMIT ?`,
			projectID, page.After, rowcodec.Limit(page.Size))
	}
	return listRecords(ctx, q.r, "functions", newF,
		`SELECT record FROM functions WHERE project_id = ? AND location = ? AND name > ? ORDER BY name LIMIT ?`,
		projectID, location, page.After, rowcodec.Limit(page.Size))
}

func (q queries) UpdateFunction(ctx context.Context, f *functionspb.Function) error {
	if _, _, err := rowcodec.FunctionKey(backend, f.GetName()); err != nil {
		return err
	}
	rec, err := encode("function", f)
	if err != nil {
		return err
	}
	// project_id and location are parts of the name, so they cannot change.
	res, err := q.w.ExecContext(ctx, `UPDATE functions SET record = ? WHERE name = ?`, rec, f.GetName())
	if err != nil {
		return fmt.Errorf("sqlite: update function: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("function", f.GetName())
	}
	return nil
}

func (q queries) DeleteFunction(ctx context.Context, name string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM functions WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("sqlite: delete function: %w", err)
	}
	if n, err := affected(res); err != nil {
		return err
	} else if n == 0 {
		return notFound("function", name)
	}
	return nil
}

// ---- Operations ----

func (q queries) PutOperation(ctx context.Context, op *longrunningpb.Operation) error {
	if op.GetName() == "" {
		return errors.New("sqlite: operation without a name")
	}
	rec, err := encode("operation", op)
	if err != nil {
		return err
	}
	if _, err := q.w.ExecContext(ctx, `INSERT INTO operations (name, record) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET record = excluded.record`, op.GetName(), rec); err != nil {
		return fmt.Errorf("sqlite: put operation: %w", err)
	}
	return nil
}

func (q queries) GetOperation(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	b, err := getRecord(ctx, q.r, "operation", name, `SELECT record FROM operations WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	return decode("operation", b, &longrunningpb.Operation{})
}

// ---- Signing keys ----

func (q queries) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT key_id, private_der, create_time, activate_time, retire_time, delete_time
		FROM signing_keys ORDER BY create_time, key_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var (
			k                                 store.SigningKey
			created                           int64
			activated, retired, deletedAtTime sql.NullInt64
		)
		if err := rows.Scan(&k.KeyID, &k.PrivateDER, &created, &activated, &retired, &deletedAtTime); err != nil {
			return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
		}
		k.CreateTime = time.Unix(0, created).UTC()
		k.ActivateTime = rowcodec.TimeFromDB(activated)
		k.RetireTime = rowcodec.TimeFromDB(retired)
		k.DeleteTime = rowcodec.TimeFromDB(deletedAtTime)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	return out, nil
}

func (q queries) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	times, err := rowcodec.SigningKeyTimes(backend, k)
	if err != nil {
		return err
	}
	if _, err := q.w.ExecContext(ctx, `INSERT INTO signing_keys
		(key_id, private_der, create_time, activate_time, retire_time, delete_time) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key_id) DO UPDATE SET private_der = excluded.private_der, create_time = excluded.create_time,
			activate_time = excluded.activate_time, retire_time = excluded.retire_time, delete_time = excluded.delete_time`,
		k.KeyID, rowcodec.NonNil(k.PrivateDER), times[0], times[1], times[2], times[3]); err != nil {
		return fmt.Errorf("sqlite: put signing key: %w", err)
	}
	return nil
}

func (q queries) DeleteSigningKey(ctx context.Context, keyID string) error {
	if _, err := q.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE key_id = ?`, keyID); err != nil {
		return fmt.Errorf("sqlite: delete signing key: %w", err)
	}
	return nil
}

// ---- Settings ----

func (q queries) GetSetting(ctx context.Context, name string) ([]byte, error) {
	b, err := getRecord(ctx, q.r, "setting", name, `SELECT value FROM settings WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	return rowcodec.NonNil(b), nil
}

func (q queries) PutSetting(ctx context.Context, name string, value []byte) error {
	if name == "" {
		return errors.New("sqlite: setting without a name")
	}
	if _, err := q.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, rowcodec.NonNil(value)); err != nil {
		return fmt.Errorf("sqlite: put setting: %w", err)
	}
	return nil
}
