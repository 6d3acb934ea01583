package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoBinary runs `oidcron demo` from the built binary: it exits 0,
// prints the recorded 403, the doctor's FAIL line, the recorded 200 and the
// claims the function verified, and leaves no data folder behind.
func TestDemoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second) // a bound on a hang
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo")
	// No OIDCRON_ setting of the caller's may leak into the demo.
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "OIDCRON_ENDPOINT=http://127.0.0.1:1", "OIDCRON_PROJECT=elsewhere", "OIDCRON_ACCESS_TOKEN=bogus")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("oidcron demo: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr:\n%s", errOut.String())
	}
	for _, p := range []string{
		`^\$ oidcron scheduler jobs run hello-job --location=us-central1$`,
		`^\S+Z\s+1\s+\S+\s+\S+\s+403\s+PERMISSION_DENIED\s`,
		`^FAIL  token\s`,
		`^Predicted: 403 PERMISSION_DENIED`,
		`^\S+Z\s+1\s+\S+\s+\S+\s+200\s+OK\s`,
		`^  iss\s+http://127\.0\.0\.1:[0-9]+$`,
		`^  aud\s+https://us-central1-demo-project\.cloudfunctions\.net/hello$`,
		`^  sub\s+[0-9]+$`,
		`^  email\s+scheduler-invoker@demo-project\.iam\.gserviceaccount\.com$`,
		`^  email_verified\s+true$`,
		`^  iat\s+[0-9]+ \(`,
		`^  exp\s+[0-9]+ \(`,
		`^# Done:`,
	} {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out.String()) {
			t.Errorf("no line matches %s", p)
		}
	}
	if i, j := strings.Index(out.String(), "403          PERMISSION_DENIED"), strings.Index(out.String(), "200          OK"); i < 0 || j < i {
		t.Errorf("the 403 does not come before the 200")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", out.String())
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
}
