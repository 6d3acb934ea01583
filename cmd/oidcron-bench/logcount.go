package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// warnLog keeps the warnings and errors the measured servers log (a
// claim that failed, a slot skipped), which a run would otherwise hide:
// their count, and the first few, for the run's note. Below Warn it drops
// everything without formatting it.
type warnLog struct {
	mu    sync.Mutex
	n     int
	first []string
}

const warnLogKeep = 3

func (w *warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if len(w.first) < warnLogKeep {
		w.first = append(w.first, b.String())
	}
	return nil
}

// WithAttrs shares the counts: every logger derived from one warnLog
// counts into it.
func (w *warnLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnLogView{w: w, attrs: as}
}

func (w *warnLog) WithGroup(string) slog.Handler { return w }

// note is "" when nothing was logged.
func (w *warnLog) note() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 {
		return ""
	}
	return fmt.Sprintf("%d warnings or errors logged, the first: %s", w.n, strings.Join(w.first, " | "))
}

// warnLogView is a warnLog with attributes of its own.
type warnLogView struct {
	w     *warnLog
	attrs []slog.Attr
}

func (v *warnLogView) Enabled(ctx context.Context, l slog.Level) bool { return v.w.Enabled(ctx, l) }

func (v *warnLogView) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(v.attrs...)
	return v.w.Handle(ctx, r)
}

func (v *warnLogView) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnLogView{w: v.w, attrs: append(append([]slog.Attr(nil), v.attrs...), as...)}
}

func (v *warnLogView) WithGroup(string) slog.Handler { return v }
