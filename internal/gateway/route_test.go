package gateway

import (
	"context"
	"path/filepath"
	"testing"

	"cloud.google.com/go/functions/apiv2/functionspb"

	"github.com/oidcron/oidcron/internal/clock"
	"github.com/oidcron/oidcron/internal/directory"
	"github.com/oidcron/oidcron/internal/functions"
	"github.com/oidcron/oidcron/internal/store/sqlite"
)

func TestResolve(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, name := range []string{
		"projects/my-proj/locations/europe-west1/functions/fn",
		"projects/p1/locations/us-central1/functions/hello",
	} {
		if err := st.CreateFunction(ctx, &functionspb.Function{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	g := New(Config{Dir: directory.New(st, clock.Real{}, 0), BaseURL: "http://127.0.0.1:8931"})
	cases := []struct {
		host, path, want, rest string
	}{
		{"europe-west1-my-proj.cloudfunctions.net", "/fn", "projects/my-proj/locations/europe-west1/functions/fn", "/"},
		{"EUROPE-WEST1-MY-PROJ.cloudfunctions.net:443", "/fn/a/b", "projects/my-proj/locations/europe-west1/functions/fn", "/a/b"},
		{"europe-west1-x1-y.cloudfunctions.net", "/fn", "", ""},
		{"europe-my-proj.cloudfunctions.net", "/fn", "", ""},
		{"127.0.0.1:8931", "/p1/us-central1/hello/x/", "projects/p1/locations/us-central1/functions/hello", "/x/"},
		{"127.0.0.1:8931", "/p1/us-central1/hello", "projects/p1/locations/us-central1/functions/hello", "/"},
		{"europe-west1-my-proj.cloudfunctions.net", "/missing", "", ""},
		{"europe-west1-my-proj.cloudfunctions.net", "/", "", ""},
		{"127.0.0.1:8931", "/p1/us-central1", "", ""},
		{"localhost", "/p1/us-central1/nope", "", ""},
		// Dot segments resolve first, as a browser would: the function is
		// the clean path's, and the rest stays below it.
		{"europe-west1-my-proj.cloudfunctions.net", "/fn/a/../b/", "projects/my-proj/locations/europe-west1/functions/fn", "/b/"},
		{"europe-west1-my-proj.cloudfunctions.net", "/fn/../../fn/x", "projects/my-proj/locations/europe-west1/functions/fn", "/x"},
		{"europe-west1-my-proj.cloudfunctions.net", "/fn/../missing", "", ""},
		{"127.0.0.1:8931", "/p1/us-central1/hello/./a//b", "projects/p1/locations/us-central1/functions/hello", "/a/b"},
	}
	for _, c := range cases {
		r, ok := g.Resolve(ctx, c.host, c.path)
		if got := r.Function.GetName(); got != c.want || ok != (c.want != "") || (ok && r.Rest != c.rest) {
			t.Errorf("Resolve(%q, %q) = %q %q %v, want %q %q", c.host, c.path, got, r.Rest, ok, c.want, c.rest)
		}
	}
}

// A host splits one way: no other project can claim another's URL.
func TestSplitHost(t *testing.T) {
	for _, c := range [][4]string{
		{"us-central1-acme", "us-central1", "acme", "ok"},
		{"northamerica-northeast1-my-proj-2", "northamerica-northeast1", "my-proj-2", "ok"},
		{"europe-west1-x1-y", "europe-west1", "x1-y", "ok"},
		{"west1-my-proj", "", "", ""},
		{"europe-west-1", "", "", ""},
		{"us-central1", "", "", ""},
	} {
		r, p, ok := functions.SplitHost(c[0])
		if r != c[1] || p != c[2] || ok != (c[3] == "ok") {
			t.Errorf("SplitHost(%q) = %q %q %v", c[0], r, p, ok)
		}
	}
}

func TestAudiencesAndJoin(t *testing.T) {
	g := New(Config{BaseURL: "http://gw.example:8931/"})
	f := &functionspb.Function{Name: "projects/p/locations/r/functions/f", Url: "https://r-p.cloudfunctions.net/f"}
	a := g.Audiences(f)
	if len(a) != 2 || a[0] != "https://r-p.cloudfunctions.net/f" || a[1] != "http://gw.example:8931/p/r/f" {
		t.Fatalf("audiences %q", a)
	}
	for _, c := range [][3]string{{"", "/", "/"}, {"/", "/x", "/x"}, {"/base", "/", "/base"}, {"/base/", "/x/y", "/base/x/y"}} {
		if got := joinPath(c[0], c[1]); got != c[2] {
			t.Errorf("joinPath(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
