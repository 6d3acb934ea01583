package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/cloudfunctions/v2"
	"google.golang.org/api/option"
)

// TestServeBinary runs the real binary: it starts, reports its addresses,
// answers /readyz, serves a function through the gateway, and on SIGTERM
// lets the request in flight finish before it exits 0.
func TestServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t)
	// The shutdown line is the event that SIGTERM was taken in, while the
	// request below is still held by its upstream.
	shuttingDown := make(chan struct{})
	var once sync.Once
	p := startServer(t, bin, filepath.Join(dir, "data"), nil, func(line string) {
		if strings.Contains(line, "shutting down") {
			once.Do(func() { close(shuttingDown) })
		}
	})
	cmd, api, gw, exited := p.cmd, p.api, p.gw, p.exited

	resp, err := http.Get(api + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	resp.Body.Close()

	// A public function whose upstream holds the request until released.
	entered, release := make(chan struct{}), make(chan struct{})
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = w.Write([]byte("done"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = up.Serve(ln) }()
	defer up.Close()
	ctx := context.Background()
	cf, err := cloudfunctions.NewService(ctx, option.WithEndpoint(api+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.Projects.Locations.Functions.Create("projects/demo-project/locations/us-central1", &cloudfunctions.Function{
		ServiceConfig: &cloudfunctions.ServiceConfig{EnvironmentVariables: map[string]string{"OIDCRON_UPSTREAM": "http://" + ln.Addr().String()}},
	}).FunctionId("slow").Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.Projects.Locations.Functions.SetIamPolicy("projects/demo-project/locations/us-central1/functions/slow", &cloudfunctions.SetIamPolicyRequest{
		Policy: &cloudfunctions.Policy{Bindings: []*cloudfunctions.Binding{{Role: "roles/cloudfunctions.invoker", Members: []string{"allUsers"}}}},
	}).Do(); err != nil {
		t.Fatal(err)
	}

	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(gw + "/demo-project/us-central1/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode, body: string(b)}
	}()
	<-entered
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-shuttingDown // the server is shutting down with the request in flight
	close(release)
	r := <-inflight
	if r.err != nil || r.code != 200 || r.body != "done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(30 * time.Second): // a bound on a hang, not a wait for an event
		t.Fatal("server did not exit after SIGTERM")
	}
}
