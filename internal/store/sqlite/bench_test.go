package sqlite

import (
	"errors"
	"fmt"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"

	"github.com/oidcron/oidcron/internal/store"
)

// The hot paths: every gateway request and every token mint reads a policy
// chain and a service account (behind the directory's cache, so these are
// the cost of a miss); every setIamPolicy is a compare-and-swap.
//
//	go test ./internal/store/sqlite -run '^$' -bench . -benchmem

// benchPolicy is a realistic policy: a few bindings, one conditional.
func benchPolicy(etag string) *iampb.Policy {
	p := &iampb.Policy{Version: 3, Etag: []byte(etag)}
	for i := range 5 {
		p.Bindings = append(p.Bindings, &iampb.Binding{
			Role:    fmt.Sprintf("roles/role%d", i),
			Members: []string{"user:a@example.com", fmt.Sprintf("serviceAccount:sa%d@p1.iam.gserviceaccount.com", i)},
		})
	}
	p.Bindings[0].Condition = &expr.Expr{Expression: `request.time < timestamp("2030-01-01T00:00:00Z")`, Title: "until 2030"}
	return p
}

// seed fills the store enough that lookups go through real indexes.
func seed(b *testing.B, s *Store) {
	ctx := b.Context()
	for i := range 1000 {
		if err := s.PutPolicy(ctx, fmt.Sprintf("projects/p%d", i), benchPolicy(fmt.Sprintf("e%d", i)), nil); err != nil {
			b.Fatal(err)
		}
		email := fmt.Sprintf("sa%d@p1.iam.gserviceaccount.com", i)
		sa := &adminpb.ServiceAccount{
			Name: "projects/p1/serviceAccounts/" + email, ProjectId: "p1", Email: email,
			UniqueId: fmt.Sprintf("1%020d", i), DisplayName: "bench", Oauth2ClientId: fmt.Sprintf("1%020d", i),
		}
		if err := s.CreateServiceAccount(ctx, sa); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetPolicy(b *testing.B) {
	s := openTemp(b)
	seed(b, s)
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetPolicy(ctx, fmt.Sprintf("projects/p%d", i%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Reads run concurrently on the reader pool.
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.GetPolicy(ctx, fmt.Sprintf("projects/p%d", i%1000)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("missing", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetPolicy(ctx, "projects/none"); !errors.Is(err, store.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGetServiceAccount(b *testing.B) {
	s := openTemp(b)
	seed(b, s)
	ctx := b.Context()
	b.Run("email", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetServiceAccount(ctx, fmt.Sprintf("sa%d@p1.iam.gserviceaccount.com", i%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unique_id", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.GetServiceAccount(ctx, fmt.Sprintf("1%020d", i%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPutPolicyCAS(b *testing.B) {
	s := openTemp(b)
	seed(b, s)
	ctx := b.Context()
	// The auto-commit compare-and-swap: one statement, one commit.
	b.Run("store", func(b *testing.B) {
		// Start from whatever an earlier run of this sub-benchmark left.
		cur, err := s.GetPolicy(ctx, "projects/p0")
		if err != nil {
			b.Fatal(err)
		}
		etag := string(cur.GetEtag())
		for i := 0; b.Loop(); i++ {
			next := fmt.Sprintf("%s.%d", etag[:min(len(etag), 8)], i)
			if err := s.PutPolicy(ctx, "projects/p0", benchPolicy(next), []byte(etag)); err != nil {
				b.Fatal(err)
			}
			etag = next
		}
	})
	// What setIamPolicy does: read the policy and write the next one in one
	// transaction.
	b.Run("read-modify-write", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			err := s.InTx(ctx, func(tx store.Tx) error {
				cur, err := tx.GetPolicy(ctx, "projects/p1")
				if err != nil {
					return err
				}
				return tx.PutPolicy(ctx, "projects/p1", benchPolicy(fmt.Sprintf("t%d", i)), cur.GetEtag())
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
