// Package server assembles one oidcron process: the store, the issuer's
// keys, the API services over gRPC and REST on one address, the OIDC
// discovery and JWKS documents, the metadata endpoint, health and metrics,
// and the invoker gateway on a second address.
package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/oidcron/oidcron/internal/api"
	"github.com/oidcron/oidcron/internal/api/rest"
	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/doctor"
	"github.com/oidcron/oidcron/internal/gateway"
	"github.com/oidcron/oidcron/internal/h1client"
	"github.com/oidcron/oidcron/internal/iam"
	"github.com/oidcron/oidcron/internal/identity"
	"github.com/oidcron/oidcron/internal/scheduler"
	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/postgres"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

// Config is everything `oidcron serve` takes.
type Config struct {
	Listen        string // gRPC + REST + OIDC documents + health, e.g. "127.0.0.1:8930"
	GatewayListen string // the invoker gateway, e.g. "127.0.0.1:8931"
	DataDir       string // SQLite database and admin token
	// Store selects the database: "" is SQLite in DataDir; a
	// postgres:// or postgresql:// URL is PostgreSQL, which several
	// replicas may share.
	Store       string
	Issuer      string // default "http://" + the listen address
	GatewayURL  string // default "http://" + the gateway address
	RequireAuth bool
	KeyRotation time.Duration
	// MetadataServiceAccount is the account the metadata identity endpoint
	// speaks for ("" disables the endpoint).
	MetadataServiceAccount string
	// DefaultLocation is the scheduler location listed first (gcloud's
	// fallback when --location is not given); default us-central1.
	DefaultLocation string
	// HistoryRetention is how many attempts per job the history keeps;
	// 0 is the default, 100.
	HistoryRetention int
	Logger           *slog.Logger
	Clock            clock.Clock
	// SchedulerSignals, when set, receive the engine's events (tests).
	SchedulerSignals *scheduler.TestSignals
}

// Addrs is where a started server listens.
type Addrs struct {
	API, Gateway string // host:port actually bound
	Issuer       string
	GatewayURL   string
	DataDir      string
	AdminToken   string // the file holding the admin token ("" in dev mode)
}

// Server is a running oidcron.
type Server struct {
	cfg      Config
	Addrs    Addrs
	Store    store.Store
	Dir      *directory.Directory
	Keys     *identity.KeySet
	Minter   *identity.Minter
	Verifier *identity.Verifier
	API      *api.Server
	Gateway  *gateway.Gateway
	Engine   Engine
	Registry *prometheus.Registry

	apiLn, gwLn   net.Listener
	apiSrv, gwSrv *http.Server
	ready         atomic.Bool
	stopKeys      context.CancelFunc
	keysDone      chan struct{}
	lock          *os.File // DATA/lock, held while serving from SQLite
}

// Engine is the server's dispatch engine: scheduler.Engine on SQLite, a
// scheduler.Replica on a database replicas share.
type Engine interface {
	api.Engine
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Flush(ctx context.Context) error
}

// openStore opens the database cfg names.
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if strings.HasPrefix(cfg.Store, "postgres://") || strings.HasPrefix(cfg.Store, "postgresql://") {
		return postgres.Open(ctx, cfg.Store)
	}
	if cfg.Store != "" {
		return nil, fmt.Errorf("--store: %q is not a postgres:// URL (leave it empty for SQLite in the data folder)", cfg.Store)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "oidcron.db"))
}

// Start opens the store, binds both listeners and starts serving. It
// returns once the server is ready; Shutdown stops it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.KeyRotation <= 0 {
		cfg.KeyRotation = 24 * time.Hour
	}
	s := &Server{cfg: cfg}
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()
	var err error
	if s.apiLn, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("--listen %s: %w", cfg.Listen, err)
	}
	if s.gwLn, err = net.Listen("tcp", cfg.GatewayListen); err != nil {
		return nil, fmt.Errorf("--gateway-listen %s: %w", cfg.GatewayListen, err)
	}
	s.Addrs = Addrs{API: s.apiLn.Addr().String(), Gateway: s.gwLn.Addr().String(), DataDir: cfg.DataDir}
	s.Addrs.Issuer = strings.TrimSuffix(orDefault(cfg.Issuer, "http://"+s.Addrs.API), "/")
	s.Addrs.GatewayURL = strings.TrimSuffix(orDefault(cfg.GatewayURL, "http://"+s.Addrs.Gateway), "/")
	if _, err := baseURL("--issuer", s.Addrs.Issuer); err != nil {
		return nil, err
	}
	gwSelf, err := baseURL("--gateway-url", s.Addrs.GatewayURL)
	if err != nil {
		return nil, err
	}

	// The data folder holds the SQLite database and the admin token; a
	// replica on PostgreSQL without --require-auth writes nothing there.
	onSQLite := cfg.Store == ""
	if onSQLite || cfg.RequireAuth {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("--data %s: %w", cfg.DataDir, err)
		}
	}
	if onSQLite {
		if s.lock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	db, err := openStore(ctx, cfg)
	if err != nil && onSQLite {
		return nil, fmt.Errorf("--data %s: %w", cfg.DataDir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.Store = db
	if s.Keys, err = identity.NewKeySet(ctx, db, cfg.Clock, identity.KeyOptions{RotationPeriod: cfg.KeyRotation, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	s.Dir = directory.New(db, cfg.Clock, 0)
	s.Minter = identity.NewMinter(s.Keys, cfg.Clock, s.Addrs.Issuer)
	s.Verifier = identity.NewVerifier(s.Keys, cfg.Clock, s.Addrs.Issuer, s.Dir)

	adminToken, err := s.bootstrapAccess(ctx)
	if err != nil {
		return nil, err
	}
	s.Registry = prometheus.NewRegistry()
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gwRequests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oidcron_gateway_requests_total", Help: "Requests at the invoker gateway by outcome.",
	}, []string{"outcome"})
	s.Registry.MustRegister(gwRequests)
	// The dispatcher's requests prove themselves to the gateway with this
	// key, to learn its denial reasons in every mode (gateway.Config).
	reasonKey := rand.Text()
	s.Gateway = gateway.New(gateway.Config{
		Dir: s.Dir, Verifier: s.Verifier, BaseURL: s.Addrs.GatewayURL, ExposeReasons: !cfg.RequireAuth, ReasonKey: reasonKey, Logger: cfg.Logger,
		Observe: func(o gateway.Outcome) { gwRequests.WithLabelValues(string(o)).Inc() },
	})
	sender := &scheduler.Dispatcher{
		Client:      &http.Client{Transport: viaGateway{gw: s.Gateway, addr: s.Addrs.Gateway, self: gwSelf, reasonKey: reasonKey, next: dispatchTransport()}},
		Credentials: scheduler.AgentCredentials{Dir: s.Dir, Minter: s.Minter},
		Clock:       cfg.Clock,
	}
	if shared, ok := db.(scheduler.SharedStore); ok {
		s.Engine = scheduler.NewReplica(scheduler.ReplicaConfig{
			Store: shared, Clock: cfg.Clock, Logger: cfg.Logger, Registerer: s.Registry, Signals: cfg.SchedulerSignals, Sender: sender,
			Retention: cfg.HistoryRetention,
		})
	} else {
		s.Engine = scheduler.New(scheduler.Config{
			Store: db, Clock: cfg.Clock, Logger: cfg.Logger, Registerer: s.Registry, Signals: cfg.SchedulerSignals, Sender: sender,
			Retention: cfg.HistoryRetention,
		})
	}
	s.API = api.New(api.Config{
		Store: db, Dir: s.Dir, Clock: cfg.Clock, Minter: s.Minter, Verifier: s.Verifier,
		RequireAuth: cfg.RequireAuth, AdminToken: adminToken, Issuer: s.Addrs.Issuer, GatewayURL: s.Addrs.GatewayURL,
		Engine: s.Engine, DefaultLocation: cfg.DefaultLocation, Logger: cfg.Logger,
	})

	apiHandler, err := s.apiHandler()
	if err != nil {
		return nil, err
	}
	if err := s.Engine.Start(ctx); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}

	s.apiSrv = &http.Server{Handler: apiHandler, ReadHeaderTimeout: 10 * time.Second}
	s.apiSrv.Protocols = new(http.Protocols)
	s.apiSrv.Protocols.SetHTTP1(true)
	s.apiSrv.Protocols.SetUnencryptedHTTP2(true) // gRPC clients speak h2c with prior knowledge
	s.gwSrv = &http.Server{Handler: s.Gateway, ReadHeaderTimeout: 10 * time.Second}
	go s.serve(s.apiSrv, s.apiLn)
	go s.serve(s.gwSrv, s.gwLn)
	// Key rotation runs on every replica: it is also how one learns of keys
	// another has made.
	kctx, stopKeys := context.WithCancel(context.Background())
	s.stopKeys = stopKeys
	s.keysDone = make(chan struct{})
	go func() { defer close(s.keysDone); _ = s.Keys.Run(kctx) }()
	s.ready.Store(true)
	ok = true
	cfg.Logger.Info("oidcron ready", "api", "http://"+s.Addrs.API, "gateway", s.Addrs.GatewayURL, "issuer", s.Addrs.Issuer, "data", cfg.DataDir, "store", storeKind(s.Store), "require_auth", cfg.RequireAuth)
	return s, nil
}

// storeKind names the backend for the log (never the URL: it may hold a
// password).
func storeKind(st store.Store) string {
	if _, ok := st.(*postgres.Store); ok {
		return "postgres"
	}
	return "sqlite"
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.cfg.Logger.Error("listener stopped", "addr", ln.Addr().String(), "error", err)
		s.ready.Store(false)
	}
}

// apiHandler routes the API address: gRPC by content type, then the OIDC
// documents, health, metrics and metadata, then REST.
func (s *Server) apiHandler() (http.Handler, error) {
	g := grpc.NewServer(grpc.UnaryInterceptor(s.API.Interceptor))
	t := rest.New(rest.Options{Interceptor: s.API.Interceptor})
	if err := s.API.Register(g, t); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+identity.DiscoveryPath, identity.DiscoveryHandler(s.Addrs.Issuer))
	mux.Handle("GET "+identity.JWKSPath, s.Keys.JWKSHandler())
	mux.Handle("GET "+identity.PEMCertsPath, s.Keys.PEMCertsHandler())
	mux.Handle("GET "+identity.ServiceAccountKeysPath, s.Keys.ServiceAccountKeysHandler(s.Dir.Account))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
	if s.cfg.MetadataServiceAccount != "" {
		md := loopbackOnly(identity.MetadataHandler(s.metadataOptions()))
		mux.Handle("/computeMetadata/", md)
		// google-auth's ping: GET / with Metadata-Flavor, which must answer
		// 200 with Metadata-Flavor: Google before google.auth.default()
		// looks further. The root without that header stays the REST
		// API's (a 404).
		mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Metadata-Flavor") == "" {
				t.ServeHTTP(w, r)
				return
			}
			md.ServeHTTP(w, r)
		}))
	}
	s.API.HandleV1Projects(mux)
	s.API.HandleHistory(mux)
	s.API.HandleDoctor(mux, doctor.New(doctor.Config{Dir: s.Dir, Gateway: s.Gateway, GatewayURL: s.Addrs.GatewayURL, Clock: s.cfg.Clock,
		Credentials: scheduler.AgentCredentials{Dir: s.Dir, Minter: s.Minter}}))
	s.API.HandleAppEngine(mux) // gcloud asks it before ListLocations when --location is not given
	s.API.HandleTroubleshoot(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			g.ServeHTTP(w, r)
			return
		}
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r) // ServeHTTP, not the handler itself: it sets the path values
			return
		}
		t.ServeHTTP(w, r)
	}), nil
}

// bootstrapAccess writes the root policy the flags imply and, with
// --require-auth, makes sure an admin token exists. The root policy is not
// reachable through any API: it is the installation's, set by its operator.
func (s *Server) bootstrapAccess(ctx context.Context) (string, error) {
	root := &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/resourcemanager.projectCreator", Members: []string{api.DevUser}}}}
	token := ""
	if s.cfg.RequireAuth {
		root = &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/owner", Members: []string{api.AdminUser}}}}
		b, err := s.Store.GetSetting(ctx, "admin-token")
		if errors.Is(err, store.ErrNotFound) {
			raw := make([]byte, 32)
			_, _ = rand.Read(raw)
			b = []byte("oidcron-admin." + base64.RawURLEncoding.EncodeToString(raw))
			err = s.Store.PutSetting(ctx, "admin-token", b)
		}
		if err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		token = string(b)
		path := filepath.Join(s.cfg.DataDir, "admin-token")
		// WriteFile sets the mode only on a file it creates: one left
		// looser (a restore, a copy) is tightened too.
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		s.Addrs.AdminToken = path
	}
	root = iam.NormalizePolicy(root)
	root.Etag = iam.ComputeEtag(root)
	if err := s.Store.PutPolicy(ctx, iam.RootResource, root, nil); err != nil {
		return "", fmt.Errorf("root policy: %w", err)
	}
	return token, nil
}

func (s *Server) metadataOptions() identity.MetadataOptions {
	return identity.MetadataOptions{
		Email:  s.cfg.MetadataServiceAccount,
		Lookup: s.Dir.Account,
		Minter: s.Minter,
	}
}

// httpDrain is how long the HTTP servers get to finish the requests they
// are serving once the engine has stopped, before their connections are
// closed.
const httpDrain = 5 * time.Second

// Shutdown stops the server in the order that loses nothing. The engine
// stops first, while the gateway its attempts may go through still serves:
// attempts in flight run until ctx ends and are then cancelled, to be sent
// again at the next start. Then the HTTP servers stop accepting and get
// httpDrain of their own (the engine may have used all of ctx) to finish
// their requests; connections still busy after that are closed. Neither
// cut is an error, as neither loses anything; both are logged. The store
// closes last.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	var errs []error
	if s.Engine != nil {
		errs = append(errs, s.Engine.Stop(ctx))
	}
	if s.stopKeys != nil {
		s.stopKeys()
		<-s.keysDone
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpDrain)
	defer cancel()
	for _, srv := range []*http.Server{s.apiSrv, s.gwSrv} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(hctx); err != nil {
			s.cfg.Logger.Warn("stopping: closing connections with requests still in flight", "err", err)
			_ = srv.Close() // its listeners are closed already; this closes the connections
		}
	}
	if s.Store != nil {
		errs = append(errs, s.Store.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}

func (s *Server) closeAll() {
	if s.apiLn != nil {
		s.apiLn.Close()
	}
	if s.gwLn != nil {
		s.gwLn.Close()
	}
	if s.Store != nil {
		s.Store.Close()
	}
	if s.lock != nil {
		s.lock.Close()
	}
}

// loopbackOnly serves h to clients on this machine only. The metadata
// server hands out the account's tokens to whoever asks, as Google's does
// on its link-local address; here the workloads it serves run beside
// oidcron, and --listen may face a network.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			w.Header().Set("Metadata-Flavor", "Google")
			http.Error(w, "The metadata server answers clients on this machine only.", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// baseURL checks a URL the server publishes (the issuer, the gateway's
// public URL): tokens and function URLs are built on it, so it must be an
// absolute http(s) URL with a host and nothing after its path.
func baseURL(flag, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil && ((u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "") {
		err = errors.New("must be an absolute http:// or https:// URL with a host, no user, query or fragment")
	}
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, raw, err)
	}
	return u, nil
}

// viaGateway sends a job's request for a function hosted here through the
// invoker gateway, as Cloud Scheduler's request reaches a Cloud Function
// through Google's front end: the canonical https://REGION-PROJECT.
// cloudfunctions.net URL is answered by the gateway (plain HTTP on its
// address), with the 401/403 rules applied and, for a denial, its reason
// (reasonKey). Other URLs go out as they are.
type viaGateway struct {
	gw        *gateway.Gateway
	addr      string   // the gateway's listen address
	self      *url.URL // its public URL (--gateway-url), where path-form URLs point
	reasonKey string
	next      http.RoundTripper
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport underneath.
func (v viaGateway) CloseIdleConnections() {
	if c, ok := v.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (v viaGateway) RoundTrip(r *http.Request) (*http.Response, error) {
	if v.mayHost(r.URL) {
		if _, ok := v.gw.Resolve(r.Context(), r.URL.Host, r.URL.Path); ok {
			// This process's gateway answers, whichever replica's
			// address the URL names: its key is this process's.
			r = r.Clone(r.Context())
			r.Host = r.URL.Host // the gateway routes by it
			r.URL.Scheme, r.URL.Host = "http", v.addr
			r.Header.Set(gateway.ReasonKeyHeader, v.reasonKey)
			return v.next.RoundTrip(r)
		}
	}
	resp, err := v.next.RoundTrip(r)
	if resp != nil {
		// Only this process's gateway gives denial reasons.
		resp.Header.Del(gateway.ReasonHeader)
	}
	return resp, err
}

// mayHost reports whether u may name a function of the gateway: the
// canonical https://REGION-PROJECT.cloudfunctions.net form, or the path
// form on the gateway's address or its public URL (which replicas share).
func (v viaGateway) mayHost(u *url.URL) bool {
	return strings.HasSuffix(strings.ToLower(u.Hostname()), ".cloudfunctions.net") ||
		u.Host == v.addr || (u.Scheme == v.self.Scheme && u.Host == v.self.Host)
}

// dispatchTransport reaches job targets: plain-http targets through
// h1client (the exchange on the dispatcher's goroutine: ~9 µs less CPU
// per request than net/http's Transport, BENCHMARKS.md), everything else
// through net/http. Go's default keeps 2 idle connections per host; a burst
// of jobs to one target would then open and close a connection per
// request, which halves the dispatch rate.
func dispatchTransport() *h1client.Transport {
	return &h1client.Transport{Fallback: fallbackTransport()}
}

func fallbackTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return t
}
