package cli_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/oidcron/oidcron/internal/cli"
	"github.com/oidcron/oidcron/internal/server"
)

// env is a real oidcron server on loopback and a way to run client
// commands against it in process, as a user would from a shell.
type env struct {
	t   *testing.T
	s   *server.Server
	api string
}

func start(t *testing.T, opts ...func(*server.Config)) *env {
	t.Helper()
	cfg := server.Config{
		Listen: "127.0.0.1:0", GatewayListen: "127.0.0.1:0", DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return &env{t: t, s: s, api: "http://" + s.Addrs.API}
}

// result is what one command printed.
type result struct {
	out, err string
	code     error
}

// run runs `oidcron ARGS...` against the server, with stdin as given
// (non-interactive, like a script).
func (e *env) run(stdin string, args ...string) result {
	e.t.Helper()
	g := cli.NewGlobals()
	g.Endpoint = e.api
	g.Project = ""
	g.AccessToken = ""
	g.Interactive = false
	var out, errb bytes.Buffer
	g.In, g.Out, g.Err = strings.NewReader(stdin), &out, &errb
	root := &cobra.Command{Use: "oidcron", SilenceUsage: true, SilenceErrors: true}
	g.AddFlags(root)
	root.AddCommand(cli.Commands(g)...)
	root.SetOut(&out)
	root.SetErr(&errb)
	_, err := cli.Execute(context.Background(), root, args)
	return result{out: out.String(), err: errb.String(), code: err}
}

// ok runs a command that must succeed and returns its stdout.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != nil {
		e.t.Fatalf("oidcron %s: %v\nstderr: %s", strings.Join(args, " "), r.code, r.err)
	}
	return r.out
}
