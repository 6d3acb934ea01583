package migrations

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadRefusesBadSets(t *testing.T) {
	for name, tc := range map[string]struct {
		fsys fstest.MapFS
		want string // in the error
	}{
		"no number":  {fstest.MapFS{"init.sql": {}}, `"init.sql" is not named NNNN_name.sql`},
		"zero":       {fstest.MapFS{"0000_init.sql": {}}, `"0000_init.sql": the version must be a positive number`},
		"too large":  {fstest.MapFS{"99999999999999999999_a.sql": {}}, "the version must be a positive number"},
		"same":       {fstest.MapFS{"0001_a.sql": {}, "1_b.sql": {}}, "have the same version 1"},
		"capitals":   {fstest.MapFS{"0001_Init.sql": {}}, "is not named"},
		"other file": {fstest.MapFS{"0001_init.sql": {}, "README": {}}, `"README" is not named`},
	} {
		if ms, err := Load(tc.fsys); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, %v; want an error with %q", name, ms, err, tc.want)
		}
	}
}

func TestLoadOrdersByVersion(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"0010_c.sql":     {Data: []byte("C")},
		"0002_b.sql":     {Data: []byte("B")},
		"0001_a.sql":     {Data: []byte("A")},
		"sub/0003_d.sql": {Data: []byte("not read")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{1, "0001_a.sql", "A"}, {2, "0002_b.sql", "B"}, {10, "0010_c.sql", "C"}}
	if !slices.Equal(ms, want) {
		t.Fatalf("Load = %+v, want %+v", ms, want)
	}
}

func TestLoadEmpty(t *testing.T) {
	ms, err := Load(fstest.MapFS{})
	if err != nil || len(ms) != 0 {
		t.Fatalf("Load of an empty directory = %v, %v; want nothing", ms, err)
	}
}
