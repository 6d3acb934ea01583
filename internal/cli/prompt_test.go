package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The expected texts are Python's: textwrap.TextWrapper(replace_whitespace=False,
// drop_whitespace=False, break_on_hyphens=False) over str.splitlines(), as
// gcloud's console_io._DoWrap.
func TestWrapText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"You are about to delete service account [backup-runner@demo-project.iam.gserviceaccount.com]",
			"You are about to delete service account \n[backup-runner@demo-project.iam.gserviceaccount.com]"},
		{strings.Repeat("x", 75) + " y  z", strings.Repeat("x", 70) + "\nxxxxx y  z"},
		{strings.Repeat("a", 70) + " b", strings.Repeat("a", 70) + "\n b"},
		{strings.Repeat("a", 69) + "  b", strings.Repeat("a", 69) + "\n  b"},
		{"\tindented\ttabs and a very long line that goes on and on past the seventy column mark",
			"        indented        tabs and a very long line that goes on and on \npast the seventy column mark"},
		{"line one\n\nline three is long enough to wrap around the seventy column limit, isn't it?\n",
			"line one\n\nline three is long enough to wrap around the seventy column limit, \nisn't it?"},
		{"short  ", "short  "},
		{"", ""},
		{"   leading spaces that are many and then words words words words words words words",
			"   leading spaces that are many and then words words words words words\n words words"},
		{strings.Repeat("é", 72), strings.Repeat("é", 70) + "\néé"},
	} {
		if got := wrapText(c.in); got != c.want {
			t.Errorf("wrapText(%q):\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// Confirm follows console_io.PromptContinue: stdin is read whether or not
// it is a terminal.
func TestConfirm(t *testing.T) {
	const q = "m\n\nDo you want to continue (Y/n)?  "
	for _, c := range []struct {
		name        string
		p           Prompt
		stdin       string
		interactive bool
		quiet       bool
		want        bool
		err         error
		stderr      string
	}{
		{"empty line", Prompt{Message: "m", Default: true}, "\n", false, false, true, nil, q + "\n"},
		{"end of input", Prompt{Message: "m", Default: true}, "", false, false, true, nil, q + "\n"},
		{"no", Prompt{Message: "m", Default: true}, " No \n", false, false, false, nil, q + "\n"},
		{"last line without newline", Prompt{Message: "m", Default: true}, "n", false, false, false, nil, q + "\n"},
		{"asked again", Prompt{Message: "m", Default: true}, "what\n \ny\n", false, false, true, nil,
			q + "Please enter 'y' or 'n':  Please enter 'y' or 'n':  \n"},
		{"garbage then end", Prompt{Message: "m", Default: true}, "what", false, false, true, nil, q + "Please enter 'y' or 'n':  \n"},
		{"cancel on no", Prompt{Message: "m", Default: true, CancelOnNo: true}, "n\n", false, false, false, ErrAborted, q + "\n"},
		{"cancel string", Prompt{Message: "m", Default: true, CancelOnNo: true, CancelString: "Stopped."}, "n\n", false, false, false, errors.New("Stopped."), q + "\n"},
		{"unattended", Prompt{Message: "m", Default: true, ThrowIfUnattended: true}, "", false, false, false, ErrUnattended, q + "\n"},
		{"unattended answered", Prompt{Message: "m", Default: true, ThrowIfUnattended: true}, "y\n", false, false, true, nil, q + "\n"},
		{"terminal at its end", Prompt{Message: "m", Default: true, ThrowIfUnattended: true}, "", true, false, true, nil, q + "\n"},
		{"quiet", Prompt{Message: "m", Default: true, ThrowIfUnattended: true, CancelOnNo: true}, "", false, true, true, nil, ""},
		{"quiet, default no", Prompt{Message: "m", CancelOnNo: true}, "y\n", false, true, false, ErrAborted, ""},
		{"own question", Prompt{Question: "Replace existing policy"}, "\n", false, false, false, nil, "Replace existing policy (y/N)?  \n"},
	} {
		var errb bytes.Buffer
		g := &Globals{In: strings.NewReader(c.stdin), Err: &errb, Interactive: c.interactive, Quiet: c.quiet}
		got, err := g.Confirm(c.p)
		if got != c.want || (err == nil) != (c.err == nil) || (err != nil && err.Error() != c.err.Error()) || errb.String() != c.stderr {
			t.Errorf("%s: %v, %v, stderr %q; want %v, %v, %q", c.name, got, err, errb.String(), c.want, c.err, c.stderr)
		}
	}
}

// Each prompt reads its own line only: nothing is buffered away from the
// next one.
func TestConfirmReadsOneLine(t *testing.T) {
	in := strings.NewReader("n\ny\n")
	g := &Globals{In: in, Err: &bytes.Buffer{}}
	first, _ := g.Confirm(Prompt{Default: true})
	second, _ := g.Confirm(Prompt{})
	if first || !second {
		t.Fatalf("answers %v %v, want false true", first, second)
	}
}
