package gcloudfmt

// The projector follows resource_projector.py: structured printers (json,
// yaml, flattened) project the resource through the projection tree, keeping
// only the projected keys when the format has columns; column printers
// (table, csv, value) serialize the resource and pick each column's value,
// applying its transforms.

type projector struct {
	spec                    *projSpec
	byColumns               bool
	retainNone              bool
	ignoreDefaultTransforms bool
	transformsAttr          *bool
	transformsEnabled       *bool
	depth                   int
}

func newProjector(spec *projSpec, byColumns, retainNone, ignoreDefaultTransforms bool) *projector {
	p := &projector{spec: spec, byColumns: byColumns, retainNone: retainNone, ignoreDefaultTransforms: ignoreDefaultTransforms}
	if spec.hasAttr("transforms") {
		t := true
		p.transformsAttr = &t
	} else if spec.hasAttr("no-transforms") {
		f := false
		p.transformsAttr = &f
	}
	if spec.hasAttr("no-undefined") {
		p.retainNone = false
	}
	return p
}

// makeSerializable is resource_projector.MakeSerializable: a copy of the
// resource with None-valued dict entries dropped.
func makeSerializable(v any) (any, error) {
	spec := &projSpec{attributes: map[string]any{}, aliases: map[string]aliasDef{}}
	spec.root = newNode(newAttribute(flagDefault))
	spec.empty = newNode(newAttribute(flagProject))
	return newProjector(spec, false, false, false).evaluate(v)
}

func (p *projector) transformEnabled(t *transformChain) bool {
	if p.transformsEnabled != nil {
		return *p.transformsEnabled
	}
	return t.isActive(p.spec.active)
}

func (p *projector) ctx(original any) *evalCtx {
	return &evalCtx{spec: p.spec, original: original, depth: p.depth}
}

func (p *projector) projectAttribute(obj any, node *projNode, flag int) (any, error) {
	if flag < flagProject {
		return nil, nil
	}
	if node != nil && node.attr.transform != nil && p.transformEnabled(node.attr.transform) {
		return node.attr.transform.evaluate(obj, p.ctx(nil))
	}
	return p.project(obj, node, flag, true)
}

func (p *projector) project(obj any, node *projNode, flag int, leaf bool) (any, error) {
	switch t := obj.(type) {
	case map[string]any, []any:
		if node != nil && node.attr.transform != nil && p.transformEnabled(node.attr.transform) {
			return node.attr.transform.evaluate(obj, p.ctx(nil))
		}
		if flag >= flagProject || (node != nil && len(node.tree) > 0) {
			if m, ok := t.(map[string]any); ok {
				return p.projectDict(m, node, flag)
			}
			return p.projectList(t.([]any), node, flag)
		}
		return obj, nil
	}
	if leaf {
		return obj, nil
	}
	return p.projectAttribute(obj, node, flag)
}

func (p *projector) projectDict(obj map[string]any, node *projNode, flag int) (any, error) {
	if len(obj) == 0 {
		return obj, nil
	}
	res := map[string]any{}
	for _, k := range sortedKeys(obj) {
		val := obj[k]
		f := flag
		var err error
		if child, ok := node.tree[nameElem(k)]; ok {
			f |= child.attr.flag
			if f < flagInner {
				continue
			}
			val, err = p.project(val, child, f, false)
		} else {
			val, err = p.projectAttribute(val, p.spec.empty, f)
		}
		if err != nil {
			return nil, err
		}
		if val != nil || p.retainNone || (f >= flagProject && len(p.spec.columns) > 0) {
			res[k] = val
		}
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res, nil
}

func (p *projector) projectList(obj []any, node *projNode, flag int) (any, error) {
	if len(obj) == 0 {
		return []any{}, nil
	}
	n := len(obj)
	var indices []int
	seen := map[int]bool{}
	var sliced *projNode
	if len(node.tree) == 0 {
		if flag < flagProject {
			return nil, nil
		}
	} else {
		for k, child := range node.tree {
			switch k.kind {
			case keySlice:
				if flag >= flagProject || child.attr.flag != 0 {
					sliced = child
				}
			case keyIndex:
				if k.index >= -n && k.index < n && !seen[k.index] {
					seen[k.index] = true
					indices = append(indices, k.index)
				}
			}
		}
	}
	if flag >= flagProject && sliced == nil {
		sliced = p.spec.empty
	}
	if len(indices) == 0 && sliced == nil {
		return nil, nil
	}
	var res []any
	if sliced != nil {
		res = make([]any, n)
		indices = indices[:0]
		for i := 0; i < n; i++ {
			indices = append(indices, i)
		}
	} else {
		m := 0
		for _, i := range indices {
			if i < 0 {
				i += n
			}
			m = max(m, i)
		}
		res = make([]any, m+1)
	}
	maxIndex := -1
	for _, index := range indices {
		i := index
		if i < 0 {
			i += n
		}
		val := obj[i]
		if val == nil {
			continue
		}
		f := flag
		child, explicit := node.tree[keyElem{kind: keyIndex, index: index}]
		if explicit {
			if sliced != nil {
				f |= sliced.attr.flag
			}
		} else {
			child = sliced
		}
		if child != nil {
			f |= child.attr.flag
			if f >= flagInner {
				v, err := p.project(val, child, f, false)
				if err != nil {
					return nil, err
				}
				val = v
			} else {
				val = nil
			}
		}
		if val == nil {
			continue
		}
		maxIndex = max(maxIndex, i)
		res[i] = val
	}
	if maxIndex < 0 {
		return nil, nil
	}
	if sliced != nil {
		return res[:maxIndex+1], nil
	}
	return res, nil
}

// evaluate projects one record: a value for structured printers, a row
// ([]any, one cell per column) for column printers.
func (p *projector) evaluate(obj any) (any, error) {
	p.transformsEnabled = p.transformsAttr
	if !p.byColumns || len(p.spec.columns) == 0 {
		flag := flagProject
		if len(p.spec.columns) > 0 {
			p.retainNone = false
			flag = flagDefault
		}
		return p.project(obj, p.spec.root, flag, false)
	}
	row, err := p.evalRow(obj)
	if err != nil {
		return nil, err
	}
	return row, nil
}

func (p *projector) evalRow(obj any) ([]any, error) {
	serialized, err := p.project(obj, p.spec.empty, flagProject, false)
	if err != nil {
		return nil, err
	}
	if p.transformsAttr == nil {
		e := !p.ignoreDefaultTransforms
		p.transformsEnabled = &e
	}
	row := make([]any, 0, len(p.spec.columns))
	for _, c := range p.spec.columns {
		val := serialized
		if len(c.key) > 0 {
			val = getKey(serialized, c.key)
		}
		if c.attr.transform != nil && p.transformEnabled(c.attr.transform) {
			val, err = c.attr.transform.evaluate(val, p.ctx(obj))
			if err != nil {
				return nil, err
			}
		}
		row = append(row, val)
	}
	return row, nil
}

// compileSubProjection compiles a projection with parent as its defaults
// (the format() transform's argument list).
func compileSubProjection(expr string, parent *projSpec) (*projSpec, error) {
	symbols := map[string]*transformDef{}
	aliases := map[string]aliasDef{}
	var root *projNode
	active := 0
	if parent != nil {
		for k, v := range parent.symbols {
			symbols[k] = v
		}
		for k, v := range parent.aliases {
			aliases[k] = v
		}
		if parent.root != nil {
			root = parent.root.deepCopy()
		}
		active = parent.active
	}
	p := &projParser{
		spec:          &projSpec{attributes: map[string]any{}, aliases: aliases, symbols: symbols, root: root, active: active},
		snakeHeadings: map[string]bool{},
	}
	if parent != nil {
		p.spec.defaults()
	}
	if err := p.parse(expr); err != nil {
		return nil, err
	}
	return p.spec, nil
}

// evalColumns evaluates spec's columns on r, depth levels of format() deep.
func (s *projSpec) evalColumns(r any, depth int) ([]any, error) {
	pr := newProjector(s, true, false, false)
	pr.depth = depth
	pr.transformsEnabled = pr.transformsAttr
	return pr.evalRow(r)
}
