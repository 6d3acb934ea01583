package scheduler

import (
	"context"
	"sort"
	"sync"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	"google.golang.org/protobuf/proto"

	"github.com/oidcron/oidcron/internal/store"
)

// memStore is an in-memory store.JobStore for the engine's tests, written
// while the SQLite JobStore is in progress. It copies messages in and out,
// as a real backend does, so that aliasing bugs show.
type memStore struct {
	mu       sync.Mutex
	jobs     map[string]store.JobRecord
	attempts []store.Attempt
	// beforeUpdate, when set, is called before each UpdateJob (to
	// interleave an API write).
	beforeUpdate func(name string)
}

func newMemStore() *memStore { return &memStore{jobs: map[string]store.JobRecord{}} }

var _ store.JobStore = (*memStore)(nil)

func cloneRec(r store.JobRecord) store.JobRecord {
	r.Job = proto.Clone(r.Job).(*schedulerpb.Job)
	if r.Exec != nil {
		x := *r.Exec
		r.Exec = &x
	}
	return r
}

func (m *memStore) CreateJob(_ context.Context, j store.JobRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[j.Job.GetName()]; ok {
		return store.ErrAlreadyExists
	}
	j.Version = 1
	m.jobs[j.Job.GetName()] = cloneRec(j)
	return nil
}

func (m *memStore) GetJob(_ context.Context, name string) (store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.jobs[name]
	if !ok {
		return store.JobRecord{}, store.ErrNotFound
	}
	return cloneRec(r), nil
}

func (m *memStore) sorted() []store.JobRecord {
	var out []store.JobRecord
	for _, r := range m.jobs {
		out = append(out, cloneRec(r))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Job.GetName() < out[b].Job.GetName() })
	return out
}

func page(rs []store.JobRecord, p store.Page) []store.JobRecord {
	var out []store.JobRecord
	for _, r := range rs {
		if r.Job.GetName() > p.After && (p.Size <= 0 || len(out) < p.Size) {
			out = append(out, r)
		}
	}
	return out
}

func (m *memStore) ListJobs(_ context.Context, project, location string, p store.Page) ([]store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := "projects/" + project + "/locations/" + location + "/jobs/"
	var rs []store.JobRecord
	for _, r := range m.sorted() {
		if len(r.Job.GetName()) > len(prefix) && r.Job.GetName()[:len(prefix)] == prefix {
			rs = append(rs, r)
		}
	}
	return page(rs, p), nil
}

func (m *memStore) ScanJobs(_ context.Context, p store.Page) ([]store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return page(m.sorted(), p), nil
}

func (m *memStore) UpdateJob(_ context.Context, j store.JobRecord, expect int64) error {
	if m.beforeUpdate != nil {
		m.beforeUpdate(j.Job.GetName())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.jobs[j.Job.GetName()]
	if !ok {
		return store.ErrNotFound
	}
	if expect != 0 && old.Version != expect {
		return store.ErrVersionMismatch
	}
	j.Version = old.Version + 1
	m.jobs[j.Job.GetName()] = cloneRec(j)
	return nil
}

// UpdateJobs follows the contract: each record is checked against its own
// Version (0: any), and the first refused one fails the batch with nothing
// written, as a *store.BatchError.
func (m *memStore) UpdateJobs(_ context.Context, js []store.JobRecord) error {
	if m.beforeUpdate != nil {
		for _, j := range js {
			m.beforeUpdate(j.Job.GetName())
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := map[string]int64{}
	for i, j := range js {
		name := j.Job.GetName()
		v, seen := cur[name]
		if !seen {
			old, ok := m.jobs[name]
			if !ok {
				return &store.BatchError{Index: i, Name: name, Err: store.ErrNotFound}
			}
			v = old.Version
		}
		if j.Version != 0 && j.Version != v {
			return &store.BatchError{Index: i, Name: name, Err: store.ErrVersionMismatch}
		}
		cur[name] = v + 1
	}
	for _, j := range js {
		j.Version = m.jobs[j.Job.GetName()].Version + 1
		m.jobs[j.Job.GetName()] = cloneRec(j)
	}
	return nil
}

func (m *memStore) DeleteJob(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[name]; !ok {
		return store.ErrNotFound
	}
	delete(m.jobs, name)
	return nil
}

func (m *memStore) DueJobs(_ context.Context, at time.Time, limit int) ([]store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.JobRecord
	for _, r := range m.sorted() {
		if !r.DueTime.IsZero() && !r.DueTime.After(at) {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].DueTime.Before(out[b].DueTime) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) AddAttempts(_ context.Context, as []store.Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts = append(m.attempts, as...)
	return nil
}

func (m *memStore) ListAttempts(_ context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Attempt
	for i := len(m.attempts) - 1; i >= 0; i-- {
		a := m.attempts[i]
		if a.Job == job && (before.IsZero() || a.Start.Before(before)) {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Start.Equal(out[b].Start) {
			return out[a].Start.After(out[b].Start)
		}
		return out[a].Number > out[b].Number
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *memStore) TrimAttempts(_ context.Context, keep int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	count := map[string]int{}
	var kept []store.Attempt
	var n int64
	for i := len(m.attempts) - 1; i >= 0; i-- {
		a := m.attempts[i]
		if count[a.Job] < keep {
			count[a.Job]++
			kept = append(kept, a)
		} else {
			n++
		}
	}
	for l, r := 0, len(kept)-1; l < r; l, r = l+1, r-1 {
		kept[l], kept[r] = kept[r], kept[l]
	}
	m.attempts = kept
	return n, nil
}
