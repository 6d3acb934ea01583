package gcloudfmt

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzResources = []string{policyJSON, jobsJSON, accountsJSON, reportJob, `[]`, `{}`, `["a", 1, null, [], {}]`}

var formatSeeds = []string{
	"", "yaml", "json", "none", "value(name)", "table(email, disabled)", "csv[no-heading](a.b[0].c, d[])",
	jobsListFormat, "table(bindings.role, bindings.members)", "value(bindings[].members.flatten())",
	`table[box,title="T"](name.basename():label=ID:sort=1:reverse, state:align=right:width=10:optional)`,
	`value(format("{0}:{1!r:>5}", a, b), c.date("%Y-%m-%d %3f %Ez"), d.map().segment(-1), e.*basename())`,
	"yaml(a, b.c[], d[-1]) :(a:sort=1)", "flattened[no-pad,separator=' = ']", "table(a:wrap=20, b:wrap)",
	"table(", "value(a.", "csv[", "table(a:label=)", "(a)", "[box]", ":(x:sort=2)", "get(name)", `table("a.b".c)`,
	"value(a.sort(b).slice(1:).join(x))", "json(a.b.c[3][].d)", "value(x.split('/').slice(-2:).list(separator=+))",
	"table[all-box,title=T](displayName:wrap=5, keys[].keyType.*lower())", "value(firstof(a, b), c.float(2, spec=e))",
}

var filterSeeds = []string{
	"", "a:b", "a=b", "a!=b", "NOT a:b", "-a:b", "a:b AND c:d", "(a:b OR c:d) e:f", "a~^x.*$", "a!~y",
	"bindings.members:serviceAccount:x@y", "a:(x y z)", "a=(x,y)", "a.len()>2", "len(x)", "abc", "a<2016-01-01",
	"a:*", "a:x*", "a:*x", "a:x*y", `a:"x y"`, "a:b OR", "((a:b)", "a:b)", "a>>b", "name.basename()=x", "t<=1.5e3",
	"(NOT )", "a:1 (NOT )", "attempts>3 AND (state:enabled OR paused=false)",
}

// FuzzProjection: any format string either fails with an error or prints
// without panicking.
func FuzzProjection(f *testing.F) {
	for i, s := range formatSeeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, format string, pick uint8) {
		in := fuzzResources[int(pick)%len(fuzzResources)]
		v := decodeJSON(t, in)
		_, isList := v.([]any)
		var out bytes.Buffer
		err := Print(&out, v, isList, "", Options{Format: format})
		if err == nil && !utf8.Valid(out.Bytes()) && utf8.ValidString(format) {
			t.Errorf("invalid UTF-8 output for %q", format)
		}
		// The parser alone, with and without a default to compose with.
		_, _ = parseProjection(format, nil)
		_, _ = parseProjection(jobsListFormat+" "+format, nil)
	})
}

var simpleTermRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*(:|=|!=|<|>|<=|>=)[A-Za-z0-9_.*@-]+$`)

// FuzzFilter: any filter expression either fails to compile or evaluates
// on every resource without panicking, and negation inverts simple terms.
func FuzzFilter(f *testing.F) {
	for i, s := range filterSeeds {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, expr string, pick uint8) {
		in := fuzzResources[int(pick)%len(fuzzResources)]
		v, err := normalize(decodeJSON(t, in))
		if err != nil {
			t.Fatal(err)
		}
		recs, ok := v.([]any)
		if !ok {
			recs = []any{v}
		}
		flt, err := compileFilter(expr, nil)
		if err != nil {
			return
		}
		neg, negErr := compileFilter("NOT ("+expr+")", nil)
		for _, r := range recs {
			got, err := flt.match(r)
			if err != nil {
				continue
			}
			if negErr == nil && simpleTermRE.MatchString(expr) {
				n, err := neg.match(r)
				if err == nil && n == got {
					t.Errorf("%q and its negation agree (%v)", expr, got)
				}
			}
		}
		var out bytes.Buffer
		_ = Print(&out, v, ok, "", Options{Format: "value(.)", Filter: expr, Flatten: []string{"bindings[].members"}})
	})
}

// FuzzYAMLString: any string value dumps without panicking to text that
// ends in a newline, and plain output never starts with an indicator.
func FuzzYAMLString(f *testing.F) {
	for _, s := range []string{"", "a", "*/5 * * * *", "it's", "a\nb", " x", "x ", "- x", "true", "1e3", "#", "é", "\t",
		strings.Repeat("word ", 30), "\u2028", "\ufeff", "a\n\n", "---", "key: value"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		out := yamlDump(map[string]any{"k": s, s: []any{s}}, false, "")
		if !strings.HasSuffix(out, "\n") {
			t.Errorf("no final newline: %q", out)
		}
		root := yamlDump(s, true, "")
		if !strings.HasPrefix(root, "---") {
			t.Errorf("no document start: %q", root)
		}
	})
}
