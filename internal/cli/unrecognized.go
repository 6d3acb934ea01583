package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Execute runs root on args as gcloud runs a command line. Arguments the
// command has no place for are reported all together, in the order typed,
// each flag with the closest flag name the command has, and with the hint
// gcloud ends that error with; `help -- TERMS` searches every command's
// help text, the search that hint names.
func Execute(ctx context.Context, root *cobra.Command, args []string) (*cobra.Command, error) {
	root.SetHelpCommand(helpCommand(root))
	gcloudHelpFlags(root)
	refuseUnknownSubcommands(root) // bare, or with a name it does not know, as a group
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		// The flag parser takes every "--"; argparse leaves over one that
		// does not stand next to an argument the command takes.
		if !slices.Contains(args, "--") || cmd.DisableFlagParsing || cmd.HasSubCommands() {
			return nil
		}
		if _, rest, err := root.Find(args); err == nil {
			if found := leftovers(cmd, rest); len(found) > 0 {
				return unrecognizedArgs(found...)
			}
		}
		return nil
	}
	if cmd, at, err := flagValueError(root, args); err != nil {
		if first, ferr, ok := firstError(root, args, at); !ok {
			// --help comes first: its help, and no error.
			return first, first.Help()
		} else if ferr != nil {
			return first, ferr
		} else {
			return cmd, err
		}
	}
	if cmd, err := groupLeftovers(root, args); err != nil {
		return cmd, err
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return cmd, withLeftovers(root, cmd, args, err)
}

// withLeftovers gives err gcloud's precedence and wording: arguments left
// over are reported before any other command-line error. An extraArgsError
// becomes the whole message; another usage error on a line holding "--"
// (which cobra checks the positional arguments before) gives way to a "--"
// argparse would leave over. A command that ran has none left over.
func withLeftovers(root, cmd *cobra.Command, args []string, err error) error {
	e, extra := errors.AsType[*extraArgsError](err)
	_, usage := errors.AsType[*UsageError](err)
	if cmd == nil || !(extra || (usage && slices.Contains(args, "--"))) {
		return err
	}
	var found []string
	// What cobra parsed for cmd: the command line less the command's path.
	if _, rest, ferr := root.Find(args); ferr == nil {
		if cmd.HasSubCommands() {
			// A group reads its flags up to the command name and stops
			// there: at a name it does not know, at "--", or at one cobra
			// took for an unknown flag's value.
			unknown, positional, dash := scan(cmd, rest)
			end := len(rest)
			if len(positional) > 0 {
				end = positional[0]
			}
			if dash >= 0 && dash < end {
				end = dash
			}
			for _, i := range unknown {
				if i < end {
					found = append(found, rest[i])
				}
			}
			switch {
			case len(found) > 0 || end == len(rest):
			case rest[end] == "--":
				found = []string{"--"}
			case extra:
				return usagef("Invalid choice: '%s'.", rest[end])
			}
		} else {
			found = leftovers(cmd, rest)
		}
	}
	if len(found) == 0 {
		if !extra {
			return err
		}
		found = e.found
	}
	return unrecognized(root, cmd, found)
}

// extraArgsError is an argument the command has no place for, found by the
// flag parser (an unknown flag) or by a command's positional check (an
// argument too many). It says only what its finder saw; Execute replaces
// it with gcloud's whole message.
type extraArgsError struct{ found []string }

func (e *extraArgsError) Error() string {
	return "unrecognized arguments: " + strings.Join(e.found, " ")
}

func unrecognizedArgs(found ...string) error { return &extraArgsError{found: found} }

// scan sorts rest's arguments as argparse reads them against cmd's flags:
// the unknown flags (a group of short flags with an unknown letter whole,
// an unknown flag taking no value, a "--" after the first), the positional
// arguments, and the first "--" (-1 when there is none), by index.
func scan(cmd *cobra.Command, rest []string) (unknown, positional []int, dash int) {
	fs := cmd.Flags()
	dash = -1
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			if dash >= 0 {
				unknown = append(unknown, i)
			} else {
				dash = i
			}
		case dash >= 0 || a == "-" || !strings.HasPrefix(a, "-"):
			positional = append(positional, i)
		case strings.HasPrefix(a, "--"):
			name, _, inline := strings.Cut(a[2:], "=")
			f := fs.Lookup(name)
			switch {
			case f == nil:
				unknown = append(unknown, i)
			case !inline && f.NoOptDefVal == "":
				i++ // the flag's value
			}
		default:
			// -abc: each letter a flag, until one that takes a value, which
			// takes the rest of the token or else the next argument.
			for k := 1; k < len(a); k++ {
				f := fs.ShorthandLookup(a[k : k+1])
				if f == nil {
					unknown = append(unknown, i)
					break
				}
				if f.NoOptDefVal == "" {
					if k == len(a)-1 {
						i++
					}
					break
				}
			}
		}
	}
	return unknown, positional, dash
}

// leftovers returns the arguments of rest (the command line after cmd's
// path) that cmd has no place for, as typed and in the order typed: what
// argparse leaves over. That is the unknown flags, the positional arguments
// past the last one cmd takes, and a "--" that argparse's positional pattern
// does not swallow: it does when the "--" stands next to an argument cmd
// takes, or when an optional one is left out.
func leftovers(cmd *cobra.Command, rest []string) []string {
	extra, positional, dash := scan(cmd, rest)
	// The command's positional check knows how many it takes: the extras it
	// names are the last ones given.
	args := make([]string, len(positional), len(positional)+1)
	for k, i := range positional {
		args[k] = rest[i]
	}
	taken, room := len(positional), cmd.Args == nil
	if cmd.Args != nil {
		argsErr := cmd.Args(cmd, args)
		if e, ok := errors.AsType[*extraArgsError](argsErr); ok {
			taken = len(positional) - min(len(e.found), len(positional))
			extra = append(extra, positional[taken:]...)
		}
		// An optional one left out: the line is whole, and whole with one more.
		room = argsErr == nil && cmd.Args(cmd, append(args, "-")) == nil
	}
	if dash >= 0 && !room && !slices.ContainsFunc(positional[:taken], func(i int) bool { return i == dash-1 || i == dash+1 }) {
		extra = append(extra, dash)
	}
	slices.Sort(extra)
	found := make([]string, len(extra))
	for k, i := range extra {
		found[k] = rest[i]
	}
	return found
}

// flagNames is every name cmd's flags answer to, which gcloud offers as
// suggestions: long and short, hidden flags left out.
func flagNames(cmd *cobra.Command) []string {
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		names = append(names, "--"+f.Name)
		if f.Shorthand != "" {
			names = append(names, "-"+f.Shorthand)
		}
	})
	return names
}

// unrecognizedMessage is gcloud's error for arguments left over
// (calliope's parser_extensions _Suggest): one argument on the line, several
// one to a line; a flag (or an argument with a value after "=") gets the
// closest flag name; the help-search hint ends it.
func unrecognizedMessage(bin string, found, flags []string) string {
	var msgs []string
	for _, arg := range found {
		parts := strings.Split(arg, "=")
		suggestion := ""
		if strings.HasPrefix(parts[0], "--") || (len(parts) > 1 && parts[1] != "") {
			suggestion = closeMatch(strings.ToLower(parts[0]), flags)
		}
		// gcloud compares the argument with the lines so far, so only an
		// argument with no suggestion is listed once.
		if slices.Contains(msgs, arg) {
			continue
		}
		if suggestion != "" {
			arg += " (did you mean '" + suggestion + "'?)"
		}
		msgs = append(msgs, arg)
	}
	sep, prefix := "\n  ", ""
	if len(msgs) <= 1 {
		sep, prefix = " ", "\n\n"
	}
	msgs = append(msgs, prefix+"To search the help text of "+bin+" commands, run:\n  "+bin+" help -- SEARCH_TERMS")
	return "unrecognized arguments:" + sep + strings.Join(msgs, sep)
}

// helpCommand is `help [COMMAND...]`, a command's help, and
// `help -- SEARCH_TERMS`, the commands whose help text holds every term.
func helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...] | help -- SEARCH_TERMS...",
		Short: "Show a command's help, or search every command's help text",
		// The flag parser would drop the "--" that asks for a search.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 && args[0] == "--" {
				if len(args) == 1 {
					return usagef("argument SEARCH_TERMS: Must be specified.")
				}
				searchHelp(c.OutOrStdout(), root, args[1:])
				return nil
			}
			target, rest, err := root.Find(args)
			if err != nil {
				return usagef("Invalid choice: '%s'.", args[0])
			}
			if len(rest) > 0 {
				return usagef("Invalid choice: '%s'.", rest[0])
			}
			return target.Help()
		},
	}
}

// searchHelp prints each command whose path, descriptions or own flags
// hold every term (case does not matter), with its one-line description.
func searchHelp(w io.Writer, root *cobra.Command, terms []string) {
	for k := range terms {
		terms[k] = strings.ToLower(terms[k])
	}
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c.HasParent() {
			var text strings.Builder
			// The path less the binary's name, which every path holds.
			fmt.Fprintf(&text, "%s\n%s\n%s\n", strings.TrimPrefix(c.CommandPath(), root.Name()), c.Short, c.Long)
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !f.Hidden {
					fmt.Fprintf(&text, "--%s %s\n", f.Name, f.Usage)
				}
			})
			hay := strings.ToLower(text.String())
			if !slices.ContainsFunc(terms, func(t string) bool { return !strings.Contains(hay, t) }) {
				fmt.Fprintf(w, "%s\n    %s\n", c.CommandPath(), c.Short)
				n++
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n == 0 {
		fmt.Fprintf(w, "No commands found matching: %s\n", strings.Join(terms, " "))
	}
}

// closeMatch is Python's difflib.get_close_matches(word, choices, 1, 0.6),
// with which gcloud picks the flag it suggests: the choice most like word
// by SequenceMatcher.ratio, at least 0.6, the greater string on a tie; ""
// when none is close enough.
func closeMatch(word string, choices []string) string {
	m := newSeqMatcher([]rune(word))
	best, bestRatio := "", 0.0
	for _, c := range choices {
		r := m.ratio([]rune(c))
		if r >= 0.6 && (best == "" || r > bestRatio || (r == bestRatio && c > best)) {
			best, bestRatio = c, r
		}
	}
	return best
}

// seqMatcher is difflib.SequenceMatcher with b fixed and no junk function:
// b2j indexes b, less the popular elements of a b of 200 or more (autojunk).
type seqMatcher struct {
	b   []rune
	b2j map[rune][]int
}

func newSeqMatcher(b []rune) *seqMatcher {
	b2j := make(map[rune][]int)
	for j, r := range b {
		b2j[r] = append(b2j[r], j)
	}
	if n := len(b); n >= 200 {
		most := n/100 + 1
		for r, js := range b2j {
			if len(js) > most {
				delete(b2j, r)
			}
		}
	}
	return &seqMatcher{b: b, b2j: b2j}
}

// ratio is SequenceMatcher(None, a, b).ratio(): twice the matched elements
// over the elements of both.
func (m *seqMatcher) ratio(a []rune) float64 {
	total := len(a) + len(m.b)
	if total == 0 {
		return 1
	}
	return 2.0 * float64(m.matched(a)) / float64(total)
}

// matched sums the sizes of get_matching_blocks: the longest match, then
// the same on each side of it.
func (m *seqMatcher) matched(a []rune) int {
	sum := 0
	queue := [][4]int{{0, len(a), 0, len(m.b)}}
	for len(queue) > 0 {
		q := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		alo, ahi, blo, bhi := q[0], q[1], q[2], q[3]
		i, j, k := m.longest(a, alo, ahi, blo, bhi)
		if k == 0 {
			continue
		}
		sum += k
		if alo < i && blo < j {
			queue = append(queue, [4]int{alo, i, blo, j})
		}
		if i+k < ahi && j+k < bhi {
			queue = append(queue, [4]int{i + k, ahi, j + k, bhi})
		}
	}
	return sum
}

// longest is find_longest_match: the earliest longest block of a[alo:ahi]
// equal to a block of b[blo:bhi], then grown over equal elements around it
// (which only autojunk's dropped elements can add).
func (m *seqMatcher) longest(a []rune, alo, ahi, blo, bhi int) (besti, bestj, bestsize int) {
	besti, bestj = alo, blo
	j2len := map[int]int{}
	for i := alo; i < ahi; i++ {
		next := map[int]int{}
		for _, j := range m.b2j[a[i]] {
			if j < blo {
				continue
			}
			if j >= bhi {
				break
			}
			k := j2len[j-1] + 1
			next[j] = k
			if k > bestsize {
				besti, bestj, bestsize = i-k+1, j-k+1, k
			}
		}
		j2len = next
	}
	for besti > alo && bestj > blo && a[besti-1] == m.b[bestj-1] {
		besti, bestj, bestsize = besti-1, bestj-1, bestsize+1
	}
	for besti+bestsize < ahi && bestj+bestsize < bhi && a[besti+bestsize] == m.b[bestj+bestsize] {
		bestsize++
	}
	return besti, bestj, bestsize
}
