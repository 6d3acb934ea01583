package cli

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// closeMatch answers as Python's difflib.get_close_matches(word, flags, 1)
// does; the expected values were printed by Python 3.11's difflib.
func TestCloseMatchIsDifflibs(t *testing.T) {
	flags := []string{"--location", "--limit", "--page-size", "--filter", "--sort-by", "--uri", "--help", "-h",
		"--project", "--format", "--quiet", "-q", "--schedule", "--time-zone", "--max-doublings",
		"--max-retry-attempts", "--min-backoff", "--max-backoff", "--oidc-service-account-email",
		"--oidc-token-audience", "--headers", "--message-body"}
	for word, want := range map[string]string{
		"--locaton": "--location", "--limt": "--limit", "--page-size": "--page-size", "--bogus": "",
		"--schedul": "--schedule", "--timezone": "--time-zone", "--time_zone": "--time-zone",
		"--max-doubling": "--max-doublings", "--min-backoff": "--min-backoff",
		"--oidc-service-account": "--oidc-service-account-email", "-z": "", "--fliter": "--filter",
		"--q": "-q", "--projet": "--project", "--locationlocation": "--location", "x": "",
		"--maxbackoff": "--max-backoff", "--sortby": "--sort-by", "--h": "-h",
	} {
		if got := closeMatch(word, flags); got != want {
			t.Errorf("closeMatch(%q) = %q, difflib: %q", word, got, want)
		}
	}
	// Equal ratios: the greater string, as nlargest over (ratio, choice).
	if got := closeMatch("--ab", []string{"--ac", "--ad"}); got != "--ad" {
		t.Errorf("tie: %q, difflib: --ad", got)
	}
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"abcd", "bcde", 0.75},
		{"--locaton", "--location", 0.9473684210526315},
		// A b of 200 or more loses its popular elements (autojunk): here all.
		{strings.Repeat("ab", 150), strings.Repeat("ba", 120) + strings.Repeat("zz", 20), 0},
	} {
		if got := newSeqMatcher([]rune(c.b)).ratio([]rune(c.a)); got != c.want {
			t.Errorf("ratio(%.10q, %.10q) = %v, difflib: %v", c.a, c.b, got, c.want)
		}
	}
}

// leftovers and the message never fail on any command line, and report
// only arguments that were typed, in the order typed.
func FuzzLeftovers(f *testing.F) {
	for _, s := range []string{"j --locaton us-central1", "a b --bogus", "--limit 3 -- extra --x", "-qz -", "--=x -- --", "- -é"} {
		f.Add(s)
	}
	root := &cobra.Command{Use: "oidcron"}
	g := NewGlobals()
	g.AddFlags(root)
	root.AddCommand(Commands(g)...)
	cmd, _, err := root.Find([]string{"scheduler", "jobs", "describe"})
	if err != nil {
		f.Fatal(err)
	}
	cmd.InitDefaultHelpFlag()
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		found := leftovers(cmd, args)
		rest := args
		for _, a := range found {
			i := slices.Index(rest, a)
			if i < 0 {
				t.Fatalf("leftovers(%q) = %q: not a subsequence of the arguments", args, found)
			}
			rest = rest[i+1:]
		}
		if msg := unrecognizedMessage("oidcron", found, flagNames(cmd)); !strings.HasPrefix(msg, "unrecognized arguments:") {
			t.Fatalf("message %q", msg)
		}
	})
}

// knownFlags stands for a parser with --location, --format, --limit and
// -q, as in the Python that printed the expected values below.
func knownFlags(opt string) bool {
	return slices.Contains([]string{"--location", "--format", "--limit", "-q"}, opt)
}

// looksLikeFlag sorts arguments as argparse's _parse_optional does; the
// expected values were printed by the Python 3.12 gcloud 528 runs, for a
// parser with knownFlags' flags.
func TestLooksLikeFlagIsArgparses(t *testing.T) {
	for a, flag := range map[string]bool{
		"-us": true, "-1": false, "-.5": false, "-1.5": false, "-1e3": true, "-a b": false, "--": true,
		"--limit": true, "-": false, "": false, "-1\n": false, "-1.": true, "-.": true, "-١٢": false,
		"-1\n\n": true, "--x=y": true, "-1.2.3": true, "- 1": false, "-\t": true, "us": false,
		// A known flag with "=" is a flag, spaces or not; an unknown one
		// with a space is a value.
		"--format=a b": true, "--bogus=a b": false, "-q=x y": true, "--limit=3 x": true, "--format a": false,
	} {
		if got := looksLikeFlag(a, knownFlags); got != flag {
			t.Errorf("looksLikeFlag(%q) = %v, argparse says %v", a, got, flag)
		}
	}
}

// argparse's rule written as its regular expression, against the code.
func FuzzLooksLikeFlag(f *testing.F) {
	for _, s := range []string{"-us", "-1", "-.5", "-1.", "-1\n", "-1\n\n", "- 1", "-١٢", "--", "--format=a b", "-q=1"} {
		f.Add(s)
	}
	negative := regexp.MustCompile(`^(-\p{Nd}+|-\p{Nd}*\.\p{Nd}+)\n?$`)
	f.Fuzz(func(t *testing.T, a string) {
		opt, _, _ := strings.Cut(a, "=")
		want := strings.HasPrefix(a, "-") && a != "-" &&
			(knownFlags(opt) || !negative.MatchString(a) && !strings.Contains(a, " "))
		if got := looksLikeFlag(a, knownFlags); got != want {
			t.Errorf("looksLikeFlag(%q) = %v, want %v", a, got, want)
		}
	})
}

// The walks over a whole command line (flagValueError, groupLeftovers) on
// random lines: each error they return is a usage error attributed to a
// command of the tree, and flagValueError's index is that of a flag.
func FuzzCommandLineWalks(f *testing.F) {
	for _, s := range []string{"--bogus scheduler jobs list --bogus2", "scheduler jobs --filter -x list", "--project -x scheduler",
		"scheduler --bogus jobz", "--bogus scheduler jobs describe j1 --location", "-- scheduler", "scheduler jobs list --limit"} {
		f.Add(s)
	}
	root := &cobra.Command{Use: "oidcron"}
	g := NewGlobals()
	g.AddFlags(root)
	root.AddCommand(Commands(g)...)
	root.InitDefaultHelpFlag()
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		check := func(what string, cmd *cobra.Command, err error) {
			if err == nil {
				return
			}
			if _, ok := errors.AsType[*UsageError](err); !ok {
				t.Fatalf("%s(%q): %T %v, not a usage error", what, args, err, err)
			}
			if cmd == nil || cmd.Root() != root {
				t.Fatalf("%s(%q): %v attributed to %v", what, args, err, cmd)
			}
		}
		cmd, at, err := flagValueError(root, args)
		check("flagValueError", cmd, err)
		if err != nil && !strings.HasPrefix(args[at], "--") {
			t.Fatalf("flagValueError(%q) points at %q", args, args[at])
		}
		cmd, err = groupLeftovers(root, args)
		check("groupLeftovers", cmd, err)
	})
}
