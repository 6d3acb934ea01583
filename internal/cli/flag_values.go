package cli

import (
	"strings"
	"unicode"

	"github.com/spf13/cobra"
)

// missingValue finds the first flag on args that argparse would leave
// without its value because the argument after it looks like a flag:
// `--location -us` and `--location --limit 3` are "argument --location:
// expected one argument" in gcloud, where pflag would take "-us" and
// "--limit" as the location. It returns the command whose parser reads the
// flag (the group the flag is typed under, as gcloud's error names it) and
// the error, or a nil error.
//
// argparse raises this error as it reads the line, so it comes before
// anything reported at the end (arguments left over, a missing argument).
// The scan follows the command names down the tree and stops where the line
// becomes another parser's business: at a name the group does not know
// (Invalid choice), at "--", and at a value given to a flag that takes
// none, whose error is cobra's to report in its place.
func missingValue(root *cobra.Command, args []string) (*cobra.Command, error) {
	cmd := root
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return nil, nil
		case !looksLikeFlag(a):
			if !cmd.HasSubCommands() {
				continue // a positional argument of the command
			}
			next := subcommand(cmd, a)
			if next == nil || next.DisableFlagParsing {
				return nil, nil
			}
			cmd = next
		case strings.HasPrefix(a, "--"):
			name, _, inline := strings.Cut(a[2:], "=")
			f := cmd.Flag(name)
			switch {
			case f == nil:
				// Unknown: argparse gives it no value, and reports it
				// at the end.
			case f.NoOptDefVal != "":
				if inline {
					return nil, nil
				}
			case inline:
			case i+1 < len(args) && (args[i+1] == "--" || looksLikeFlag(args[i+1])):
				return cmd, usagef("argument --%s: expected one argument", name)
			default:
				i++ // the flag's value
			}
		}
		// A short flag: oidcron's (-q, -h) take no value.
	}
	return nil, nil
}

// subcommand is cmd's subcommand called name (or by one of its aliases).
func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// looksLikeFlag is argparse's test (_parse_optional, Python 3.12, as gcloud
// 528 runs it, with abbreviations off) of whether an argument is a flag
// rather than a value: it starts with "-", is more than "-", and is
// neither a negative number nor text with a space in it. "-1", "-.5" and
// "-a b" are values; "-us", "-1e3" and "--limit" are flags.
func looksLikeFlag(a string) bool {
	return len(a) > 1 && a[0] == '-' && !negativeNumber(a) && !strings.Contains(a, " ")
}

// negativeNumber is argparse's _negative_number_matcher,
// ^-\d+$|^-\d*\.\d+$, where \d is any Unicode decimal digit and $ also
// matches before a newline that ends the text.
func negativeNumber(a string) bool {
	digits := func(s string) int {
		n := 0
		for _, r := range s {
			if !unicode.IsDigit(r) {
				return -1
			}
			n++
		}
		return n
	}
	s := strings.TrimSuffix(a[1:], "\n")
	whole, frac, dot := strings.Cut(s, ".")
	if !dot {
		return digits(s) > 0
	}
	return digits(whole) >= 0 && digits(frac) > 0
}
