package identity

import (
	"container/heap"
	"sync"
	"time"
)

// ttlCache is a bounded map whose entries are dropped at their own drop
// time. Both token caches need exactly this: an entry is worthless after a
// known instant (the token's expiry, or the point where a minted token is
// too close to expiry to hand out), and memory must stay bounded whatever
// the traffic. When full, the entry due soonest goes first: it has the least
// value left.
//
// Time is passed in (from the caller's clock) so that tests drive expiry.
type ttlCache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*ttlItem[K, V]
	order ttlHeap[K, V]
}

type ttlItem[K comparable, V any] struct {
	key   K
	val   V
	drop  time.Time
	index int
}

func newTTLCache[K comparable, V any](max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{max: max, items: make(map[K]*ttlItem[K, V])}
}

// get returns the value for k unless it is due (now >= drop).
func (c *ttlCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	if !now.Before(it.drop) {
		heap.Remove(&c.order, it.index)
		delete(c.items, k)
		var zero V
		return zero, false
	}
	return it.val, true
}

// put stores v under k until drop. An entry already due is not stored.
func (c *ttlCache[K, V]) put(k K, v V, drop time.Time, now time.Time) {
	if c.max <= 0 || !now.Before(drop) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[k]; ok {
		it.val, it.drop = v, drop
		heap.Fix(&c.order, it.index)
		return
	}
	// Expired entries are found at the top of the heap; clear them before
	// deciding whether the cache is full.
	for len(c.order) > 0 && !now.Before(c.order[0].drop) {
		old := heap.Pop(&c.order).(*ttlItem[K, V])
		delete(c.items, old.key)
	}
	for len(c.order) >= c.max {
		old := heap.Pop(&c.order).(*ttlItem[K, V])
		delete(c.items, old.key)
	}
	it := &ttlItem[K, V]{key: k, val: v, drop: drop}
	heap.Push(&c.order, it)
	c.items[k] = it
}

func (c *ttlCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func (c *ttlCache[K, V]) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = make(map[K]*ttlItem[K, V])
	c.order = nil
}

type ttlHeap[K comparable, V any] []*ttlItem[K, V]

func (h ttlHeap[K, V]) Len() int           { return len(h) }
func (h ttlHeap[K, V]) Less(i, j int) bool { return h[i].drop.Before(h[j].drop) }
func (h ttlHeap[K, V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *ttlHeap[K, V]) Push(x any) {
	it := x.(*ttlItem[K, V])
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *ttlHeap[K, V]) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	it.index = -1
	return it
}
