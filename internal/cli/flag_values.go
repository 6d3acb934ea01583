package cli

import (
	"slices"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A command line as argparse reads it: each parser, the root's first, reads
// the arguments up to its command name (flags it does not know are left
// over and take no value), and the command's parser reads the rest.

// part is the arguments args[from:to] one parser reads: cmd's, the command
// names excluded.
type part struct {
	cmd      *cobra.Command
	from, to int
}

// lineParts splits args among the parsers that read them. It stops early
// where the line becomes another parser's business, and then reports
// where: at a "--" in a group's part, or at a name a group does not know
// (stop is its index, and the last part is that group's); stop is -1 when
// the line reaches a command, whose part runs to the end.
func lineParts(root *cobra.Command, args []string) (parts []part, stop int) {
	cur := part{cmd: root}
	for i := 0; i < len(args); i++ {
		if !cur.cmd.HasSubCommands() {
			break
		}
		a := args[i]
		if a == "--" {
			cur.to = i
			return append(parts, cur), i
		}
		if looksLikeFlag(a, knownTo(cur.cmd)) {
			if f := flagOf(cur.cmd, a); f != nil && f.NoOptDefVal == "" && !strings.Contains(a, "=") && strings.HasPrefix(a, "--") {
				i++ // its value
			}
			continue
		}
		next := subcommand(cur.cmd, a)
		if next == nil || next.DisableFlagParsing {
			cur.to = i
			return append(parts, cur), i
		}
		cur.to = i
		parts = append(parts, cur)
		cur = part{cmd: next, from: i + 1}
	}
	cur.to = len(args)
	if cur.cmd.HasSubCommands() {
		return append(parts, cur), len(args)
	}
	return append(parts, cur), -1
}

// flagOf is the flag of cmd's parser that a (a flag: "--name[=v]",
// "-x[=v]") names, or nil.
func flagOf(cmd *cobra.Command, a string) *pflag.Flag {
	if name, ok := strings.CutPrefix(a, "--"); ok {
		name, _, _ = strings.Cut(name, "=")
		return cmd.Flag(name)
	}
	if len(a) >= 2 && (len(a) == 2 || a[2] == '=') {
		short := a[1:2]
		if f := cmd.Flags().ShorthandLookup(short); f != nil {
			return f
		}
		return cmd.InheritedFlags().ShorthandLookup(short)
	}
	return nil
}

// flagValueError finds the first flag on args whose value argparse
// refuses where pflag would not: one left without its value because the
// argument after it looks like a flag or there is none (`--location -us`
// and `--location --limit 3` are "argument --location: expected one
// argument" in gcloud, where pflag would take "-us" and "--limit" as the
// location), and one that takes no value given one, "true" included
// ("--quiet=true", "-q=true" are "ignored explicit argument 'true'"). It
// returns the command whose parser reads the flag (the group the flag is
// typed under, as gcloud's error names it), the flag's index in args and
// the error, or a nil error.
//
// argparse raises these errors as it reads the line, so they come before
// anything reported at the end (arguments left over, a missing argument),
// though not before --help or an error of a flag typed earlier (see
// firstError). A value given to a flag that takes none and is not gcloud's
// ends the scan: cobra reports it in its place.
func flagValueError(root *cobra.Command, args []string) (*cobra.Command, int, error) {
	parts, _ := lineParts(root, args)
	for _, p := range parts {
		for i := p.from; i < p.to; i++ {
			a := args[i]
			if !looksLikeFlag(a, knownTo(p.cmd)) {
				continue // a positional argument of the command
			}
			f := flagOf(p.cmd, a)
			if f == nil {
				continue // unknown: argparse gives it no value, and reports it at the end
			}
			_, v, inline := strings.Cut(a, "=")
			switch {
			case f.NoOptDefVal != "":
				if !inline {
					break
				}
				if n, ok := f.Value.(takesNoValue); ok {
					return p.cmd, i, n.explicit(v)
				}
				return nil, 0, nil
			case inline || !strings.HasPrefix(a, "--"):
				// (No short flag of oidcron's takes a value.)
			case i+1 >= p.to || args[i+1] == "--" || looksLikeFlag(args[i+1], knownTo(p.cmd)):
				return p.cmd, i, usagef("argument --%s: expected one argument", f.Name)
			default:
				i++ // the flag's value
			}
		}
	}
	return nil, 0, nil
}

// firstError is what argparse meets first on a line whose flag at index
// at has a value error (flagValueError): --help typed before it (ok is
// false: the help of cmd, the command reading it, is to be shown, and no
// error), or a value refused earlier on the line, which the parser reading
// it reports (flags a parser does not know are passed over: argparse
// reports them at the end). Else ok is true and err nil: the flag's is the
// line's first error.
func firstError(root *cobra.Command, args []string, at int) (cmd *cobra.Command, err error, ok bool) {
	parts, _ := lineParts(root, args)
	if h := slices.IndexFunc(args[:at], func(a string) bool { return a == "--help" || a == "-h" }); h >= 0 {
		for _, p := range parts {
			if p.from <= h && h < p.to {
				return p.cmd, nil, false
			}
		}
	}
	for _, p := range parts {
		if p.from >= at {
			break
		}
		// The line fails either way, so the values this sets are never used.
		if err := parseKnown(p.cmd, args[p.from:min(p.to, at)]); err != nil {
			return p.cmd, err, true
		}
	}
	return nil, nil, true
}

// parseKnown parses args with cmd's flags, its parents' included, as
// argparse's parser of cmd reads them, passing over flags it does not
// know; a refused value is the error cobra would report for it.
func parseKnown(cmd *cobra.Command, args []string) error {
	cmd.InheritedFlags() // merges the parents' flags into cmd.Flags()
	fs := cmd.Flags()
	keep := fs.ParseErrorsAllowlist
	fs.ParseErrorsAllowlist.UnknownFlags = true
	defer func() { fs.ParseErrorsAllowlist = keep }()
	if err := fs.Parse(args); err != nil {
		return cmd.FlagErrorFunc()(cmd, err)
	}
	return nil
}

// knownTo is whether cmd's parser has a flag spelt opt ("--name" or "-x").
func knownTo(cmd *cobra.Command) func(opt string) bool {
	return func(opt string) bool { return flagOf(cmd, opt) != nil }
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
// leftovers, come before a group's. A name a group does not know is Invalid
// choice, unless one of the flags leading the group's part fails alone: an
// unknown one is then the error (calliope's _DeduceBetterError). It returns
// nil when no group has leftovers, or at a "--" in a group's part.
func groupLeftovers(root *cobra.Command, args []string) (*cobra.Command, error) {
	parts, stop := lineParts(root, args)
	if stop >= 0 && stop < len(args) && args[stop] == "--" {
		return nil, nil
	}
	groups := parts
	if stop < 0 {
		groups = parts[:len(parts)-1] // the last part is the command's
	}
	found := make([][]string, len(groups))
	left := false
	for k, p := range groups {
		for _, a := range args[p.from:p.to] {
			if looksLikeFlag(a, knownTo(p.cmd)) && flagOf(p.cmd, a) == nil {
				found[k] = append(found[k], a)
				left = true
			}
		}
	}
	if !left {
		return nil, nil // refuseUnknownSubcommands says Invalid choice
	}
	last := parts[len(parts)-1]
	switch {
	case stop >= 0 && stop < len(args):
		// A name the group does not know.
		for _, a := range args[last.from:stop] {
			if !strings.HasPrefix(a, "-") {
				break
			}
			if looksLikeFlag(a, knownTo(last.cmd)) && flagOf(last.cmd, a) == nil {
				return last.cmd, unrecognized(root, last.cmd, []string{a})
			}
		}
		return last.cmd, usagef("Invalid choice: '%s'.", args[stop])
	case stop < 0:
		// The command's own part: a refused value, then its leftovers.
		rest := args[last.from:]
		if err := parseKnown(last.cmd, rest); err != nil {
			return last.cmd, err
		}
		if f := leftovers(last.cmd, rest); len(f) > 0 {
			return last.cmd, unrecognized(root, last.cmd, f)
		}
	}
	// The line ends at a group (Command name argument expected, which
	// argparse says after the leftovers), or the command has none.
	for k := len(groups) - 1; k >= 0; k-- {
		if len(found[k]) > 0 {
			return groups[k].cmd, unrecognized(root, groups[k].cmd, found[k])
		}
	}
	return nil, nil
}

// unrecognized is the leftovers error of cmd's parser.
func unrecognized(root, cmd *cobra.Command, found []string) error {
	cmd.InheritedFlags() // merges the parents' flags, which it suggests too
	return &UsageError{Msg: unrecognizedMessage(root.Name(), found, flagNames(cmd))}
}

// gcloudHelpFlags gives every command of root's tree gcloud's --help/-h, a
// store_true flag known to every parser (a group's too, before cobra adds
// its own to the command it runs): "--help=x" is "argument --help: ignored
// explicit argument 'x'". cobra reads it as its own help flag.
func gcloudHelpFlags(cmd *cobra.Command) {
	if cmd.Flags().Lookup("help") == nil {
		cmd.Flags().VarPF(storeTrue{new(bool), "--help"}, "help", "h", "help for "+cmd.Name()).NoOptDefVal = "true"
	}
	for _, c := range cmd.Commands() {
		gcloudHelpFlags(c)
	}
}
