// Package rest serves the REST form of oidcron's gRPC services by
// transcoding, the way Google's front end does: it reads the google.api.http
// rules compiled into the service descriptors, binds path variables, query
// parameters and the JSON body to the request message, and calls the very
// method handler gRPC calls, interceptor included. Nothing here knows any
// one API; the few paths that gcloud calls and no proto describes are added
// as aliases with AddRule.
package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is 0.
// Google's front end takes request payloads up to 10 MiB.
const DefaultMaxBodyBytes = 10 << 20

// Options configures a Transcoder.
type Options struct {
	// Interceptor runs around every call exactly as the gRPC server's unary
	// interceptor does (auth, logging).
	Interceptor grpc.UnaryServerInterceptor
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Transcoder is an http.Handler serving registered gRPC services over REST.
// Register services and rules before serving; registration and serving may
// also overlap safely.
type Transcoder struct {
	opts Options

	mu       sync.RWMutex
	methods  map[string]*methodInfo // by full method, "/pkg.Service/Method"
	hooks    map[string]BodyHook    // by full method
	services map[string]bool
	routes   map[string][]*route // by HTTP method; "*" for custom kind "*"
	verbs    map[string]int      // verbs some template declares
	nextID   int
}

type methodInfo struct {
	fullMethod string
	srv        any
	handler    grpc.MethodHandler
	input      protoreflect.MessageDescriptor
	output     protoreflect.MessageDescriptor
}

type route struct {
	httpMethod string
	tmpl       *pathTemplate
	m          *methodInfo
	varFields  [][]protoreflect.FieldDescriptor // per template variable
	bodyAll    bool                             // body: "*"
	bodyField  protoreflect.FieldDescriptor     // body: "<field>"
	respField  protoreflect.FieldDescriptor     // response_body: "<field>"
	id         int                              // registration order, the last tie-break
}

// New returns an empty Transcoder.
func New(opts Options) *Transcoder {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &Transcoder{
		opts:     opts,
		methods:  map[string]*methodInfo{},
		services: map[string]bool{},
		hooks:    map[string]BodyHook{},
		routes:   map[string][]*route{},
		verbs:    map[string]int{},
	}
}

// RegisterService routes every method of the service that has an HTTP rule
// (additional_bindings included). desc is the generated *grpc.ServiceDesc
// (e.g. &schedulerpb.CloudScheduler_ServiceDesc), impl the server
// implementation registered with gRPC too. Streaming methods are skipped.
// An impl that implements BodyHooks has its hooks installed.
//
// When two services declare the very same method and template (IAM admin's
// and IAM Credentials' ":signBlob" do), the one registered first serves it.
func (t *Transcoder) RegisterService(desc *grpc.ServiceDesc, impl any) error {
	return t.register(desc, impl, true)
}

// RegisterServiceUnrouted registers the service's methods without their
// compiled HTTP rules, for AddRule to route. A mixin needs it: IAMPolicy's
// rules ("/v1/{resource=**}:getIamPolicy") would claim every resource's
// IAM path, Google's own or not, for whichever service implements it.
func (t *Transcoder) RegisterServiceUnrouted(desc *grpc.ServiceDesc, impl any) error {
	return t.register(desc, impl, false)
}

func (t *Transcoder) register(desc *grpc.ServiceDesc, impl any, routed bool) error {
	if desc == nil {
		return errors.New("rest: nil ServiceDesc")
	}
	if desc.HandlerType != nil {
		ht := reflect.TypeOf(desc.HandlerType).Elem()
		if impl == nil || !reflect.TypeOf(impl).Implements(ht) {
			return fmt.Errorf("rest: %T does not implement %v", impl, ht)
		}
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(desc.ServiceName))
	if err != nil {
		return fmt.Errorf("rest: service %s: %w", desc.ServiceName, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return fmt.Errorf("rest: %s is not a service", desc.ServiceName)
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.services[desc.ServiceName] {
		return fmt.Errorf("rest: service %s already registered", desc.ServiceName)
	}
	// Build everything first so that a bad rule registers nothing.
	var infos []*methodInfo
	var rules []*annotations.HttpRule
	for _, md := range desc.Methods {
		pm := sd.Methods().ByName(protoreflect.Name(md.MethodName))
		if pm == nil {
			return fmt.Errorf("rest: %s has no method %s in its descriptor", desc.ServiceName, md.MethodName)
		}
		info := &methodInfo{
			fullMethod: "/" + desc.ServiceName + "/" + md.MethodName,
			srv:        impl,
			handler:    md.Handler,
			input:      pm.Input(),
			output:     pm.Output(),
		}
		infos = append(infos, info)
		rule, _ := proto.GetExtension(pm.Options(), annotations.E_Http).(*annotations.HttpRule)
		rules = append(rules, rule)
	}
	var hooks map[string]BodyHook
	if h, ok := impl.(BodyHooks); ok {
		hooks = h.RESTBodyHooks()
		for name := range hooks {
			if sd.Methods().ByName(protoreflect.Name(name)) == nil {
				return fmt.Errorf("rest: %s has no method %s for its body hook", desc.ServiceName, name)
			}
		}
	}
	var routes []*route
	for i, info := range infos {
		if !routed || rules[i] == nil || rules[i].GetPattern() == nil {
			continue
		}
		rs, err := buildRoutes(info, rules[i], false)
		if err != nil {
			return fmt.Errorf("rest: %s: %w", info.fullMethod, err)
		}
		routes = append(routes, rs...)
	}
	t.services[desc.ServiceName] = true
	for _, info := range infos {
		t.methods[info.fullMethod] = info
	}
	for name, h := range hooks {
		if h != nil {
			t.hooks["/"+desc.ServiceName+"/"+name] = h
		}
	}
	t.addRoutes(routes)
	return nil
}

// BodyHook pre-processes the JSON body of one method's REST requests before
// it is bound to the request message, for what protojson cannot carry (the
// null map values gcloud sends to remove map entries, for one). body is the
// HTTP body as sent: the request message for a rule with body "*", the
// value of the body field otherwise. The hook returns the body to bind and
// the context the call runs with (interceptor and handler), where it can
// leave what it took out of the body for the handler. A hook should return
// a body it cannot read unchanged: binding then reports what is wrong with
// it as for any request. An error answers the request as a handler's
// would: a gRPC status error with its code, anything else INTERNAL.
// Hooks run only for requests with a non-empty body.
type BodyHook func(ctx context.Context, body []byte) (context.Context, []byte, error)

// BodyHooks is implemented by a service implementation some of whose
// methods need a BodyHook; RESTBodyHooks returns them by method name
// ("UpdateJob"), and RegisterService installs them.
type BodyHooks interface {
	RESTBodyHooks() map[string]BodyHook
}

// SetBodyHook installs hook for fullMethod ("/pkg.Service/Method") of a
// registered service, replacing any it had; nil removes it.
func (t *Transcoder) SetBodyHook(fullMethod string, hook BodyHook) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.methods[fullMethod] == nil {
		return fmt.Errorf("rest: SetBodyHook: method %s is not registered", fullMethod)
	}
	if hook == nil {
		delete(t.hooks, fullMethod)
	} else {
		t.hooks[fullMethod] = hook
	}
	return nil
}

func (t *Transcoder) bodyHook(fullMethod string) BodyHook {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.hooks[fullMethod]
}

// AddRule adds an extra HTTP binding (with its additional_bindings) for a
// method of a registered service: the aliases for paths no proto describes,
// such as Resource Manager v1's POST /v1/{resource=projects/*}:getIamPolicy
// onto google.cloud.resourcemanager.v3.Projects/GetIamPolicy. fullMethod is
// "/pkg.Service/Method".
func (t *Transcoder) AddRule(fullMethod string, rule *annotations.HttpRule) error {
	if rule == nil || rule.GetPattern() == nil {
		return fmt.Errorf("rest: AddRule %s: rule has no pattern", fullMethod)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	info := t.methods[fullMethod]
	if info == nil {
		return fmt.Errorf("rest: AddRule: method %s is not registered", fullMethod)
	}
	rs, err := buildRoutes(info, rule, false)
	if err != nil {
		return fmt.Errorf("rest: AddRule %s: %w", fullMethod, err)
	}
	t.addRoutes(rs)
	return nil
}

// addRoutes must be called with t.mu held.
func (t *Transcoder) addRoutes(rs []*route) {
	for _, rt := range rs {
		rt.id = t.nextID
		t.nextID++
		t.routes[rt.httpMethod] = append(t.routes[rt.httpMethod], rt)
		if rt.tmpl.verb != "" {
			t.verbs[rt.tmpl.verb]++
		}
	}
}

func buildRoutes(info *methodInfo, rule *annotations.HttpRule, nested bool) ([]*route, error) {
	var method, path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, path = http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		method, path = http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		method, path = http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		method, path = http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		method, path = http.MethodPatch, p.Patch
	case *annotations.HttpRule_Custom:
		method, path = strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
	default:
		return nil, errors.New("rule has no pattern")
	}
	if method == "" {
		return nil, errors.New("custom rule has no kind")
	}
	tmpl, err := parseTemplate(path)
	if err != nil {
		return nil, err
	}
	rt := &route{httpMethod: method, tmpl: tmpl, m: info}
	for _, v := range tmpl.vars {
		fds, err := resolveFieldPath(info.input, v.fieldPath)
		if err != nil {
			return nil, fmt.Errorf("path %s: %w", path, err)
		}
		if fds[len(fds)-1].IsList() {
			return nil, fmt.Errorf("path %s: variable %s is a repeated field", path, strings.Join(v.fieldPath, "."))
		}
		rt.varFields = append(rt.varFields, fds)
	}
	switch b := rule.GetBody(); b {
	case "":
	case "*":
		rt.bodyAll = true
	default:
		// http.proto: the body field must be a top-level field.
		if rt.bodyField = info.input.Fields().ByName(protoreflect.Name(b)); rt.bodyField == nil {
			return nil, fmt.Errorf("body field %q not in %s", b, info.input.FullName())
		}
	}
	if rb := rule.GetResponseBody(); rb != "" {
		if rt.respField = info.output.Fields().ByName(protoreflect.Name(rb)); rt.respField == nil {
			return nil, fmt.Errorf("response_body field %q not in %s", rb, info.output.FullName())
		}
	}
	routes := []*route{rt}
	for _, ab := range rule.GetAdditionalBindings() {
		if nested {
			return nil, errors.New("additional_bindings must not nest")
		}
		rs, err := buildRoutes(info, ab, true)
		if err != nil {
			return nil, err
		}
		routes = append(routes, rs...)
	}
	return routes, nil
}

// lookup finds the best route for method and escaped path, and the values
// of its variables.
func (t *Transcoder) lookup(method, escapedPath string) (*route, []string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	segs, verb, ok := splitPath(escapedPath, func(v string) bool { return t.verbs[v] > 0 })
	if !ok {
		return nil, nil
	}
	var best *route
	var bestVals []string
	for _, list := range [][]*route{t.routes[method], t.routes["*"]} {
		for _, rt := range list {
			if rt.tmpl.verb != verb {
				continue
			}
			vals, ok := rt.tmpl.match(segs)
			if !ok {
				continue
			}
			if best == nil || preferred(rt, best) {
				best, bestVals = rt, vals
			}
		}
	}
	return best, bestVals
}

// preferred reports whether a beats b: the more specific template, then an
// explicit HTTP method over custom "*", then the earlier registration.
func preferred(a, b *route) bool {
	if better, decided := a.tmpl.moreSpecific(b.tmpl); decided {
		return better
	}
	if (a.httpMethod == "*") != (b.httpMethod == "*") {
		return b.httpMethod == "*"
	}
	return a.id < b.id
}

// Match reports whether a request has a route (so a server can fall through
// to other handlers). A known path with the wrong HTTP method has none.
func (t *Transcoder) Match(r *http.Request) bool {
	rt, _ := t.lookup(r.Method, r.URL.EscapedPath())
	return rt != nil
}

type restKey struct{}

// FromREST reports whether ctx is a call that arrived over REST (some
// validation messages differ, e.g. field mask names).
func FromREST(ctx context.Context) bool {
	v, _ := ctx.Value(restKey{}).(bool)
	return v
}

// ServeHTTP transcodes one request. A request with no route gets Google's
// 404 JSON; so does a known path with the wrong HTTP method: Google's front
// end routes on method and path together and answers 404 there too, and a
// 405 has no canonical status to put in the error body that clients parse.
func (t *Transcoder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	params, qerr := parseQuery(r.URL.RawQuery)
	out, oerr := outputOptionsOf(params)
	rt, vals := t.lookup(r.Method, r.URL.EscapedPath())
	if rt == nil {
		writeStatus(w, out, status.Newf(codes.NotFound, "The requested URL %s was not found on this server.", r.URL.EscapedPath()))
		return
	}
	if qerr != nil {
		writeStatus(w, out, toStatus(qerr))
		return
	}
	if oerr != nil {
		writeStatus(w, out, toStatus(oerr))
		return
	}
	var body []byte
	if rt.bodyAll || rt.bodyField != nil {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, t.opts.MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeStatus(w, out, status.Newf(codes.InvalidArgument, "Request payload size exceeds the limit: %d bytes.", mbe.Limit))
				return
			}
			writeStatus(w, out, status.Newf(codes.InvalidArgument, "Cannot read the request body: %v", err))
			return
		}
	}
	ctx, stream := newCallContext(r, rt.m.fullMethod)
	if hook := t.bodyHook(rt.m.fullMethod); hook != nil && len(bytes.TrimSpace(body)) > 0 {
		var err error
		if ctx, body, err = hook(ctx, body); err != nil {
			writeStatus(w, out, toStatus(err))
			return
		}
	}
	dec := func(in any) error {
		m, ok := in.(proto.Message)
		if !ok {
			return status.Errorf(codes.Internal, "request type %T is not a proto message", in)
		}
		return rt.bind(m.ProtoReflect(), body, params, vals)
	}
	resp, err := rt.m.handler(rt.m.srv, ctx, dec, t.opts.Interceptor)
	stream.copyTo(w.Header())
	if err != nil {
		writeStatus(w, out, toStatus(err))
		return
	}
	pm, ok := resp.(proto.Message)
	if !ok || pm == nil || reflect.ValueOf(pm).IsNil() {
		writeStatus(w, out, status.New(codes.Internal, "Internal error encountered."))
		return
	}
	b, err := rt.marshal(pm, out)
	if err != nil {
		writeStatus(w, out, status.Newf(codes.Internal, "Internal error encountered: cannot encode the response: %v", protoErrorText(err)))
		return
	}
	writeJSON(w, out, http.StatusOK, b)
}

// bind fills the request message: body first, then query parameters, then
// path variables, so that the path (which names the resource the route
// matched) wins over anything the body or query say about the same field.
func (rt *route) bind(m protoreflect.Message, body []byte, params []queryParam, vals []string) error {
	if rt.bodyAll || rt.bodyField != nil {
		if err := decodeBody(m, rt.bodyField, body); err != nil {
			return err
		}
	}
	// Parameters are grouped by the field they resolve to, not by their
	// spelling: "updateMask=a&update_mask=b" are two values of one field.
	type binding struct {
		fds    []protoreflect.FieldDescriptor
		values []string
	}
	var order []*binding
	byField := map[string]*binding{}
	for _, q := range params {
		if systemParam(q.key) {
			continue
		}
		fds, err := rt.resolveQuery(m.Descriptor(), q.key)
		if err != nil {
			return err
		}
		p := protoPath(fds)
		if b := byField[p]; b != nil {
			b.values = append(b.values, q.values...)
			continue
		}
		b := &binding{fds: fds, values: append([]string(nil), q.values...)}
		byField[p] = b
		order = append(order, b)
	}
	for _, b := range order {
		if err := setFromStrings(m, b.fds, b.values); err != nil {
			return err
		}
	}
	for i, fds := range rt.varFields {
		if err := setFromStrings(m, fds, vals[i:i+1]); err != nil {
			return err
		}
	}
	return nil
}

// resolveQuery resolves a query parameter's dotted name to the field it binds.
func (rt *route) resolveQuery(md protoreflect.MessageDescriptor, key string) ([]protoreflect.FieldDescriptor, error) {
	prefix := fmt.Sprintf("Invalid JSON payload received. Unknown name %s: Cannot bind query parameter. ", jsonString(key))
	fds, err := resolveFieldPath(md, strings.Split(key, "."))
	if err != nil {
		var fe *fieldPathError
		if errors.As(err, &fe) && !fe.notFound {
			return nil, newFieldError(key, prefix+fmt.Sprintf("'%s' %s. Parameters can only be bound to primitive types or repeated primitive types, through singular message fields.", fe.at, fe.why))
		}
		return nil, newFieldError(key, prefix+fmt.Sprintf("Field '%s' could not be found in request message.", key))
	}
	// Google's transcoding maps every field not bound by the path or the
	// body to the query; a field inside the body is not a query field.
	if rt.bodyAll || (rt.bodyField != nil && fds[0] == rt.bodyField) {
		return nil, newFieldError(key, prefix+fmt.Sprintf("Field '%s' is bound to the request body.", key))
	}
	return fds, nil
}

// marshal encodes the response, or its response_body field.
func (rt *route) marshal(resp proto.Message, out outputOptions) ([]byte, error) {
	mo := protojson.MarshalOptions{UseEnumNumbers: out.enumInt}
	fd := rt.respField
	if fd == nil {
		return mo.Marshal(resp)
	}
	m := resp.ProtoReflect()
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		return mo.Marshal(m.Get(fd).Message().Interface())
	}
	// Other kinds have no top-level JSON form in protojson: encode a
	// message holding only that field and take the field's value out.
	tmp := m.New()
	switch {
	case m.Has(fd):
		tmp.Set(fd, m.Get(fd))
	case fd.IsList():
		return []byte("[]"), nil
	case fd.IsMap():
		return []byte("{}"), nil
	default:
		mo.EmitUnpopulated = true // a scalar: its default value
	}
	b, err := mo.Marshal(tmp.Interface())
	if err != nil {
		return nil, err
	}
	return extractField(b, fd.JSONName())
}

// newCallContext builds the context a gRPC server would give the handler:
// the HTTP headers as incoming metadata (lower-cased keys, so the same
// interceptor authenticates both transports), the peer, a transport stream
// (so grpc.Method and grpc.SetHeader work), and the FromREST marker.
func newCallContext(r *http.Request, fullMethod string) (context.Context, *transportStream) {
	md := IncomingMetadata(r)
	if r.Host != "" {
		md[":authority"] = []string{r.Host}
	}
	ctx := metadata.NewIncomingContext(r.Context(), md)
	ctx = context.WithValue(ctx, restKey{}, true)
	p := &peer.Peer{Addr: remoteAddr(r.RemoteAddr)}
	if r.TLS != nil {
		p.AuthInfo = credentials.TLSInfo{State: *r.TLS, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	}
	ctx = peer.NewContext(ctx, p)
	stream := &transportStream{method: fullMethod}
	return grpc.NewContextWithServerTransportStream(ctx, stream), stream
}

// IncomingMetadata is r's headers as a gRPC call's incoming metadata
// (lower-cased keys, hop-by-hop headers left out). Without an
// Authorization header, the access_token (or oauth_token) system parameter
// stands for one, as on Google's APIs: "OAuth 2.0 token for the current
// user".
func IncomingMetadata(r *http.Request) metadata.MD {
	md := metadata.MD{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if hopByHop[lk] {
			continue
		}
		md[lk] = append(md[lk], vs...)
	}
	if len(md["authorization"]) == 0 {
		q := r.URL.Query()
		for _, k := range []string{"access_token", "oauth_token"} {
			if v := q.Get(k); v != "" {
				md["authorization"] = []string{"Bearer " + v}
				break
			}
		}
	}
	return md
}

// hopByHop headers belong to one HTTP connection, never to a gRPC call.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"transfer-encoding": true, "upgrade": true, "content-length": true,
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

func remoteAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return stringAddr(s)
}

// transportStream records the metadata a handler sets with grpc.SetHeader,
// grpc.SendHeader or grpc.SetTrailer; REST has only response headers, so
// both end up there.
type transportStream struct {
	method string
	mu     sync.Mutex
	md     metadata.MD
}

func (s *transportStream) Method() string { return s.method }

func (s *transportStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.md = metadata.Join(s.md, md)
	return nil
}

func (s *transportStream) SendHeader(md metadata.MD) error { return s.SetHeader(md) }
func (s *transportStream) SetTrailer(md metadata.MD) error { return s.SetHeader(md) }

// copyTo adds the recorded metadata to h, leaving out what would corrupt
// the HTTP response: gRPC's own and pseudo headers, binary values, framing
// headers, and values HTTP cannot carry.
func (s *transportStream) copyTo(h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, vs := range s.md {
		if strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") || strings.HasSuffix(k, "-bin") ||
			k == "content-type" || k == "content-length" || hopByHop[k] || !validHeaderName(k) {
			continue
		}
		for _, v := range vs {
			if validHeaderValue(v) {
				h.Add(k, v)
			}
		}
	}
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

type queryParam struct {
	key    string
	values []string
}

// parseQuery splits a raw query into key/value pairs in order. It is not
// url.ParseQuery because that rejects a raw ";" (as in an unencoded
// "$alt=json;enum-encoding=int"), which Google accepts.
func parseQuery(raw string) ([]queryParam, error) {
	var out []queryParam
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, newFieldError("", fmt.Sprintf("Invalid query string: cannot decode %q: %v", k, err))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, newFieldError(key, fmt.Sprintf("Invalid query string: cannot decode the value of %q: %v", key, err))
		}
		if key == "" {
			continue
		}
		out = append(out, queryParam{key: key, values: []string{val}})
	}
	return out, nil
}

// systemParams are Google's system parameters
// (cloud.google.com/apis/docs/system-parameters): they configure the call,
// never bind to a request field. Most also take a "$" prefix.
var systemParams = map[string]bool{
	"alt": true, "callback": true, "fields": true, "key": true, "prettyPrint": true,
	"quotaUser": true, "userIp": true, "access_token": true, "oauth_token": true,
	"upload_protocol": true, "uploadType": true, ".xgafv": true,
}

func systemParam(k string) bool {
	return systemParams[strings.TrimPrefix(k, "$")]
}

// outputOptions are the response encoding choices a request makes.
type outputOptions struct {
	pretty  bool // prettyPrint, true unless prettyPrint=false as at Google
	enumInt bool // "$alt=json;enum-encoding=int": enums as numbers
}

// outputOptionsOf reads prettyPrint and alt. Only JSON is served; a gapic
// REST client's "json;enum-encoding=int" asks for enums as numbers, which
// Google honours so that old clients survive new enum values, and so do we.
func outputOptionsOf(ps []queryParam) (outputOptions, error) {
	out := outputOptions{pretty: true}
	var err error
	for _, p := range ps {
		switch strings.TrimPrefix(p.key, "$") {
		case "prettyPrint":
			v := strings.ToLower(p.values[len(p.values)-1])
			out.pretty = v != "false" && v != "0"
		case "alt":
			for _, v := range p.values {
				parts := strings.Split(v, ";")
				if !strings.EqualFold(strings.TrimSpace(parts[0]), "json") {
					err = newFieldError(p.key, fmt.Sprintf("Invalid value for the %s parameter: %s. Only \"json\" is supported.", p.key, jsonString(v)))
				}
				for _, opt := range parts[1:] {
					if strings.EqualFold(strings.TrimSpace(opt), "enum-encoding=int") {
						out.enumInt = true
					}
				}
			}
		}
	}
	return out, err
}

// outputFor is outputOptionsOf for WriteError, which must write something
// whatever the query says.
func outputFor(r *http.Request) outputOptions {
	if r == nil || r.URL == nil {
		return outputOptions{pretty: true}
	}
	ps, _ := parseQuery(r.URL.RawQuery)
	out, _ := outputOptionsOf(ps)
	return out
}
