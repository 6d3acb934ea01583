package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/server"
)

// env is one real oidcron process in the test: real listeners on loopback,
// a SQLite store in a temporary folder, and optionally a fake clock.
type env struct {
	t   *testing.T
	ctx context.Context
	s   *server.Server
	api string // "http://127.0.0.1:PORT"
	clk *clock.Fake
}

type envOption func(*server.Config)

func withRequireAuth() envOption { return func(c *server.Config) { c.RequireAuth = true } }

func withFakeClock(f *clock.Fake) envOption { return func(c *server.Config) { c.Clock = f } }

func withLogger(w io.Writer) envOption {
	return func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(w, nil)) }
}

func withMetadataAccount(email string) envOption {
	return func(c *server.Config) { c.MetadataServiceAccount = email }
}

func start(t *testing.T, opts ...envOption) *env {
	t.Helper()
	cfg := server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx := context.Background()
	s, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	e := &env{t: t, ctx: ctx, s: s, api: "http://" + s.Addrs.API}
	if f, ok := cfg.Clock.(*clock.Fake); ok {
		e.clk = f
	}
	return e
}

// rest returns client options for google.golang.org/api clients.
func (e *env) rest(token string) []option.ClientOption {
	opts := []option.ClientOption{option.WithEndpoint(e.api + "/")}
	if token == "" {
		return append(opts, option.WithoutAuthentication())
	}
	return append(opts, option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})))
}

// gapicREST returns options for the gapic REST clients (no trailing slash).
func (e *env) gapicREST() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(e.api), option.WithoutAuthentication()}
}

// grpc returns client options for the gapic gRPC clients over plaintext.
func (e *env) grpc(token string) []option.ClientOption {
	opts := []option.ClientOption{
		option.WithEndpoint(e.s.Addrs.API), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	if token != "" {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithPerRPCCredentials(bearer(token))))
	}
	return opts
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

// upstream is a function's backend: it records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, r.Clone(context.Background()))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "query": r.URL.RawQuery})
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return nil
	}
	return u.reqs[len(u.reqs)-1]
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
