package cli

import (
	"slices"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagValueError finds the first flag on args whose value argparse
// refuses where pflag would not: one left without its value because the
// argument after it looks like a flag (`--location -us` and `--location
// --limit 3` are "argument --location: expected one argument" in gcloud,
// where pflag would take "-us" and "--limit" as the location), and one
// that takes no value given one, "true" included ("--quiet=true" is
// "ignored explicit argument 'true'"). It returns the command whose parser
// reads the flag (the group the flag is typed under, as gcloud's error
// names it), the flag's index in args and the error, or a nil error.
//
// argparse raises these errors as it reads the line, so they come before
// anything reported at the end (arguments left over, a missing argument),
// though not before an error of a flag typed earlier (see firstError).
// The scan follows the command names down the tree and stops where the line
// becomes another parser's business: at a name the group does not know
// (Invalid choice), at "--", and at a value given to a flag that takes
// none and is not gcloud's (cobra's --help), which cobra reports in place.
func flagValueError(root *cobra.Command, args []string) (*cobra.Command, int, error) {
	cmd := root
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return nil, 0, nil
		case !looksLikeFlag(a, knownTo(cmd)):
			if !cmd.HasSubCommands() {
				continue // a positional argument of the command
			}
			next := subcommand(cmd, a)
			if next == nil || next.DisableFlagParsing {
				return nil, 0, nil
			}
			cmd = next
		case strings.HasPrefix(a, "--"):
			name, v, inline := strings.Cut(a[2:], "=")
			f := cmd.Flag(name)
			switch {
			case f == nil:
				// Unknown: argparse gives it no value, and reports it
				// at the end.
			case f.NoOptDefVal != "":
				if !inline {
					break
				}
				if n, ok := f.Value.(takesNoValue); ok {
					return cmd, i, n.explicit(v)
				}
				return nil, 0, nil
			case inline:
			case i+1 < len(args) && (args[i+1] == "--" || looksLikeFlag(args[i+1], knownTo(cmd))):
				return cmd, i, usagef("argument --%s: expected one argument", name)
			default:
				i++ // the flag's value
			}
		}
		// A short flag: oidcron's (-q, -h) take no value.
	}
	return nil, 0, nil
}

// firstError is what argparse meets first on a line whose flag at index
// at has a value error (flagValueError): --help typed before it (the help is shown, no error:
// ok is false), or a value refused earlier on the line, which the flag
// parser of the line's command reports as it would (flags it does not
// know are passed over: argparse reports them at the end). Else ok is
// true and err nil: the flag's is the line's first error.
func firstError(root *cobra.Command, args []string, at int) (cmd *cobra.Command, err error, ok bool) {
	if slices.ContainsFunc(args[:at], func(a string) bool { return a == "--help" || a == "-h" }) {
		return nil, nil, false
	}
	cmd, _, ferr := root.Find(args)
	if ferr != nil {
		return nil, nil, true
	}
	cmd.InheritedFlags() // merges the parents' flags into cmd.Flags()
	fs := cmd.Flags()
	keep := fs.ParseErrorsAllowlist
	fs.ParseErrorsAllowlist.UnknownFlags = true
	defer func() { fs.ParseErrorsAllowlist = keep }()
	// The line fails either way, so the values this sets are never used.
	if err := fs.Parse(args[:at]); err != nil {
		return cmd, cmd.FlagErrorFunc()(cmd, err), true
	}
	return nil, nil, true
}

// knownTo is whether cmd's parser has a flag spelt opt ("--name" or "-x").
func knownTo(cmd *cobra.Command) func(opt string) bool {
	return func(opt string) bool {
		if name, ok := strings.CutPrefix(opt, "--"); ok {
			return cmd.Flag(name) != nil
		}
		if len(opt) == 2 && opt[0] == '-' {
			short := opt[1:]
			return cmd.Flags().ShorthandLookup(short) != nil || cmd.InheritedFlags().ShorthandLookup(short) != nil
		}
		return false
	}
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
// rather than a value, known telling the parser's own flags: it starts
// with "-" and is more than "-", and it is one of the parser's flags, or
// one of them followed by "=", or else neither a negative number nor text
// with a space in it. "-1", "-.5" and "-a b" are values; "-us", "-1e3",
// "--limit" and "--format=a b" (when --format is known) are flags.
func looksLikeFlag(a string, known func(opt string) bool) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	if opt, _, _ := strings.Cut(a, "="); known(opt) {
		return true
	}
	return !negativeNumber(a) && !strings.Contains(a, " ")
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

// groupLeftovers reports the flags typed before a command name that the
// group there does not know, in gcloud's order. Each group's parser reads
// the line up to its command name, and a flag it does not know (a list
// command's --limit before "jobs", say) is left over even when the command
// knows it, which cobra, parsing every flag with the command's, would take.
// argparse reports the leftovers of the deepest parser first, after the
// command's own parse: so a bad value in the command's part, then its own
// leftovers, come before a group's. A name the group does not know is
// Invalid choice there, at once. It returns nil when no group has
// leftovers, or the line leaves the groups' business (a "--").
func groupLeftovers(root *cobra.Command, args []string) (*cobra.Command, error) {
	type level struct {
		cmd   *cobra.Command
		found []string
	}
	var (
		levels []level
		cmd    = root
		left   bool // a group has leftovers
		i      int
	)
	cur := level{cmd: root}
	for ; i < len(args) && cmd.HasSubCommands(); i++ {
		a := args[i]
		if a == "--" {
			return nil, nil
		}
		if !looksLikeFlag(a, knownTo(cmd)) {
			next := subcommand(cmd, a)
			if next == nil {
				if !left {
					return nil, nil // refuseUnknownSubcommands says it
				}
				return cmd, usagef("Invalid choice: '%s'.", a)
			}
			if next.DisableFlagParsing {
				return nil, nil
			}
			levels = append(levels, cur)
			cmd, cur = next, level{cmd: next}
			continue
		}
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f *pflag.Flag
		if strings.HasPrefix(a, "--") {
			f = cmd.Flag(name)
		} else if len(a) == 2 {
			f = cmd.Flags().ShorthandLookup(name)
			if f == nil {
				f = cmd.InheritedFlags().ShorthandLookup(name)
			}
		}
		switch {
		case f == nil:
			cur.found = append(cur.found, a) // argparse gives it no value
			left = true
		case !inline && f.NoOptDefVal == "":
			i++ // its value (flagValueError has checked that there is one)
		}
	}
	switch {
	case !left:
		return nil, nil
	case cmd.HasSubCommands():
		// The line ends at a group: Command name argument expected, which
		// argparse says after the leftovers.
		levels = append(levels, cur)
	default:
		// The command's own part: a refused value, then its leftovers.
		rest := args[i:]
		cmd.InheritedFlags() // merges the parents' flags into cmd.Flags()
		fs := cmd.Flags()
		keep := fs.ParseErrorsAllowlist
		fs.ParseErrorsAllowlist.UnknownFlags = true
		err := fs.Parse(rest) // the line fails either way: its values are never used
		fs.ParseErrorsAllowlist = keep
		if err != nil {
			return cmd, cmd.FlagErrorFunc()(cmd, err)
		}
		if found := leftovers(cmd, rest); len(found) > 0 {
			return cmd, &UsageError{Msg: unrecognizedMessage(root.Name(), found, flagNames(cmd))}
		}
	}
	for k := len(levels) - 1; k >= 0; k-- {
		if l := levels[k]; len(l.found) > 0 {
			l.cmd.InheritedFlags()
			return l.cmd, &UsageError{Msg: unrecognizedMessage(root.Name(), l.found, flagNames(l.cmd))}
		}
	}
	return nil, nil
}
