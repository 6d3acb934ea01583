// Command oidcron-bench measures oidcron on this machine, each figure beside
// its baseline in the same run, and prints a Markdown table for
// BENCHMARKS.md.
//
//	go run ./cmd/oidcron-bench gateway   # upstream direct vs plain reverse proxy vs the gateway
//	go run ./cmd/oidcron-bench tokens    # generateIdToken per second, cached and uncached
//	go run ./cmd/oidcron-bench burst     # N jobs due at one minute boundary: dispatches/s, fire delay, CPU
//	go run ./cmd/oidcron-bench steady    # N jobs spread over a minute: fire delay
//	go run ./cmd/oidcron-bench peers     # the same against robfig/cron v3 and go-co-op/gocron v2
//	go run ./cmd/oidcron-bench scale     # 1,000,000 jobs: restart to ready, RSS, ListJobs pages
//
// burst and steady run on SQLite, or with -store on a fresh PostgreSQL
// database of their own on that server, served by -replicas servers:
//
//	go run ./cmd/oidcron-bench burst -store 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' -replicas 2
//
// Every target is on loopback; every loop is bounded in requests and time.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cfv2 "google.golang.org/api/cloudfunctions/v2"
	crm "google.golang.org/api/cloudresourcemanager/v1"
	iamv1 "google.golang.org/api/iam/v1"
	"google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"

	"github.com/oidcron/oidcron/internal/server"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: oidcron-bench gateway|tokens|burst|steady|peers|scale [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gateway":
		err = benchGateway(os.Args[2:])
	case "tokens":
		err = benchTokens(os.Args[2:])
	case "burst":
		err = benchBurst(os.Args[2:])
	case "steady":
		err = benchSteady(os.Args[2:])
	case "peers":
		err = benchPeers(os.Args[2:])
	case "scale":
		err = benchScale(os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidcron-bench:", err)
		os.Exit(1)
	}
}

// stack is an oidcron server with one function whose invoker holds a token.
type stack struct {
	s        *server.Server
	upstream *httptest.Server
	token    string
	fnURL    string
	opts     []option.ClientOption
	saEmail  string
	dir      string
}

// startStack starts the stack in a fresh temporary folder; close removes it.
func startStack(ctx context.Context) (*stack, error) {
	dir, err := os.MkdirTemp("", "oidcron-bench")
	if err != nil {
		return nil, err
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte("ok"))
	}))
	s, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	st := &stack{s: s, upstream: up, dir: dir, opts: []option.ClientOption{option.WithEndpoint("http://" + s.Addrs.API + "/"), option.WithoutAuthentication()}}
	cf, err := cfv2.NewService(ctx, st.opts...)
	if err != nil {
		return nil, err
	}
	if _, err := cf.Projects.Locations.Functions.Create("projects/bench/locations/us-central1", &cfv2.Function{
		ServiceConfig: &cfv2.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": up.URL}},
	}).FunctionId("sink").Do(); err != nil {
		return nil, err
	}
	st.fnURL = "https://us-central1-bench.cloudfunctions.net/sink"
	iamSvc, _ := iamv1.NewService(ctx, st.opts...)
	sa, err := iamSvc.Projects.ServiceAccounts.Create("projects/bench", &iamv1.CreateServiceAccountRequest{AccountId: "invoker"}).Do()
	if err != nil {
		return nil, err
	}
	st.saEmail = sa.Email
	rm, _ := crm.NewService(ctx, st.opts...)
	pol, err := rm.Projects.GetIamPolicy("bench", &crm.GetIamPolicyRequest{}).Do()
	if err != nil {
		return nil, err
	}
	pol.Bindings = append(pol.Bindings,
		&crm.Binding{Role: "roles/cloudfunctions.invoker", Members: []string{"serviceAccount:" + sa.Email}},
		&crm.Binding{Role: "roles/iam.serviceAccountTokenCreator", Members: []string{"user:dev@oidcron.local"}})
	if _, err := rm.Projects.SetIamPolicy("bench", &crm.SetIamPolicyRequest{Policy: pol}).Do(); err != nil {
		return nil, err
	}
	creds, _ := iamcredentials.NewService(ctx, st.opts...)
	tok, err := creds.Projects.ServiceAccounts.GenerateIdToken("projects/-/serviceAccounts/"+sa.Email,
		&iamcredentials.GenerateIdTokenRequest{Audience: st.fnURL, IncludeEmail: true}).Do()
	if err != nil {
		return nil, err
	}
	st.token = tok.Token
	return st, nil
}

func (st *stack) close(ctx context.Context) {
	_ = st.s.Shutdown(ctx)
	st.upstream.Close()
	os.RemoveAll(st.dir)
}

// result of one load run.
type result struct {
	name       string
	requests   int
	elapsed    time.Duration
	p50, p99   time.Duration
	errors     int64
	throughput float64
}

// load sends requests from conc workers for dur (or until max requests)
// and records each latency.
func load(name string, conc int, dur time.Duration, max int, mk func() *http.Request) result {
	tr := &http.Transport{MaxIdleConnsPerHost: conc * 2, DialContext: (&net.Dialer{}).DialContext}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var (
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, max)
		errs    atomic.Int64
		sent    atomic.Int64
		wg      sync.WaitGroup
		started = time.Now()
	)
	deadline := started.Add(dur)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, max/conc+1)
			for time.Now().Before(deadline) && sent.Add(1) <= int64(max) {
				t0 := time.Now()
				resp, err := client.Do(mk())
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(started)
	slices.Sort(lat)
	r := result{name: name, requests: len(lat), elapsed: el, errors: errs.Load()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[len(lat)*99/100]
		r.throughput = float64(len(lat)) / el.Seconds()
	}
	return r
}

func benchGateway(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ExitOnError)
	conc := fs.Int("c", 16, "concurrent clients")
	dur := fs.Duration("d", 5*time.Second, "duration of each run")
	rounds := fs.Int("rounds", 3, "rounds; each runs all three targets in turn, and each target's median round is reported")
	_ = fs.Parse(args)
	ctx := context.Background()
	st, err := startStack(ctx)
	if err != nil {
		return err
	}
	defer st.close(ctx)
	upURL, _ := url.Parse(st.upstream.URL)
	plain := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(upURL); pr.SetXForwarded() },
		Transport: &http.Transport{MaxIdleConnsPerHost: 256},
	})
	defer plain.Close()
	gw := "http://" + st.s.Addrs.Gateway + "/sink"
	targets := []struct {
		name string
		mk   func() *http.Request
	}{
		// Every target gets the same request bytes, token included, so the
		// difference is what is done with them.
		{"upstream direct", func() *http.Request {
			r, _ := http.NewRequest("GET", st.upstream.URL+"/", nil)
			r.Header.Set("Authorization", "Bearer "+st.token)
			return r
		}},
		{"plain reverse proxy (no auth)", func() *http.Request {
			r, _ := http.NewRequest("GET", plain.URL+"/", nil)
			r.Header.Set("Authorization", "Bearer "+st.token)
			return r
		}},
		{"oidcron gateway (verify + IAM)", func() *http.Request {
			r, _ := http.NewRequest("GET", gw, nil)
			r.Host = "us-central1-bench.cloudfunctions.net"
			r.Header.Set("Authorization", "Bearer "+st.token)
			return r
		}},
	}
	// Rounds interleave the targets so that a change in the machine's load
	// touches all three alike; the median round of each is reported.
	runs := map[string][]result{}
	for round := range *rounds {
		for _, t := range targets {
			r := load(t.name, *conc, *dur, 5_000_000, t.mk)
			if r.errors > 0 {
				return fmt.Errorf("%s: %d errors in round %d", t.name, r.errors, round)
			}
			runs[t.name] = append(runs[t.name], r)
		}
	}
	best := map[string]result{}
	for name, rs := range runs {
		slices.SortFunc(rs, func(a, b result) int { return cmp.Compare(a.throughput, b.throughput) })
		best[name] = rs[len(rs)/2]
	}
	fmt.Printf("Gateway, %d clients, median of %d rounds of %s, GOMAXPROCS=%d, %s\n\n", *conc, *rounds, *dur, runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Println("| target | req/s | p50 | p99 | vs plain proxy (throughput) | added p50 vs plain proxy |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	pp := best[targets[1].name]
	for _, t := range targets {
		r := best[t.name]
		fmt.Printf("| %s | %.0f | %s | %s | %.1f%% | %s |\n", r.name, r.throughput, us(r.p50), us(r.p99), 100*r.throughput/pp.throughput, us(r.p50-pp.p50))
	}
	return nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func benchTokens(args []string) error {
	fs := flag.NewFlagSet("tokens", flag.ExitOnError)
	conc := fs.Int("c", 8, "concurrent clients")
	n := fs.Int("n", 2000, "requests per run")
	_ = fs.Parse(args)
	ctx := context.Background()
	st, err := startStack(ctx)
	if err != nil {
		return err
	}
	defer st.close(ctx)
	endpoint := "http://" + st.s.Addrs.API + "/v1/projects/-/serviceAccounts/" + st.saEmail + ":generateIdToken"
	var seq atomic.Int64
	mk := func(aud func() string) func() *http.Request {
		return func() *http.Request {
			body := fmt.Sprintf(`{"audience":%q}`, aud())
			r, _ := http.NewRequest("POST", endpoint, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			return r
		}
	}
	cached := load("generateIdToken, cached (same audience)", *conc, time.Minute, *n, mk(func() string { return st.fnURL }))
	uncached := load("generateIdToken, uncached (new audience each)", *conc, time.Minute, *n, mk(func() string {
		return fmt.Sprintf("https://aud-%d.example", seq.Add(1))
	}))
	gw := "http://" + st.s.Addrs.Gateway + "/sink"
	verify := load("gateway request with verification (cached signature check)", *conc, time.Minute, *n*5, func() *http.Request {
		r, _ := http.NewRequest("GET", gw, nil)
		r.Host = "us-central1-bench.cloudfunctions.net"
		r.Header.Set("Authorization", "Bearer "+st.token)
		return r
	})
	fmt.Printf("Tokens over REST, %d clients, GOMAXPROCS=%d, %s\n\n", *conc, runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Println("| operation | per second | p50 | p99 |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range []result{cached, uncached, verify} {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d errors", r.name, r.errors)
		}
		fmt.Printf("| %s | %.0f | %s | %s |\n", r.name, r.throughput, us(r.p50), us(r.p99))
	}
	return nil
}
