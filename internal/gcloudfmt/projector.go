package gcloudfmt

// A projector applies a parsed format to one record. Structured printers
// (json, yaml, flattened) get a copy of the record cut down to the format's
// columns when it has any, with the columns' transforms applied in place.
// Column printers (table, csv, value) get a row with one cell per column.

type projector struct {
	spec            *projSpec
	byColumns       bool // the printer wants rows
	keepNone        bool // keep None-valued dict entries (yaml, json)
	ignoreInherited bool // "get": do not apply inherited default transforms
	// forced is the [transforms] / [no-transforms] printer attribute;
	// override is what applies to the record being projected (nil: each
	// transform decides by its projection level).
	forced   *bool
	override *bool
	depth    int // format() nesting
}

func newProjector(spec *projSpec, byColumns, keepNone, ignoreInherited bool) *projector {
	p := &projector{spec: spec, byColumns: byColumns, keepNone: keepNone, ignoreInherited: ignoreInherited}
	switch {
	case spec.hasAttr("transforms"):
		p.forced = ptr(true)
	case spec.hasAttr("no-transforms"):
		p.forced = ptr(false)
	}
	if spec.hasAttr("no-undefined") {
		p.keepNone = false
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// makeSerializable is a deep copy of v without None-valued dict entries:
// what the display steps (flatten, filter) work on.
func makeSerializable(v any) (any, error) { return plainCopy(v, false), nil }

// plainCopy copies v. Dict entries whose value is None are dropped unless
// keepNone, and so is a dict left empty by that; None list items are
// dropped from the end of a list (a list of only Nones becomes None) and
// kept elsewhere.
func plainCopy(v any, keepNone bool) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return t
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			if c := plainCopy(e, keepNone); c != nil || keepNone {
				out[k] = c
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(t) == 0 {
			return []any{}
		}
		out := make([]any, len(t))
		end := 0
		for i, e := range t {
			if e == nil {
				continue
			}
			if c := plainCopy(e, keepNone); c != nil {
				out[i] = c
				end = i + 1
			}
		}
		if end == 0 {
			return nil
		}
		return out[:end]
	}
	return v
}

// applies reports whether a transform chain is applied to this record.
func (p *projector) applies(t *transformChain) bool {
	if t == nil {
		return false
	}
	if p.override != nil {
		return *p.override
	}
	return t.isActive(p.spec.active)
}

func (p *projector) ctx() *evalCtx { return &evalCtx{spec: p.spec, depth: p.depth} }

// keepNoneAt: None values stay at this level when the printer keeps them,
// or for the projected keys of a format with columns.
func (p *projector) keepNoneAt(level int) bool {
	return p.keepNone || (level >= flagProject && len(p.spec.columns) > 0)
}

// evaluate projects one record: a value for structured printers, a row
// ([]any, one cell per column) for column printers.
func (p *projector) evaluate(record any) (any, error) {
	p.override = p.forced
	if p.byColumns && len(p.spec.columns) > 0 {
		return p.row(record)
	}
	level := flagProject
	if len(p.spec.columns) > 0 {
		// Only the projected keys are kept, and never a None.
		p.keepNone = false
		level = flagDefault
	}
	return p.inner(record, p.spec.root, level)
}

// row evaluates each column on a copy of the record.
func (p *projector) row(record any) ([]any, error) {
	whole := plainCopy(record, p.keepNoneAt(flagProject))
	if p.forced == nil {
		p.override = ptr(!p.ignoreInherited)
	}
	cells := make([]any, 0, len(p.spec.columns))
	for _, c := range p.spec.columns {
		cell := whole
		if len(c.key) > 0 {
			cell = getKey(whole, c.key)
		}
		if p.applies(c.attr.transform) {
			var err error
			if cell, err = c.attr.transform.evaluate(cell, p.ctx()); err != nil {
				return nil, err
			}
		}
		cells = append(cells, cell)
	}
	return cells, nil
}

// evalColumns evaluates s's columns on r, depth levels of format() deep.
func (s *projSpec) evalColumns(r any, depth int) ([]any, error) {
	p := newProjector(s, true, false, false)
	p.depth = depth
	p.override = p.forced
	return p.row(r)
}

// leaf projects a value that a key of the tree (or no key, node being
// spec.empty) ends at: transformed if the key has transforms, copied
// otherwise. Below the projected level it is dropped.
func (p *projector) leaf(v any, node *projNode, level int) (any, error) {
	if level < flagProject {
		return nil, nil
	}
	if p.applies(node.attr.transform) {
		return node.attr.transform.evaluate(v, p.ctx())
	}
	switch v.(type) {
	case map[string]any, []any:
		return p.container(v, node, level)
	}
	return v, nil
}

// inner projects a value at a node that may have keys below it.
func (p *projector) inner(v any, node *projNode, level int) (any, error) {
	switch v.(type) {
	case map[string]any, []any:
		return p.container(v, node, level)
	}
	return p.leaf(v, node, level)
}

// container projects a dict or list: through the keys below node, or
// whole when projected.
func (p *projector) container(v any, node *projNode, level int) (any, error) {
	if p.applies(node.attr.transform) {
		return node.attr.transform.evaluate(v, p.ctx())
	}
	if level < flagProject && len(node.tree) == 0 {
		return v, nil
	}
	if node == p.spec.empty {
		// Nothing below: a plain copy.
		return plainCopy(v, p.keepNoneAt(level)), nil
	}
	if m, ok := v.(map[string]any); ok {
		return p.dict(m, node, level)
	}
	return p.list(v.([]any), node, level)
}

func (p *projector) dict(m map[string]any, node *projNode, level int) (any, error) {
	if len(m) == 0 {
		return m, nil
	}
	out := map[string]any{}
	for _, k := range sortedKeys(m) {
		var v any
		var err error
		at := level
		if child, ok := node.tree[nameElem(k)]; ok {
			if at |= child.attr.flag; at < flagInner {
				continue
			}
			v, err = p.inner(m[k], child, at)
		} else {
			v, err = p.leaf(m[k], p.spec.empty, at)
		}
		if err != nil {
			return nil, err
		}
		if v != nil || p.keepNoneAt(at) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// list projects the items a list's keys select: every item for a[] (or
// when the list itself is projected), else the a[N] ones. Unselected and
// None items leave None holes; trailing holes are cut for a[].
func (p *projector) list(items []any, node *projNode, level int) (any, error) {
	n := len(items)
	if n == 0 {
		return []any{}, nil
	}
	if len(node.tree) == 0 && level < flagProject {
		return nil, nil
	}
	var all *projNode
	picked := map[int]bool{}
	for k, child := range node.tree {
		switch k.kind {
		case keySlice:
			if level >= flagProject || child.attr.flag != flagDefault {
				all = child
			}
		case keyIndex:
			if k.index >= -n && k.index < n {
				picked[k.index] = true
			}
		}
	}
	if all == nil && level >= flagProject {
		all = p.spec.empty
	}
	if all == nil && len(picked) == 0 {
		return nil, nil
	}
	var out []any
	if all != nil {
		out = make([]any, n)
		picked = map[int]bool{}
		for i := range n {
			picked[i] = true
		}
	} else {
		size := 0
		for idx := range picked {
			size = max(size, (idx+n)%n+1)
		}
		out = make([]any, size)
	}
	last := -1
	for idx := range picked {
		i := (idx + n) % n
		v := items[i]
		if v == nil {
			continue
		}
		at := level
		child, explicit := node.tree[keyElem{kind: keyIndex, index: idx}]
		switch {
		case explicit && all != nil:
			at |= all.attr.flag
		case !explicit:
			child = all
		}
		if child != nil {
			if at |= child.attr.flag; at < flagInner {
				continue
			}
			var err error
			if v, err = p.inner(v, child, at); err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
		}
		last = max(last, i)
		out[i] = v
	}
	if last < 0 {
		return nil, nil
	}
	if all != nil {
		return out[:last+1], nil
	}
	return out, nil
}
