package doctor

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people: one line per check, the commands
// that fix a broken link under it, then the prediction (and the probe).
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Diagnosis of %s (the target is not called)\n", r.Job)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-15s  %s\n", c.Result, c.ID, c.Detail)
		for _, f := range c.Fix {
			fmt.Fprintf(&b, "        $ %s\n", f)
		}
	}
	fmt.Fprintf(&b, "Predicted: %s\n", r.Prediction.Summary)
	if p := r.Probe; p != nil {
		fmt.Fprintf(&b, "Probe: ran the job at %s; its first attempt got %s\n", p.ScheduleTime.Format("2006-01-02T15:04:05Z"), p.Summary)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Fixes returns every fix command of the report, in order, without repeats.
func (r *Report) Fixes() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range r.Checks {
		for _, f := range c.Fix {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}
