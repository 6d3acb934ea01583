package scheduler

import "time"

// item is one entry of the due queue: a job's next slot (ex == nil; the item
// is the job's own slot field) or the next attempt of an execution waiting
// for its backoff (the execution's item field). Its instant is not copied
// into it: it is the job's nextFire or the execution's next, which change
// only while the item is out of the queue or with a heap.Fix.
type item struct {
	j   *jobState
	ex  *execState
	idx int // in the queue; -1 when not queued
}

func (it *item) at() time.Time {
	if it.ex != nil {
		return it.ex.next
	}
	return it.j.nextFire
}

// dueQueue is a min-heap by due time (container/heap), so that a tick costs
// O(log n) per due item and never rescans the jobs.
type dueQueue []*item

func (q dueQueue) Len() int { return len(q) }

func (q dueQueue) Less(a, b int) bool {
	ta, tb := q[a].at(), q[b].at()
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	// Ties in a fixed order, so that a fake-clock run is reproducible.
	if q[a].j.name != q[b].j.name {
		return q[a].j.name < q[b].j.name
	}
	return q[a].ex == nil && q[b].ex != nil
}

func (q dueQueue) Swap(a, b int) {
	q[a], q[b] = q[b], q[a]
	q[a].idx = a
	q[b].idx = b
}

func (q *dueQueue) Push(x any) {
	it := x.(*item)
	it.idx = len(*q)
	*q = append(*q, it)
}

func (q *dueQueue) Pop() any {
	old := *q
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	it.idx = -1
	*q = old[:n-1]
	return it
}
