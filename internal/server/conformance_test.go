package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/smithy-go"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/awsquery"
	"github.com/ecache/ecache/internal/sdkhttp"
)

// allowAll accepts every request as the given region.
type allowAll struct{ region string }

func (a allowAll) Authenticate(*http.Request, []byte) (string, string, error) {
	return "AKIDTEST", a.region, nil
}

func newSDKClient(t *testing.T, url string) *elasticache.Client {
	t.Helper()
	return elasticache.New(elasticache.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  aws.AnonymousCredentials{},
		Retryer:      testRetryer(),
		HTTPClient:   sdkhttp.Client(),
	})
}

// testRetryer retries what the SDK's standard retryer retries, without waiting. Real clients keep the
// standard retryer: on loopback a fast response can race the Go transport's request writer, which then
// closes the connection ("use of closed network connection"), an error the SDK retries by design.
func testRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

// fixedTime is whole seconds: clients send timestamps with second precision.
var fixedTime = time.Date(2026, 6, 2, 10, 20, 30, 0, time.UTC)

// fill sets every field of v (a pointer to a generated api struct) to a value derived from its path,
// with valid enum values and two items per list.
func fill(v reflect.Value, path string, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(&fixedTime))
			return
		}
		if depth > 8 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), path, depth)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if skipFields[f.Name] {
				continue
			}
			enum := api.EnumValues[api.MemberEnums[t.Name()+"."+f.Name]]
			fillField(v.Field(i), path+"."+f.Name, enum, depth+1)
		}
	}
}

func fillField(v reflect.Value, path string, enum []string, depth int) {
	switch {
	case v.Kind() == reflect.Slice:
		if depth > 8 {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillScalar(v.Index(i), fmt.Sprintf("%s[%d]", path, i), enum, i, depth)
		}
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() != reflect.Struct:
		v.Set(reflect.New(v.Type().Elem()))
		fillScalar(v.Elem(), path, enum, 0, depth)
	default:
		fill(v, path, depth)
	}
}

func fillScalar(v reflect.Value, path string, enum []string, i, depth int) {
	switch v.Kind() {
	case reflect.String:
		if len(enum) > 0 {
			v.SetString(enum[(len(path)+i)%len(enum)])
		} else {
			v.SetString("v" + path)
		}
	case reflect.Int32:
		v.SetInt(int64(len(path)*7 + i))
	case reflect.Bool:
		v.SetBool(len(path)%2 == 0)
	case reflect.Float64:
		v.SetFloat(float64(len(path)) + 0.5)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(fixedTime))
			return
		}
		fill(v, path, depth)
	}
}

// skipFields are not members of the model: the SDK's response metadata, and the XML ecache keeps from an
// earlier render (awsquery.Rendered).
var skipFields = map[string]bool{"ResultMetadata": true, "Rendered": true}

// transfer copies src into dst by field name across the generated types and the SDK's types.
// Fields present on one side only are reported through missing.
func transfer(dst, src reflect.Value, path string, missing func(string)) {
	for src.Kind() == reflect.Pointer {
		if src.IsNil() {
			return
		}
		src = src.Elem()
	}
	if dst.Kind() == reflect.Pointer {
		nv := reflect.New(dst.Type().Elem())
		transfer(nv.Elem(), src, path, missing)
		dst.Set(nv)
		return
	}
	switch dst.Kind() {
	case reflect.Struct:
		if dst.Type() == reflect.TypeFor[time.Time]() {
			dst.Set(src)
			return
		}
		seen := map[string]bool{}
		for i := range dst.NumField() {
			f := dst.Type().Field(i)
			if !f.IsExported() || skipFields[f.Name] {
				continue
			}
			seen[f.Name] = true
			sf := src.FieldByName(f.Name)
			if !sf.IsValid() {
				missing(path + "." + f.Name + " (only in " + dst.Type().String() + ")")
				continue
			}
			transfer(dst.Field(i), sf, path+"."+f.Name, missing)
		}
		for i := range src.NumField() {
			f := src.Type().Field(i)
			if f.IsExported() && !skipFields[f.Name] && !seen[f.Name] {
				missing(path + "." + f.Name + " (only in " + src.Type().String() + ")")
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(dst.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			transfer(s.Index(i), src.Index(i), fmt.Sprintf("%s[%d]", path, i), missing)
		}
		dst.Set(s)
	default:
		dst.Set(src.Convert(dst.Type()))
	}
}

// conformanceServer answers each operation through api.Func with whatever respond returns.
type conformanceServer struct {
	mu      sync.Mutex
	respond func(op string, in any) (any, error)
}

func (c *conformanceServer) start(t *testing.T) *elasticache.Client {
	h := &Handler{
		Service: api.Func(func(ctx context.Context, op string, in any) (any, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.respond(op, in)
		}),
		Auth:   allowAll{region: "us-east-1"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return newSDKClient(t, srv.URL)
}

func operationNames() []string {
	names := make([]string, 0, len(api.Operations))
	for name := range api.Operations {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// invoke calls the SDK client method named op with input and returns its output and error.
func invoke(client *elasticache.Client, op string, input reflect.Value) (reflect.Value, error) {
	m := reflect.ValueOf(client).MethodByName(op)
	out := m.Call([]reflect.Value{reflect.ValueOf(context.Background()), input})
	err, _ := out[1].Interface().(error)
	return out[0], err
}

func TestConformanceEveryOperationRoundTrips(t *testing.T) {
	if got, want := len(api.Operations), 77; got != want {
		t.Fatalf("operations in dispatch table = %d, want %d", got, want)
	}
	cs := &conformanceServer{}
	client := cs.start(t)
	for _, name := range operationNames() {
		t.Run(name, func(t *testing.T) {
			op := api.Operations[name]
			m := reflect.ValueOf(client).MethodByName(name)
			if !m.IsValid() {
				t.Fatalf("SDK client has no method %s", name)
			}
			var missing []string
			note := func(s string) { missing = append(missing, s) }

			wantIn := op.NewInput()
			fill(reflect.ValueOf(wantIn).Elem(), name, 0)
			sdkIn := reflect.New(m.Type().In(1).Elem())
			transfer(sdkIn.Elem(), reflect.ValueOf(wantIn), "input", note)

			var wantOut awsquery.Marshaler
			if op.NewOutput != nil {
				wantOut = op.NewOutput()
				fill(reflect.ValueOf(wantOut).Elem(), name, 0)
			}
			var gotIn any
			cs.respond = func(got string, in any) (any, error) {
				if got != name {
					return nil, fmt.Errorf("dispatched to %s", got)
				}
				gotIn = in
				return wantOut, nil
			}
			sdkOut, err := invoke(client, name, sdkIn)
			if err != nil {
				t.Fatalf("call failed: %v", err)
			}
			if !reflect.DeepEqual(gotIn, wantIn) {
				t.Errorf("decoded input differs from what the SDK sent:\n got %+v\nwant %+v", gotIn, wantIn)
			}
			if wantOut != nil {
				gotOut := op.NewOutput()
				transfer(reflect.ValueOf(gotOut).Elem(), sdkOut, "output", note)
				if !reflect.DeepEqual(gotOut, wantOut) {
					t.Errorf("SDK decoded output differs from what was sent:\n got %s\nwant %s", dump(gotOut), dump(wantOut))
				}
			}
			if len(missing) > 0 {
				t.Errorf("members differ between spec and SDK:\n%s", strings.Join(missing, "\n"))
			}
		})
	}
}

func dump(v any) string {
	var w awsquery.XMLWriter
	v.(awsquery.Marshaler).MarshalQueryXML(&w)
	return string(w.Bytes())
}

func TestConformanceEveryModelledErrorDecodes(t *testing.T) {
	cs := &conformanceServer{}
	client := cs.start(t)
	for _, name := range operationNames() {
		op := api.Operations[name]
		m := reflect.ValueOf(client).MethodByName(name)
		for _, shape := range op.Errors {
			t.Run(name+"/"+shape, func(t *testing.T) {
				f := api.Faults[shape]
				cs.respond = func(string, any) (any, error) {
					e := awsquery.NewError(f.Code, f.Status, "message for %s", shape)
					e.Sender = f.Sender
					return nil, e
				}
				in := reflect.New(m.Type().In(1).Elem())
				transfer(in.Elem(), reflect.ValueOf(filledInput(name)), "input", func(string) {})
				_, err := invoke(client, name, in)
				var apiErr smithy.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("error %v is not a smithy.APIError", err)
				}
				if got := reflect.TypeOf(apiErr).Elem().Name(); got != shape {
					t.Errorf("SDK error type = %s, want %s (code %s)", got, shape, apiErr.ErrorCode())
				}
				if got, want := apiErr.ErrorMessage(), "message for "+shape; got != want {
					t.Errorf("message = %q, want %q", got, want)
				}
				var re interface{ HTTPStatusCode() int }
				if errors.As(err, &re) && re.HTTPStatusCode() != f.Status {
					t.Errorf("HTTP status = %d, want %d", re.HTTPStatusCode(), f.Status)
				}
			})
		}
	}
}

func filledInput(name string) any {
	in := api.Operations[name].NewInput()
	fill(reflect.ValueOf(in).Elem(), name, 0)
	return in
}
