package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/rowcodec"
)

// querier is what the pool and a transaction have in common: the one seam
// that lets the Store's auto-commit methods and the Tx given to InTx share
// every query.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// queries implements store.Tx on db: the pool (auto true: every call is
// its own implicit transaction) or a transaction of InTx.
//
// Every write is one statement (a batch for UpdateJobStates), so that on
// the pool it is atomic on its own: compare-and-swap, soft delete and
// undelete are conditions in a WHERE clause, checks of other rows are in
// the same statement, and a write of several tables is one statement of
// data-modifying CTEs. Nothing a contract error reports (not found, a
// version or etag mismatch, a taken key) is raised as a PostgreSQL error,
// which would abort the caller's transaction: it is found by the
// statement and reported from its result.
type queries struct {
	db   querier
	auto bool
}

var _ store.Tx = queries{}

// run runs one call's statement: in InTx as it is (the transaction is
// retried as a whole); on the pool retried by itself on a serialization
// failure, which a single SERIALIZABLE statement can meet when another
// transaction wrote the same rows. fn must set its results afresh on each
// run.
func (q queries) run(ctx context.Context, fn func() error) error {
	if !q.auto {
		return fn()
	}
	return retry(ctx, fn)
}

// storableKey reports whether a text column can hold key: PostgreSQL's
// text takes neither a NUL nor invalid UTF-8 and refuses a query comparing
// with one, where SQLite simply finds no row. No record has such a key, so
// a lookup of one is not found, as on SQLite.
func storableKey(key string) bool {
	return utf8.ValidString(key) && !strings.ContainsRune(key, 0)
}

// getRecord reads the one blob a query selects, or returns ErrNotFound
// naming kind and key.
func (q queries) getRecord(ctx context.Context, kind, key, query string, args ...any) ([]byte, error) {
	if !storableKey(key) {
		return nil, notFound(kind, key)
	}
	var b []byte
	err := q.run(ctx, func() error { return q.db.QueryRow(ctx, query, args...).Scan(&b) })
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(kind, key)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get %s %q: %w", kind, key, err)
	}
	return b, nil
}

// listRecords decodes every blob a query selects, in its order.
func listRecords[T proto.Message](ctx context.Context, q queries, what string, newT func() T, query string, args ...any) ([]T, error) {
	var out []T
	err := q.run(ctx, func() error {
		rows, err := q.db.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		blobs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		out = make([]T, 0, len(blobs))
		for _, b := range blobs {
			m, err := decode(what, b, newT())
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, err)
	}
	return out, nil
}

// exec runs a write and returns how many rows it changed.
func (q queries) exec(ctx context.Context, what, query string, args ...any) (int64, error) {
	var n int64
	err := q.run(ctx, func() error {
		tag, err := q.db.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return n, nil
}

// insert runs an INSERT ... ON CONFLICT DO NOTHING of the record of kind
// under key: when it writes no row, the key is taken.
func (q queries) insert(ctx context.Context, kind, key, query string, args ...any) error {
	n, err := q.exec(ctx, "create "+kind, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return alreadyExists(kind, key)
	}
	return nil
}

// writeExisting runs what, an UPDATE or DELETE of the record of kind under
// key: when it changes no row, there is no such record.
func (q queries) writeExisting(ctx context.Context, what, kind, key, query string, args ...any) error {
	n, err := q.exec(ctx, what, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(kind, key)
	}
	return nil
}

// ---- Projects ----

func (q queries) CreateProject(ctx context.Context, p *resourcemanagerpb.Project) error {
	number, rec, err := rowcodec.ProjectColumns(backend, p)
	if err != nil {
		return err
	}
	// DO NOTHING covers both unique keys, id and number.
	return q.insert(ctx, "project", p.GetProjectId(),
		`INSERT INTO projects (project_id, number, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		p.GetProjectId(), number, rec)
}

func (q queries) GetProject(ctx context.Context, projectID string) (*resourcemanagerpb.Project, error) {
	b, err := q.getRecord(ctx, "project", projectID, `SELECT record FROM projects WHERE project_id = $1`, projectID)
	if err != nil {
		return nil, err
	}
	return decode("project", b, &resourcemanagerpb.Project{})
}

func (q queries) GetProjectByNumber(ctx context.Context, number int64) (*resourcemanagerpb.Project, error) {
	b, err := q.getRecord(ctx, "project number", strconv.FormatInt(number, 10), `SELECT record FROM projects WHERE number = $1`, number)
	if err != nil {
		return nil, err
	}
	return decode("project", b, &resourcemanagerpb.Project{})
}

func (q queries) ListProjects(ctx context.Context, page store.Page) ([]*resourcemanagerpb.Project, error) {
	return listRecords(ctx, q, "projects", func() *resourcemanagerpb.Project { return &resourcemanagerpb.Project{} },
		`SELECT record FROM projects WHERE project_id > $1 ORDER BY project_id LIMIT $2`, after(page), rowcodec.Limit(page.Size))
}

// updateOutcome reads the three flags of a checked update: whether it
// wrote, whether its target exists, and whether the key it would take is
// another row's.
func (q queries) updateOutcome(ctx context.Context, what, query string, args ...any) (wrote, exists, taken bool, err error) {
	err = q.run(ctx, func() error { return q.db.QueryRow(ctx, query, args...).Scan(&wrote, &exists, &taken) })
	if isUniqueViolation(err) {
		// A row that took the key after the check read: reported as the
		// check would have.
		return false, true, true, nil
	}
	if err != nil {
		return false, false, false, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return wrote, exists, taken, nil
}

func (q queries) UpdateProject(ctx context.Context, p *resourcemanagerpb.Project) error {
	number, rec, err := rowcodec.ProjectColumns(backend, p)
	if err != nil {
		return err
	}
	wrote, exists, _, err := q.updateOutcome(ctx, "update project", `
		WITH taken AS (SELECT 1 FROM projects WHERE number = $2 AND project_id <> $1),
		upd AS (UPDATE projects SET number = $2, record = $3
			WHERE project_id = $1 AND NOT EXISTS (SELECT 1 FROM taken) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM projects WHERE project_id = $1), EXISTS (SELECT 1 FROM taken)`,
		p.GetProjectId(), number, rec)
	switch {
	case err != nil:
		return err
	case wrote:
		return nil
	case !exists:
		return notFound("project", p.GetProjectId())
	default:
		return alreadyExists("project number", strconv.FormatInt(number, 10))
	}
}

// ---- Policies ----

func (q queries) GetPolicy(ctx context.Context, resource string) (*iampb.Policy, error) {
	b, err := q.getRecord(ctx, "policy of", resource, `SELECT record FROM policies WHERE resource = $1`, resource)
	if err != nil {
		return nil, err
	}
	return decode("policy", b, &iampb.Policy{})
}

func (q queries) ListPolicies(ctx context.Context, page store.Page) ([]store.ResourcePolicy, error) {
	var out []store.ResourcePolicy
	err := q.run(ctx, func() error {
		out = nil
		rows, err := q.db.Query(ctx, `SELECT resource, record FROM policies WHERE resource > $1 ORDER BY resource LIMIT $2`,
			after(page), rowcodec.Limit(page.Size))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r string
			var b []byte
			if err := rows.Scan(&r, &b); err != nil {
				return err
			}
			p, err := decode("policy", b, &iampb.Policy{})
			if err != nil {
				return err
			}
			out = append(out, store.ResourcePolicy{Resource: r, Policy: p})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list policies: %w", err)
	}
	return out, nil
}

func (q queries) PutPolicy(ctx context.Context, resource string, p *iampb.Policy, expectEtag []byte) error {
	if resource == "" {
		return errors.New("postgres: policy without a resource name")
	}
	if p == nil {
		return fmt.Errorf("postgres: nil policy for %q", resource)
	}
	rec, err := encode("policy", p)
	if err != nil {
		return err
	}
	etag := rowcodec.NonNil(p.GetEtag())
	var n int64
	switch {
	case expectEtag == nil:
		n, err = q.exec(ctx, "put policy", `INSERT INTO policies (resource, etag, record) VALUES ($1, $2, $3)
			ON CONFLICT (resource) DO UPDATE SET etag = excluded.etag, record = excluded.record`,
			resource, etag, rec)
	case bytes.Equal(expectEtag, []byte(store.EmptyPolicyEtag)):
		// The caller saw no policy (or a stored one whose etag happens to
		// be the empty policy's): insert, or replace only that etag, in one
		// statement.
		n, err = q.exec(ctx, "put policy", `INSERT INTO policies (resource, etag, record) VALUES ($1, $2, $3)
			ON CONFLICT (resource) DO UPDATE SET etag = excluded.etag, record = excluded.record
			WHERE policies.etag = $4`,
			resource, etag, rec, expectEtag)
	default:
		// Any other etag can only match a stored policy.
		n, err = q.exec(ctx, "put policy", `UPDATE policies SET etag = $1, record = $2 WHERE resource = $3 AND etag = $4`,
			etag, rec, resource, expectEtag)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("policy of %q: %w", resource, store.ErrEtagMismatch)
	}
	return nil
}

func (q queries) DeletePolicy(ctx context.Context, resource string) error {
	_, err := q.exec(ctx, "delete policy", `DELETE FROM policies WHERE resource = $1`, resource)
	return err
}

// ---- Service accounts ----

func (q queries) CreateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error {
	rec, err := rowcodec.ServiceAccountRecord(backend, sa)
	if err != nil {
		return err
	}
	// DO NOTHING covers the primary key (unique ids are never reused, even
	// those of deleted accounts) and the live-email index.
	return q.insert(ctx, "service account", sa.GetEmail(), `INSERT INTO service_accounts (unique_id, email, project_id, delete_time, record)
		VALUES ($1, $2, $3, NULL, $4) ON CONFLICT DO NOTHING`,
		sa.GetUniqueId(), sa.GetEmail(), sa.GetProjectId(), rec)
}

func (q queries) GetServiceAccount(ctx context.Context, emailOrUniqueID string) (*adminpb.ServiceAccount, error) {
	// Two indexed lookups rather than one OR. An email has an '@' and a
	// unique id is digits, so at most one branch matches.
	b, err := q.getRecord(ctx, "service account", emailOrUniqueID, `
		SELECT record FROM service_accounts WHERE email = $1 AND delete_time IS NULL
		UNION ALL
		SELECT record FROM service_accounts WHERE unique_id = $1 AND delete_time IS NULL
		LIMIT 1`, emailOrUniqueID)
	if err != nil {
		return nil, err
	}
	return decode("service account", b, &adminpb.ServiceAccount{})
}

func (q queries) ListServiceAccounts(ctx context.Context, projectID string, page store.Page) ([]*adminpb.ServiceAccount, error) {
	return listRecords(ctx, q, "service accounts", func() *adminpb.ServiceAccount { return &adminpb.ServiceAccount{} },
		`SELECT record FROM service_accounts WHERE project_id = $1 AND delete_time IS NULL AND email > $2
		ORDER BY email LIMIT $3`, projectID, after(page), rowcodec.Limit(page.Size))
}

func (q queries) UpdateServiceAccount(ctx context.Context, sa *adminpb.ServiceAccount) error {
	rec, err := rowcodec.ServiceAccountRecord(backend, sa)
	if err != nil {
		return err
	}
	wrote, exists, _, err := q.updateOutcome(ctx, "update service account", `
		WITH taken AS (SELECT 1 FROM service_accounts WHERE email = $1 AND delete_time IS NULL AND unique_id <> $4),
		upd AS (UPDATE service_accounts SET email = $1, project_id = $2, record = $3
			WHERE unique_id = $4 AND delete_time IS NULL AND NOT EXISTS (SELECT 1 FROM taken) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM upd),
			EXISTS (SELECT 1 FROM service_accounts WHERE unique_id = $4 AND delete_time IS NULL),
			EXISTS (SELECT 1 FROM taken)`,
		sa.GetEmail(), sa.GetProjectId(), rec, sa.GetUniqueId())
	switch {
	case err != nil:
		return err
	case wrote:
		return nil
	case !exists:
		return notFound("service account", sa.GetUniqueId())
	default:
		return alreadyExists("service account", sa.GetEmail())
	}
}

func (q queries) DeleteServiceAccount(ctx context.Context, uniqueID string, at time.Time) error {
	if at.IsZero() {
		// NULL is how a live account is told apart; a zero deletion time
		// would have to be stored as NULL and the delete would not happen.
		return fmt.Errorf("postgres: delete service account %q: no deletion time", uniqueID)
	}
	t, err := timeToDB(at)
	if err != nil {
		return err
	}
	return q.writeExisting(ctx, "delete service account", "service account", uniqueID,
		`UPDATE service_accounts SET delete_time = $1 WHERE unique_id = $2 AND delete_time IS NULL`, t, uniqueID)
}

func (q queries) GetDeletedServiceAccount(ctx context.Context, uniqueID string) (*adminpb.ServiceAccount, time.Time, error) {
	var (
		b  []byte
		at pgtype.Int8
	)
	err := q.run(ctx, func() error {
		return q.db.QueryRow(ctx, `SELECT record, delete_time FROM service_accounts
			WHERE unique_id = $1 AND delete_time IS NOT NULL`, uniqueID).Scan(&b, &at)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, notFound("deleted service account", uniqueID)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("postgres: get deleted service account: %w", err)
	}
	sa, err := decode("service account", b, &adminpb.ServiceAccount{})
	if err != nil {
		return nil, time.Time{}, err
	}
	return sa, timeFromDB(at), nil
}

func (q queries) UndeleteServiceAccount(ctx context.Context, uniqueID string) error {
	wrote, exists, _, err := q.updateOutcome(ctx, "undelete service account", `
		WITH target AS (SELECT email FROM service_accounts WHERE unique_id = $1 AND delete_time IS NOT NULL),
		taken AS (SELECT 1 FROM service_accounts AS s JOIN target ON s.email = target.email WHERE s.delete_time IS NULL),
		upd AS (UPDATE service_accounts SET delete_time = NULL
			WHERE unique_id = $1 AND delete_time IS NOT NULL AND NOT EXISTS (SELECT 1 FROM taken) RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM upd), EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM taken)`,
		uniqueID)
	switch {
	case err != nil:
		return err
	case wrote:
		return nil
	case !exists:
		return notFound("deleted service account", uniqueID)
	default:
		// A live account took the email meanwhile.
		return alreadyExists("service account email of", uniqueID)
	}
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
	return q.insert(ctx, "function", f.GetName(), `INSERT INTO functions (name, project_id, location, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, f.GetName(), project, location, rec)
}

func (q queries) GetFunction(ctx context.Context, name string) (*functionspb.Function, error) {
	b, err := q.getRecord(ctx, "function", name, `SELECT record FROM functions WHERE name = $1`, name)
	if err != nil {
		return nil, err
	}
	return decode("function", b, &functionspb.Function{})
}

func (q queries) ListFunctions(ctx context.Context, projectID, location string, page store.Page) ([]*functionspb.Function, error) {
	newF := func() *functionspb.Function { return &functionspb.Function{} }
	if location == "-" {
		return listRecords(ctx, q, "functions", newF,
			`SELECT record FROM functions WHERE project_id = $1 AND name > $2 ORDER BY name LIMIT $3`,
			projectID, after(page), rowcodec.Limit(page.Size))
	}
	return listRecords(ctx, q, "functions", newF,
		`SELECT record FROM functions WHERE project_id = $1 AND location = $2 AND name > $3 ORDER BY name LIMIT $4`,
		projectID, location, after(page), rowcodec.Limit(page.Size))
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
	return q.writeExisting(ctx, "update function", "function", f.GetName(),
		`UPDATE functions SET record = $1 WHERE name = $2`, rec, f.GetName())
}

func (q queries) DeleteFunction(ctx context.Context, name string) error {
	return q.writeExisting(ctx, "delete function", "function", name, `DELETE FROM functions WHERE name = $1`, name)
}

// ---- Operations ----

func (q queries) PutOperation(ctx context.Context, op *longrunningpb.Operation) error {
	if op.GetName() == "" {
		return errors.New("postgres: operation without a name")
	}
	rec, err := encode("operation", op)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, "put operation", `INSERT INTO operations (name, record) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET record = excluded.record`, op.GetName(), rec)
	return err
}

func (q queries) GetOperation(ctx context.Context, name string) (*longrunningpb.Operation, error) {
	b, err := q.getRecord(ctx, "operation", name, `SELECT record FROM operations WHERE name = $1`, name)
	if err != nil {
		return nil, err
	}
	return decode("operation", b, &longrunningpb.Operation{})
}

// ---- Signing keys ----

func (q queries) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	var out []store.SigningKey
	err := q.run(ctx, func() error {
		out = nil
		rows, err := q.db.Query(ctx, `SELECT key_id, private_der, create_time, activate_time, retire_time, delete_time
			FROM signing_keys ORDER BY create_time, key_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k                          store.SigningKey
				created                    int64
				activated, retired, doomed pgtype.Int8
			)
			if err := rows.Scan(&k.KeyID, &k.PrivateDER, &created, &activated, &retired, &doomed); err != nil {
				return err
			}
			k.CreateTime = time.Unix(0, created).UTC()
			k.ActivateTime = timeFromDB(activated)
			k.RetireTime = timeFromDB(retired)
			k.DeleteTime = timeFromDB(doomed)
			out = append(out, k)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	return out, nil
}

func (q queries) PutSigningKey(ctx context.Context, k store.SigningKey) error {
	times, err := rowcodec.SigningKeyTimes(backend, k)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, "put signing key", `INSERT INTO signing_keys
		(key_id, private_der, create_time, activate_time, retire_time, delete_time) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (key_id) DO UPDATE SET private_der = excluded.private_der, create_time = excluded.create_time,
			activate_time = excluded.activate_time, retire_time = excluded.retire_time, delete_time = excluded.delete_time`,
		k.KeyID, rowcodec.NonNil(k.PrivateDER), pgtype.Int8(times[0]), pgtype.Int8(times[1]), pgtype.Int8(times[2]), pgtype.Int8(times[3]))
	return err
}

func (q queries) DeleteSigningKey(ctx context.Context, keyID string) error {
	_, err := q.exec(ctx, "delete signing key", `DELETE FROM signing_keys WHERE key_id = $1`, keyID)
	return err
}

// ---- Settings ----

func (q queries) GetSetting(ctx context.Context, name string) ([]byte, error) {
	b, err := q.getRecord(ctx, "setting", name, `SELECT value FROM settings WHERE name = $1`, name)
	if err != nil {
		return nil, err
	}
	return rowcodec.NonNil(b), nil
}

func (q queries) PutSetting(ctx context.Context, name string, value []byte) error {
	if name == "" {
		return errors.New("postgres: setting without a name")
	}
	_, err := q.exec(ctx, "put setting", `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, rowcodec.NonNil(value))
	return err
}
