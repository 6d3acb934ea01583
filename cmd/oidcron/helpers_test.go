package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// buildBinary builds the oidcron binary into a temporary folder of t.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "oidcron")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running `oidcron serve`.
type proc struct {
	cmd    *exec.Cmd
	api    string // http://host:port of the API listener
	gw     string // the gateway's URL
	exited chan error

	mu  sync.Mutex
	log []string // stderr, every line
}

// startServer runs `bin serve --data data` on ports chosen by the kernel
// (plus the extra environment env), reads its banner for the bound addresses
// (the ready event), and hands every later line of stderr to onLine (when
// not nil) from the reading goroutine. The process is killed when t ends;
// exited receives cmd.Wait's result once stderr is closed.
func startServer(t *testing.T, bin, data string, env []string, onLine func(string)) *proc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data", data)
	cmd.Env = append(append(os.Environ(), "OIDCRON_LISTEN=127.0.0.1:0", "OIDCRON_GATEWAY_LISTEN=127.0.0.1:0"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for (p.api == "" || p.gw == "") && sc.Scan() {
		line := sc.Text()
		p.addLog(line)
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "API (gRPC+REST): "); ok {
			p.api = v
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "gateway:"); ok {
			p.gw = strings.TrimSpace(v)
		}
	}
	if p.api == "" || p.gw == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("no banner (api %q gateway %q); stderr:\n%s", p.api, p.gw, p.logText(0))
	}
	// Drain stderr for as long as the process lives: a full pipe would
	// block its writes.
	go func() {
		for sc.Scan() {
			line := sc.Text()
			p.addLog(line)
			if onLine != nil {
				onLine(line)
			}
		}
		p.exited <- cmd.Wait()
	}()
	return p
}

func (p *proc) addLog(line string) {
	p.mu.Lock()
	p.log = append(p.log, line)
	p.mu.Unlock()
}

// logText is the last n lines of stderr (all when n <= 0).
func (p *proc) logText(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.log
	if n > 0 && len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
