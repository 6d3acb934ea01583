package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	bin := filepath.Join(dir, "oidcron")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "OIDCRON_LISTEN=127.0.0.1:0", "OIDCRON_GATEWAY_LISTEN=127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// The banner names the addresses actually bound; read it as the ready event.
	var api, gw string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && (api == "" || gw == "") {
		line := sc.Text()
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "API (gRPC+REST): "); ok {
			api = v
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "gateway:"); ok {
			gw = strings.TrimSpace(v)
		}
	}
	if api == "" || gw == "" {
		t.Fatalf("no banner (api %q gateway %q)", api, gw)
	}
	// The rest of stderr: the shutdown line is the event that SIGTERM was
	// taken in, while the request below is still held by its upstream.
	shuttingDown := make(chan struct{})
	go func() {
		seen := false
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), "shutting down") {
				seen = true
				close(shuttingDown)
			}
		}
		exited <- cmd.Wait()
	}()

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
