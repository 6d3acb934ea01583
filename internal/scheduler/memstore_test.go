package scheduler

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/scheduler/apiv1/schedulerpb"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/oidcron/oidcron/internal/store"
	"github.com/oidcron/oidcron/internal/store/storetest"
)

// memStore is an in-memory store.JobStore for the engine's tests. It copies
// messages in and out, as a real backend does, so that aliasing bugs show,
// and TestMemStoreContract holds it to the store contract (storetest).
type memStore struct {
	mu       sync.Mutex
	jobs     map[string]store.JobRecord
	attempts []store.Attempt
	// tombstones are the last versions of deleted job names.
	tombstones map[string]int64
	// beforeUpdate, when set, is called before each write of a job's state
	// or record (to interleave an API write).
	beforeUpdate func(name string)
	// beforeAddAttempts, when set, is called before AddAttempts.
	beforeAddAttempts func()
	// getErr, while set for a name, is what GetJob of that name, and
	// GetJobs of names with it, return.
	getErr map[string]error
	// manuals are the RunJob executions by ID; lastManual is the last ID
	// given.
	manuals    map[int64]store.Manual
	lastManual int64
	// manualErr, when set, is what AddManual and UpdateManuals return.
	manualErr error
}

func newMemStore() *memStore {
	return &memStore{jobs: map[string]store.JobRecord{}, tombstones: map[string]int64{}, manuals: map[int64]store.Manual{}}
}

var _ store.JobStore = (*memStore)(nil)

func TestMemStoreContract(t *testing.T) {
	storetest.RunJobStore(t, func(*testing.T) store.JobStore { return newMemStore() })
}

// cloneRec copies r deeply, its times in UTC without a monotonic reading,
// as a backend stores them.
func cloneRec(r store.JobRecord) store.JobRecord {
	r.Job = proto.Clone(r.Job).(*schedulerpb.Job)
	r.NextFire, r.DueTime, r.LastSlot = utc(r.NextFire), utc(r.DueTime), utc(r.LastSlot)
	r.Exec = cloneExec(r.Exec)
	return r
}

func cloneExec(e *store.Execution) *store.Execution {
	if e == nil {
		return nil
	}
	x := *e
	x.ScheduleTime, x.FirstAttempt, x.NextAttempt, x.LeaseUntil = utc(x.ScheduleTime), utc(x.FirstAttempt), utc(x.NextAttempt), utc(x.LeaseUntil)
	return &x
}

// failGet makes every GetJob of name (and GetJobs with it) return err until it is called again
// with nil.
func (m *memStore) failGet(name string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.getErr == nil {
		m.getErr = map[string]error{}
	}
	m.getErr[name] = err
}

func (m *memStore) CreateJob(_ context.Context, j store.JobRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[j.Job.GetName()]; ok {
		return store.ErrAlreadyExists
	}
	j.Version = m.tombstones[j.Job.GetName()] + 1
	j.Incarnation = j.Version
	m.jobs[j.Job.GetName()] = cloneRec(j)
	return nil
}

func (m *memStore) GetJob(_ context.Context, name string) (store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.getErr[name]; err != nil {
		return store.JobRecord{}, err
	}
	r, ok := m.jobs[name]
	if !ok {
		return store.JobRecord{}, store.ErrNotFound
	}
	return cloneRec(r), nil
}

func (m *memStore) GetJobs(_ context.Context, names []string) ([]store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if err := m.getErr[n]; err != nil {
			return nil, err
		}
	}
	var out []store.JobRecord
	for _, r := range m.sorted() {
		if slices.Contains(names, r.Job.GetName()) {
			out = append(out, r)
		}
	}
	return out, nil
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
		if strings.HasPrefix(r.Job.GetName(), prefix) && len(r.Job.GetName()) > len(prefix) {
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

func (m *memStore) ScanJobHeads(_ context.Context, p store.Page) ([]store.JobHead, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.JobHead
	for _, r := range page(m.sorted(), p) {
		out = append(out, headOf(r))
	}
	return out, nil
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
	j.Version, j.Incarnation = old.Version+1, old.Incarnation
	j.LastSlot = store.Later(old.LastSlot, j.LastSlot)
	m.jobs[j.Job.GetName()] = cloneRec(j)
	return nil
}

func (m *memStore) UpdateJobStates(_ context.Context, states []store.JobState) ([]int, error) {
	if m.beforeUpdate != nil {
		for _, s := range states {
			m.beforeUpdate(s.Name)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var refused []int
	for i, s := range states {
		r, ok := m.jobs[s.Name]
		if !ok || r.Version != s.Version {
			refused = append(refused, i)
			continue
		}
		r = cloneRec(r)
		r.Version++
		r.NextFire, r.DueTime, r.Exec = utc(s.NextFire), utc(s.DueTime), cloneExec(s.Exec)
		r.LastSlot = store.Later(r.LastSlot, s.LastSlot)
		r.Job.ScheduleTime = nil
		if !s.ScheduleTime.IsZero() {
			r.Job.ScheduleTime = timestamppb.New(s.ScheduleTime)
		}
		if res := s.Result; res != nil {
			r.Job.Status, r.Job.LastAttemptTime = nil, nil
			if res.Status != nil {
				r.Job.Status = proto.Clone(res.Status).(*statuspb.Status)
			}
			if !res.LastAttemptTime.IsZero() {
				r.Job.LastAttemptTime = timestamppb.New(res.LastAttemptTime)
			}
		}
		m.jobs[s.Name] = r
	}
	return refused, nil
}

func (m *memStore) DeleteJob(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.jobs[name]
	if !ok {
		return store.ErrNotFound
	}
	m.tombstones[name] = r.Version
	delete(m.jobs, name)
	for id, x := range m.manuals {
		if x.Job == name {
			delete(m.manuals, id)
		}
	}
	kept := m.attempts[:0]
	for _, a := range m.attempts {
		if a.Job != name {
			kept = append(kept, a)
		}
	}
	m.attempts = kept
	return nil
}

func (m *memStore) DueJobs(_ context.Context, at time.Time, limit int) ([]store.JobRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.JobRecord
	if at.IsZero() {
		return nil, nil
	}
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
	if m.beforeAddAttempts != nil {
		m.beforeAddAttempts()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range as {
		if a.Start.IsZero() {
			return errors.New("memstore: attempt without a start")
		}
	}
	for _, a := range as {
		r, ok := m.jobs[a.Job]
		if !ok || (a.Incarnation != 0 && a.Incarnation != r.Incarnation) {
			continue
		}
		a.Incarnation = 0
		m.attempts = append(m.attempts, a)
	}
	return nil
}

// newer reports whether a comes before b in ListAttempts' order; i and k
// are their positions in m.attempts (the later added is the newer).
func newer(a, b store.Attempt, i, k int) bool {
	if !a.Start.Equal(b.Start) {
		return a.Start.After(b.Start)
	}
	if a.Number != b.Number {
		return a.Number > b.Number
	}
	return i > k
}

// history is a job's attempts, newest first, with their positions.
func (m *memStore) history(job string) (as []store.Attempt, pos []int) {
	for i, a := range m.attempts {
		if a.Job == job {
			as, pos = append(as, a), append(pos, i)
		}
	}
	idx := make([]int, len(as))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return newer(as[idx[x]], as[idx[y]], pos[idx[x]], pos[idx[y]]) })
	out, outPos := make([]store.Attempt, len(as)), make([]int, len(as))
	for k, i := range idx {
		out[k], outPos[k] = as[i], pos[i]
	}
	return out, outPos
}

func (m *memStore) ListAttempts(_ context.Context, job string, limit int, before time.Time) ([]store.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hist, _ := m.history(job)
	var out []store.Attempt
	for _, a := range hist {
		if before.IsZero() || a.Start.Before(before) {
			a.Start, a.End, a.ScheduleTime = utc(a.Start), utc(a.End), utc(a.ScheduleTime)
			out = append(out, a)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Round(0)
}

func (m *memStore) TrimAttempts(_ context.Context, keep int) (int64, error) {
	if keep < 0 {
		return 0, errors.New("memstore: negative keep")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	drop := map[int]bool{}
	seen := map[string]bool{}
	for _, a := range m.attempts {
		if seen[a.Job] {
			continue
		}
		seen[a.Job] = true
		_, pos := m.history(a.Job)
		for _, p := range pos[min(keep, len(pos)):] {
			drop[p] = true
		}
	}
	var kept []store.Attempt
	for i, a := range m.attempts {
		if !drop[i] {
			kept = append(kept, a)
		}
	}
	m.attempts = kept
	return int64(len(drop)), nil
}

func (m *memStore) AddManual(_ context.Context, x store.Manual) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.manualErr != nil {
		return 0, m.manualErr
	}
	if r, ok := m.jobs[x.Job]; !ok || r.Incarnation != x.Incarnation {
		return 0, store.ErrNotFound
	}
	m.lastManual++
	x.ID = m.lastManual
	x.Exec = *cloneExec(&x.Exec)
	x.Exec.Manual = true
	m.manuals[x.ID] = x
	return x.ID, nil
}

func (m *memStore) UpdateManuals(_ context.Context, ws []store.ManualWrite) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.manualErr != nil {
		return nil, m.manualErr
	}
	var refused []int
	for i, w := range ws {
		x, ok := m.manuals[w.ID]
		switch {
		case !ok || x.Exec.Claim != w.Claim:
			refused = append(refused, i)
		case w.Exec == nil:
			delete(m.manuals, w.ID)
		default:
			x.Exec = *cloneExec(w.Exec)
			x.Exec.Manual = true
			m.manuals[w.ID] = x
		}
	}
	return refused, nil
}

func (m *memStore) ListManuals(context.Context) ([]store.Manual, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.Manual, 0, len(m.manuals))
	for _, x := range m.manuals {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b store.Manual) int { return int(a.ID - b.ID) })
	return out, nil
}
