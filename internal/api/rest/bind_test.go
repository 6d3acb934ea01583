package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// No Google API has a request with every kind of field, so this test
// compiles one: oidcron.resttest.v1.KindsService/Echo returns its request, and the
// tests compare what came back with what the query, path and body said.

var (
	kindsOnce sync.Once
	kindsMD   protoreflect.MessageDescriptor
)

func kindsDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	kindsOnce.Do(func() {
		f := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
			fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum()}
			if typeName != "" {
				fd.TypeName = proto.String(typeName)
			}
			return fd
		}
		opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		msgT := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		enumT := descriptorpb.FieldDescriptorProto_TYPE_ENUM
		methodOpts := &descriptorpb.MethodOptions{}
		proto.SetExtension(methodOpts, annotations.E_Http, &annotations.HttpRule{
			Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=things/*}"},
			AdditionalBindings: []*annotations.HttpRule{
				{Pattern: &annotations.HttpRule_Post{Post: "/v1/{name=things/*}:echo"}, Body: "*"},
				{Pattern: &annotations.HttpRule_Post{Post: "/v1/{name=things/*}/inner"}, Body: "inner"},
				{Pattern: &annotations.HttpRule_Post{Post: "/v1/{name=things/*}/tags"}, Body: "tags"},
				{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=things/*}/tags"}, ResponseBody: "tags"},
				{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=things/*}/inner"}, ResponseBody: "inner"},
				{Pattern: &annotations.HttpRule_Get{Get: "/v1/counts/{i64}/{inner.name}"}},
				{Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "HEAD", Path: "/v1/{name=things/*}"}}},
			},
		})
		fdp := &descriptorpb.FileDescriptorProto{
			Name:       proto.String("oidcron/resttest/v1/kinds.proto"),
			Package:    proto.String("oidcron.resttest.v1"),
			Syntax:     proto.String("proto3"),
			Dependency: []string{"google/protobuf/duration.proto", "google/protobuf/timestamp.proto", "google/protobuf/field_mask.proto", "google/protobuf/wrappers.proto"},
			EnumType: []*descriptorpb.EnumDescriptorProto{{
				Name: proto.String("Color"),
				Value: []*descriptorpb.EnumValueDescriptorProto{
					{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
					{Name: proto.String("RED"), Number: proto.Int32(1)},
					{Name: proto.String("GREEN"), Number: proto.Int32(2)},
				},
			}},
			MessageType: []*descriptorpb.DescriptorProto{
				{Name: proto.String("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
					f("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
					f("count", 2, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, ""),
				}},
				{
					Name: proto.String("Kinds"),
					Field: []*descriptorpb.FieldDescriptorProto{
						f("name", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
						f("i32", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, opt, ""),
						f("i64", 3, descriptorpb.FieldDescriptorProto_TYPE_INT64, opt, ""),
						f("u32", 4, descriptorpb.FieldDescriptorProto_TYPE_UINT32, opt, ""),
						f("u64", 5, descriptorpb.FieldDescriptorProto_TYPE_UINT64, opt, ""),
						f("flag", 6, descriptorpb.FieldDescriptorProto_TYPE_BOOL, opt, ""),
						f("d", 7, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, opt, ""),
						f("f", 8, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, opt, ""),
						f("raw", 9, descriptorpb.FieldDescriptorProto_TYPE_BYTES, opt, ""),
						f("color", 10, enumT, opt, ".oidcron.resttest.v1.Color"),
						f("colors", 11, enumT, rep, ".oidcron.resttest.v1.Color"),
						f("tags", 12, descriptorpb.FieldDescriptorProto_TYPE_STRING, rep, ""),
						f("ttl", 13, msgT, opt, ".google.protobuf.Duration"),
						f("at", 14, msgT, opt, ".google.protobuf.Timestamp"),
						f("update_mask", 15, msgT, opt, ".google.protobuf.FieldMask"),
						f("max_count", 16, msgT, opt, ".google.protobuf.Int64Value"),
						f("enabled", 17, msgT, opt, ".google.protobuf.BoolValue"),
						f("inner", 18, msgT, opt, ".oidcron.resttest.v1.Inner"),
						f("labels", 19, msgT, rep, ".oidcron.resttest.v1.Kinds.LabelsEntry"),
						f("items", 20, msgT, rep, ".oidcron.resttest.v1.Inner"),
						f("s64", 21, descriptorpb.FieldDescriptorProto_TYPE_SINT64, opt, ""),
					},
					NestedType: []*descriptorpb.DescriptorProto{{
						Name: proto.String("LabelsEntry"),
						Field: []*descriptorpb.FieldDescriptorProto{
							f("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
							f("value", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
						},
						Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
					}},
				},
			},
			Service: []*descriptorpb.ServiceDescriptorProto{{
				Name: proto.String("KindsService"),
				Method: []*descriptorpb.MethodDescriptorProto{{
					Name: proto.String("Echo"), InputType: proto.String(".oidcron.resttest.v1.Kinds"),
					OutputType: proto.String(".oidcron.resttest.v1.Kinds"), Options: methodOpts,
				}},
			}},
		}
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			panic(err)
		}
		if err := protoregistry.GlobalFiles.RegisterFile(fd); err != nil {
			panic(err)
		}
		kindsMD = fd.Messages().ByName("Kinds")
	})
	return kindsMD
}

type kindsServer interface {
	Echo(context.Context, proto.Message) (proto.Message, error)
}

type echo struct{}

func (echo) Echo(ctx context.Context, m proto.Message) (proto.Message, error) {
	// Set response metadata the way a gRPC handler does.
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-echo", "yes", "grpc-internal", "no")); err != nil {
		return nil, err
	}
	return m, nil
}

// kindsServiceDesc is what protoc-gen-go-grpc would generate, over dynamicpb.
func kindsServiceDesc(md protoreflect.MessageDescriptor) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "oidcron.resttest.v1.KindsService",
		HandlerType: (*kindsServer)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Echo",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := dynamicpb.NewMessage(md)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, req any) (any, error) {
					return srv.(kindsServer).Echo(ctx, req.(proto.Message))
				}
				if interceptor == nil {
					return h(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/oidcron.resttest.v1.KindsService/Echo"}, h)
			},
		}},
	}
}

func startKinds(t *testing.T) (*httptest.Server, protoreflect.MessageDescriptor) {
	t.Helper()
	md := kindsDescriptor(t)
	tr := New(Options{MaxBodyBytes: 1 << 10})
	must(t, tr.RegisterService(kindsServiceDesc(md), echo{}))
	ts := httptest.NewServer(tr)
	t.Cleanup(ts.Close)
	return ts, md
}

func do(t *testing.T, method, url, body string) (int, string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	must(t, err)
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return res.StatusCode, string(b), res.Header
}

// sameJSON compares a response with the protojson form of want (a JSON
// text in any field spelling protojson accepts).
func sameJSON(t *testing.T, md protoreflect.MessageDescriptor, got, want string) {
	t.Helper()
	g, w := dynamicpb.NewMessage(md), dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(got), g); err != nil {
		t.Fatalf("response %s: %v", got, err)
	}
	must(t, protojson.Unmarshal([]byte(want), w))
	if !proto.Equal(g, w) {
		t.Fatalf("got %s\nwant %s", protojson.Format(g), protojson.Format(w))
	}
}

func TestQueryBindsEveryKind(t *testing.T) {
	ts, md := startKinds(t)
	q := "i32=-5&i64=9007199254740993&u32=7&u64=18446744073709551615&flag=true&d=2.5&f=NaN&raw=aGk_&s64=-3" +
		"&color=GREEN&colors=RED&colors=2&tags=a&tags=b%20c" +
		"&ttl=3.5s&at=2026-11-23T10:00:00.5Z&updateMask=httpTarget.uri,schedule&update_mask=retry_config" +
		"&maxCount=12&enabled=false&inner.name=n&inner.count=4" +
		"&alt=json&%24.xgafv=2&key=k&quotaUser=q&fields=name&callback=cb&access_token=x&upload_protocol=raw&uploadType=media"
	code, body, h := do(t, "GET", ts.URL+"/v1/things/t1?"+q, "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameJSON(t, md, body, `{"name":"things/t1","i32":-5,"i64":"9007199254740993","u32":7,"u64":"18446744073709551615",
		"flag":true,"d":2.5,"f":"NaN","raw":"aGk/","s64":"-3","color":"GREEN","colors":["RED","GREEN"],"tags":["a","b c"],
		"ttl":"3.500s","at":"2026-11-23T10:00:00.500Z","updateMask":"httpTarget.uri,schedule,retryConfig",
		"maxCount":"12","enabled":false,"inner":{"name":"n","count":"4"}}`)
	if h.Get("X-Echo") != "yes" || h.Get("Grpc-Internal") != "" {
		t.Fatalf("response metadata headers %v", h)
	}

	// The path wins over the query for the field it binds.
	code, body, _ = do(t, "GET", ts.URL+"/v1/things/t1?name=other", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameJSON(t, md, body, `{"name":"things/t1"}`)

	// Path variables of other kinds and nested paths.
	code, body, _ = do(t, "GET", ts.URL+"/v1/counts/42/a%2Fb", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameJSON(t, md, body, `{"i64":"42","inner":{"name":"a/b"}}`)
	code, body, _ = do(t, "GET", ts.URL+"/v1/counts/x/y", "")
	if code != 400 || !strings.Contains(body, `Invalid value at 'i64' (TYPE_INT64), \"x\"`) {
		t.Fatalf("%d %s", code, body)
	}

	// A custom HEAD binding routes (and, being HEAD, has no body).
	if code, _, _ := do(t, "HEAD", ts.URL+"/v1/things/t1", ""); code != 200 {
		t.Fatalf("HEAD: %d", code)
	}
}

func TestQueryErrors(t *testing.T) {
	ts, _ := startKinds(t)
	for q, want := range map[string]string{
		"i32=x":           `Invalid value at 'i32' (TYPE_INT32), "x"`,
		"i32=3000000000":  `Invalid value at 'i32' (TYPE_INT32), "3000000000"`,
		"flag=maybe":      `Invalid value at 'flag' (TYPE_BOOL), "maybe"`,
		"color=BLUE":      `Invalid value at 'color' (type.googleapis.com/oidcron.resttest.v1.Color), "BLUE"`,
		"ttl=soon":        `Invalid value at 'ttl' (type.googleapis.com/google.protobuf.Duration), "soon"`,
		"raw=%21%21":      `Invalid value at 'raw' (TYPE_BYTES), "!!"`,
		"i32=1&i32=2":     `Invalid value at 'i32' (TYPE_INT32): the parameter is repeated but the field is not`,
		"updateMask=a..b": `Invalid value at 'update_mask' (type.googleapis.com/google.protobuf.FieldMask), "a..b"`,
		"nope=1":          `Invalid JSON payload received. Unknown name "nope": Cannot bind query parameter. Field 'nope' could not be found in request message.`,
		"inner.nope=1":    `Invalid JSON payload received. Unknown name "inner.nope": Cannot bind query parameter. Field 'inner.nope' could not be found in request message.`,
		"i32.x=1":         `Invalid JSON payload received. Unknown name "i32.x": Cannot bind query parameter. Field 'i32.x' could not be found in request message.`,
		"inner=1":         `Invalid JSON payload received. Unknown name "inner": Cannot bind query parameter. 'inner' is a message type. Parameters can only be bound to primitive types or repeated primitive types, through singular message fields.`,
		"items.name=1":    `Invalid JSON payload received. Unknown name "items.name": Cannot bind query parameter. 'items' is a repeated field. Parameters can only be bound to primitive types or repeated primitive types, through singular message fields.`,
		"labels=1":        `Invalid JSON payload received. Unknown name "labels": Cannot bind query parameter. 'labels' is a map field. Parameters can only be bound to primitive types or repeated primitive types, through singular message fields.`,
		"alt=proto":       `Invalid value for the alt parameter: "proto". Only "json" is supported.`,
		"tags=%ff":        `Invalid value at 'tags' (TYPE_STRING), "\ufffd"`,
	} {
		code, body, _ := do(t, "GET", ts.URL+"/v1/things/t1?"+q, "")
		ge := decodeError(t, body)
		if code != 400 || ge.Error.Code != 400 || ge.Error.Status != "INVALID_ARGUMENT" || ge.Error.Message != want {
			t.Errorf("%s: %d %q, want %q", q, code, ge.Error.Message, want)
		}
	}
	// A query parameter cannot bind a field the body carries.
	code, body, _ := do(t, "POST", ts.URL+"/v1/things/t1:echo?i32=1", `{}`)
	if ge := decodeError(t, body); code != 400 || ge.Error.Message != `Invalid JSON payload received. Unknown name "i32": Cannot bind query parameter. Field 'i32' is bound to the request body.` {
		t.Errorf("%d %q", code, ge.Error.Message)
	}
	code, body, _ = do(t, "POST", ts.URL+"/v1/things/t1/inner?inner.count=1", `{}`)
	if ge := decodeError(t, body); code != 400 || !strings.Contains(ge.Error.Message, "bound to the request body") {
		t.Errorf("%d %q", code, ge.Error.Message)
	}
}

type errJSON struct {
	Error struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

func decodeError(t *testing.T, body string) errJSON {
	t.Helper()
	var e errJSON
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

func TestBodyBindings(t *testing.T) {
	ts, md := startKinds(t)
	// body "*": proto names and JSON names, enums by name and number; the
	// path overrides the body's name.
	code, body, _ := do(t, "POST", ts.URL+"/v1/things/t1:echo", `{"name":"ignored","max_count":"5","colors":[1,"GREEN"],"updateMask":"a.bC","labels":{"k":"v"},"items":[{"name":"x"}]}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameJSON(t, md, body, `{"name":"things/t1","maxCount":"5","colors":["RED","GREEN"],"updateMask":"a.bC","labels":{"k":"v"},"items":[{"name":"x"}]}`)
	// Empty bodies are empty messages.
	for _, b := range []string{"", "{}", "  \n"} {
		code, body, _ = do(t, "POST", ts.URL+"/v1/things/t1:echo", b)
		if code != 200 {
			t.Fatalf("body %q: %d %s", b, code, body)
		}
		sameJSON(t, md, body, `{"name":"things/t1"}`)
	}
	// body "inner": the body is the field; query parameters bind the rest.
	code, body, _ = do(t, "POST", ts.URL+"/v1/things/t1/inner?i32=3", `{"name":"in","count":2}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameJSON(t, md, body, `{"name":"things/t1","i32":3,"inner":{"name":"in","count":"2"}}`)
	// body "tags": a repeated scalar body.
	code, body, _ = do(t, "POST", ts.URL+"/v1/things/t1/tags", `["a","b"]`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	sameJSON(t, md, body, `{"name":"things/t1","tags":["a","b"]}`)

	for _, tc := range []struct{ path, body, want string }{
		{"/v1/things/t1/inner", `{"name":"in","x":1}`, `Invalid JSON payload received. Unknown name "x" at 'inner': Cannot find field.`},
		{"/v1/things/t1:echo", `{"items":[{"name":"a"},{"zz":1}]}`, `Invalid JSON payload received. Unknown name "zz" at 'items[1]': Cannot find field.`},
		{"/v1/things/t1:echo", `{"i32":"abc"}`, `Invalid value at 'i32' (TYPE_INT32), "abc"`},
		{"/v1/things/t1:echo", `{"inner":{"count":true}}`, `Invalid value at 'inner.count' (TYPE_INT64), true`},
		{"/v1/things/t1:echo", `{"inner":"x"}`, `Invalid value at 'inner' (type.googleapis.com/oidcron.resttest.v1.Inner), "x"`},
		{"/v1/things/t1:echo", `{"tags":"x"}`, `Invalid value at 'tags' (TYPE_STRING), "x"`},
		{"/v1/things/t1:echo", `{"items":[{"name":1}]}`, `Invalid value at 'items[0].name' (TYPE_STRING), 1`},
		{"/v1/things/t1:echo", `{"labels":{"k":1}}`, `Invalid value at 'labels["k"]' (TYPE_STRING), 1`},
		{"/v1/things/t1:echo", `{"ttl":"1 day"}`, `Invalid value at 'ttl' (type.googleapis.com/google.protobuf.Duration), "1 day"`},
		{"/v1/things/t1/tags", `[1]`, `Invalid value at 'tags[0]' (TYPE_STRING), 1`},
		{"/v1/things/t1:echo", `{"i32":1}x`, `Invalid JSON payload received. Unexpected token at offset 10: invalid character 'x' after top-level value.`},
		{"/v1/things/t1:echo", `[]`, ``},
		{"/v1/things/t1:echo", `{"name":"a","name":"b"}`, ``},
	} {
		code, body, _ := do(t, "POST", ts.URL+tc.path, tc.body)
		ge := decodeError(t, body)
		if code != 400 || ge.Error.Status != "INVALID_ARGUMENT" || tc.want != "" && ge.Error.Message != tc.want ||
			!strings.HasPrefix(ge.Error.Message, "Invalid") && !strings.HasPrefix(ge.Error.Message, "Request") {
			t.Errorf("%s %s: %d %q, want %q", tc.path, tc.body, code, ge.Error.Message, tc.want)
		}
	}
}

// TestBodyLimit runs without a network: a server that stops reading a body
// lingers 500ms on the connection before closing it (net/http's RST
// avoidance), which would make the test wait.
func TestBodyLimit(t *testing.T) {
	tr := New(Options{MaxBodyBytes: 1 << 10})
	must(t, tr.RegisterService(kindsServiceDesc(kindsDescriptor(t)), echo{}))
	rec := httptest.NewRecorder()
	tr.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/things/t1:echo", strings.NewReader(strings.Repeat(" ", 2<<10))))
	if ge := decodeError(t, rec.Body.String()); rec.Code != 400 || ge.Error.Message != "Request payload size exceeds the limit: 1024 bytes." {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	tr.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/things/t1:echo", strings.NewReader(`{"tags":["`+strings.Repeat("x", 900)+`"]}`)))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestResponseBody(t *testing.T) {
	ts, _ := startKinds(t)
	code, body, _ := do(t, "GET", ts.URL+"/v1/things/t1/tags?tags=a&tags=b&prettyPrint=false", "")
	if code != 200 || body != `["a","b"]` {
		t.Fatalf("%d %q", code, body)
	}
	code, body, _ = do(t, "GET", ts.URL+"/v1/things/t1/tags?prettyPrint=false", "")
	if code != 200 || body != `[]` {
		t.Fatalf("%d %q", code, body)
	}
	code, body, _ = do(t, "GET", ts.URL+"/v1/things/t1/inner?inner.count=3&prettyPrint=false", "")
	if code != 200 || body != `{"count":"3"}` {
		t.Fatalf("%d %q", code, body)
	}
	code, body, _ = do(t, "GET", ts.URL+"/v1/things/t1/inner?prettyPrint=false", "")
	if code != 200 || body != `{}` {
		t.Fatalf("%d %q", code, body)
	}
}

func TestWriteErrorMapping(t *testing.T) {
	type want struct {
		http int
		name string
	}
	for c, w := range map[codes.Code]want{
		codes.InvalidArgument: {400, "INVALID_ARGUMENT"}, codes.FailedPrecondition: {400, "FAILED_PRECONDITION"},
		codes.OutOfRange: {400, "OUT_OF_RANGE"}, codes.Unauthenticated: {401, "UNAUTHENTICATED"},
		codes.PermissionDenied: {403, "PERMISSION_DENIED"}, codes.NotFound: {404, "NOT_FOUND"},
		codes.AlreadyExists: {409, "ALREADY_EXISTS"}, codes.Aborted: {409, "ABORTED"},
		codes.ResourceExhausted: {429, "RESOURCE_EXHAUSTED"}, codes.Canceled: {499, "CANCELLED"},
		codes.Unimplemented: {501, "UNIMPLEMENTED"}, codes.Unavailable: {503, "UNAVAILABLE"},
		codes.DeadlineExceeded: {504, "DEADLINE_EXCEEDED"}, codes.Internal: {500, "INTERNAL"},
		codes.Unknown: {500, "UNKNOWN"}, codes.DataLoss: {500, "DATA_LOSS"},
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("GET", "/x?prettyPrint=false", nil), status.Error(c, "m <&>"))
		body := rec.Body.String()
		if want := `{"error":{"code":` + strconv.Itoa(w.http) + `,"message":"m <&>","status":"` + w.name + `"}}`; rec.Code != w.http || body != want {
			t.Errorf("%v: %d %s, want %s", c, rec.Code, body, want)
		}
	}
	for err, want := range map[error]string{
		status.Error(codes.AlreadyExists, "x"):      "ALREADY_EXISTS",
		status.Error(codes.FailedPrecondition, "x"): "FAILED_PRECONDITION",
		errors.New("disk on fire"):                  "INTERNAL",
		context.Canceled:                            "CANCELLED",
		context.DeadlineExceeded:                    "DEADLINE_EXCEEDED",
	} {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest("GET", "/x", nil), err)
		ge := decodeError(t, rec.Body.String())
		if ge.Error.Status != want {
			t.Errorf("%v: status %q, want %q", err, ge.Error.Status, want)
		}
		if want == "INTERNAL" && strings.Contains(rec.Body.String(), "fire") {
			t.Errorf("internal error leaked its text: %s", rec.Body)
		}
	}

	// Details are protojson Anys with @type.
	st, err := status.New(codes.AlreadyExists, "Job exists.").WithDetails(&errdetails.ResourceInfo{ResourceType: "job", ResourceName: "j"})
	must(t, err)
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/x", nil), st.Err())
	ge := decodeError(t, rec.Body.String())
	if len(ge.Error.Details) != 1 {
		t.Fatalf("details: %s", rec.Body)
	}
	var d map[string]string
	must(t, json.Unmarshal(ge.Error.Details[0], &d))
	if d["@type"] != "type.googleapis.com/google.rpc.ResourceInfo" || d["resourceName"] != "j" {
		t.Fatalf("detail %v", d)
	}
}

// FuzzServeHTTP feeds arbitrary paths, queries and bodies through the whole
// transcoder: whatever arrives, the answer is JSON with a status, never a
// panic.
func FuzzServeHTTP(f *testing.F) {
	f.Add("/v1/things/t1:echo", "i32=1&tags=a", `{"inner":{"name":"x"},"labels":{"a":"b"}}`)
	f.Add("/v1/things/t1/inner", "updateMask=a.b", `{"count":"3","zz":[1]}`)
	f.Add("/v1/counts/1/a%2Fb", "colors=1&colors=RED&ttl=1s", ``)
	f.Add("/v1/things/t1/tags", "$alt=json;enum-encoding=int", `["a",1,null]`)
	f.Fuzz(func(t *testing.T, path, query, body string) {
		tr := New(Options{})
		must(t, tr.RegisterService(kindsServiceDesc(kindsDescriptor(t)), echo{}))
		for _, method := range []string{"GET", "POST"} {
			req := httptest.NewRequest("GET", "/", strings.NewReader(body))
			req.Method = method
			req.URL.RawPath = ""
			req.URL.Path = path
			req.URL.RawQuery = query
			rec := httptest.NewRecorder()
			tr.ServeHTTP(rec, req)
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s?%s: invalid JSON %q", method, path, query, rec.Body)
			}
			if rec.Code != 200 && decodeError(t, rec.Body.String()).Error.Status == "" {
				t.Fatalf("%s %s?%s: %d without a status: %s", method, path, query, rec.Code, rec.Body)
			}
		}
	})
}
