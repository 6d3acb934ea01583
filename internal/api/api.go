// Package api implements Google's gRPC services for the parts of Google Cloud
// oidcron hosts: Resource Manager projects, IAM admin (service accounts and
// roles), IAM Credentials, and Cloud Functions (v1 and v2). The same
// implementations serve REST through internal/api/rest.
//
// Every access decision goes through iam.Authorize; every multi-step write is
// one store transaction; every error speaks Google's codes and texts.
package api

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/store"
)

// Config is what the services need; the server command builds it.
type Config struct {
	Store    store.Store
	Dir      *directory.Directory
	Clock    clock.Clock
	Minter   *identity.Minter
	Verifier *identity.Verifier
	// RequireAuth turns dev mode off: no anonymous-as-dev-user, no projects
	// created on first reference.
	RequireAuth bool
	// AdminToken is a bearer secret that acts as AdminUser (empty: none).
	AdminToken string
	// Issuer is the OIDC issuer URL; an ID token authenticates API calls
	// only when minted for this audience (a token minted for a function
	// reaches that function and must not be replayable against the API).
	Issuer string
	// GatewayURL is the invoker gateway's base URL, for the path form of
	// function URLs ("http://127.0.0.1:8931").
	GatewayURL string
	// Engine dispatches jobs; nil stores jobs without firing them.
	Engine Engine
	// DefaultLocation is listed first by ListLocations (gcloud takes the
	// first location when --location is not given).
	DefaultLocation string
	Logger          *slog.Logger
}

// Server holds the service implementations.
type Server struct {
	cfg Config
	st  store.Store
	dir *directory.Directory
	clk clock.Clock
	log *slog.Logger
}

// New returns the services over cfg.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, st: cfg.Store, dir: cfg.Dir, clk: cfg.Clock, log: log}
}

// check asks iam.Authorize whether the caller holds permission on resource.
// On a denial it logs the explanation and returns deny(); lookup failures are
// INTERNAL.
func (s *Server) check(ctx context.Context, permission, resource string, deny func() error) error {
	sub := SubjectFrom(ctx)
	d, err := iam.Authorize(ctx, s.dir, sub, permission, s.dir.CanonicalResource(ctx, resource))
	if err != nil {
		return internal(err)
	}
	if !d.Granted {
		s.log.Info("permission denied", "subject", sub.Member, "permission", permission, "resource", resource, "reason", d.Reason)
		return deny()
	}
	return nil
}

// allowed reports whether the caller holds permission on resource, for
// filtering lists.
func (s *Server) allowed(ctx context.Context, permission, resource string) bool {
	d, err := iam.Authorize(ctx, s.dir, SubjectFrom(ctx), permission, resource)
	return err == nil && d.Granted
}

// write runs fn in one transaction and drops the directory's cache after, so
// the change is visible to the next request in this process.
func (s *Server) write(ctx context.Context, fn func(tx store.Tx) error) error {
	err := s.st.InTx(ctx, fn)
	s.dir.Invalidate()
	return err
}

// storeErr maps a store error that the caller did not expect to a status.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, "Requested entity was not found.")
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "Requested entity already exists")
	case errors.Is(err, store.ErrEtagMismatch):
		return concurrentPolicyChange
	}
	return internal(err)
}

// randomDigits returns n decimal digits, the first one from first.
func randomDigits(first string, n int) string {
	b := make([]byte, 0, n)
	f, _ := rand.Int(rand.Reader, big.NewInt(int64(len(first))))
	b = append(b, first[f.Int64()])
	for len(b) < n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b = append(b, byte('0'+d.Int64()))
	}
	return string(b)
}

// resolveIn is how every named resource in a project is reached. The
// project (created on first reference in dev mode) must exist, else the
// caller is denied, as Google denies ("or it may not exist"). find looks
// the resource up and names where its permission is checked; a missing
// resource is notFound for a caller holding permission on the project, and
// a denial otherwise, so that existence does not leak.
func resolveIn[T any](ctx context.Context, s *Server, project, permission string, deny func() error,
	find func(projectID string) (v T, checkOn string, err error), notFound func(projectID string) error) (T, error) {
	var zero T
	p, err := s.project(ctx, project)
	if errors.Is(err, store.ErrNotFound) {
		return zero, deny()
	}
	if err != nil {
		return zero, storeErr(err)
	}
	v, checkOn, err := find(p.GetProjectId())
	if errors.Is(err, store.ErrNotFound) {
		if err := s.check(ctx, permission, iam.ProjectResource(p.GetProjectId()), deny); err != nil {
			return zero, err
		}
		return zero, notFound(p.GetProjectId())
	}
	if err != nil {
		return zero, internal(err)
	}
	if err := s.check(ctx, permission, checkOn, deny); err != nil {
		return zero, err
	}
	return v, nil
}
