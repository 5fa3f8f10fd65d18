package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ecache/ecache/internal/api"
	"github.com/ecache/ecache/internal/service"
)

// fuzzStrings are the strings the API fuzz draws from: names of resources that exist, ones that do not,
// and values of every awkward kind.
var fuzzStrings = []string{
	"", "c1", "g1", "pg", "sg", "snap", "default", "default.redis7", "redis", "valkey", "memcached", "7.0", "1.6.6",
	"cache.t3.micro", "us-east-1a", "us-east-1z", "0001", "sun:05:00-sun:06:00", "05:00-06:00", "bad window", "-", "--",
	"ü-région", "<x>&amp;\"'", "a b", "123456789012", strings.Repeat("x", 300), "a" + strings.Repeat("b", 5000),
	"arn:aws:elasticache:us-east-1:123456789012:cluster:c1", "arn:aws:s3:::bucket/key.rdb", "arn:aws:sns:us-east-1:123456789012:t",
	"subnet-0a1b2c3d", "sg-0123", "yes", "no", "true", "%zz", "\x00", "9999999999999999999999",
}

var fuzzInts = []int32{-1, 0, 1, 2, 5, 20, 100, 500, 1 << 30, -1 << 31}

// fuzzValue fills v with values drawn by r; depth bounds nested structures.
func fuzzValue(r *rand.Rand, v reflect.Value, depth int) {
	if m := v.Addr().MethodByName("Values"); v.Kind() == reflect.String && m.IsValid() && r.IntN(4) > 0 {
		if vals := m.Call(nil)[0]; vals.Len() > 0 {
			v.Set(vals.Index(r.IntN(vals.Len())))
			return
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fuzzStrings[r.IntN(len(fuzzStrings))])
	case reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(int64(fuzzInts[r.IntN(len(fuzzInts))]))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Float64:
		v.SetFloat(r.Float64() * 100)
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 4 {
			return
		}
		if v.Type().Elem() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(aws.Time(time.Now().Add(time.Duration(r.IntN(48)-24) * time.Hour))))
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fuzzValue(r, v.Elem(), depth+1)
	case reflect.Slice:
		if depth > 4 {
			return
		}
		n := r.IntN(4)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fuzzValue(r, v.Index(i), depth+1)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() && r.IntN(2) == 0 {
				fuzzValue(r, v.Field(i), depth+1)
			}
		}
	}
}

// Every action of the API, called with inputs drawn at random from names that exist, names that do not and
// awkward values, against a running server: every answer is an AWS answer, never a server fault (only the
// operations not built yet say 501 NotImplemented).
func TestAPIFuzzNoServerFaults(t *testing.T) {
	p := newInProcess(t, service.DefaultQuotas(), 29100, 29199)
	ctx := context.Background()
	// Some resources to find.
	if _, err := p.client.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("pg"),
		CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("pg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.client.CreateCacheCluster(ctx, redisReq(func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("c1") })); err != nil {
		t.Fatal(err)
	}
	ops := make([]string, 0, len(api.Operations))
	for name := range api.Operations {
		ops = append(ops, name)
	}
	slices.Sort(ops)
	const perAction = 25
	r := rand.New(rand.NewPCG(20261206, 1))
	client := reflect.ValueOf(p.client)
	calls, answered := 0, map[int]int{}
	for _, op := range ops {
		m := client.MethodByName(op)
		if !m.IsValid() {
			t.Errorf("the SDK has no %s", op)
			continue
		}
		for range perAction {
			in := reflect.New(m.Type().In(1).Elem())
			fuzzValue(r, in.Elem(), 0)
			out := m.Call([]reflect.Value{reflect.ValueOf(ctx), in})
			calls++
			err, _ := out[1].Interface().(error)
			status := 200
			var re *smithyhttp.ResponseError
			if errors.As(err, &re) {
				status = re.HTTPStatusCode()
			} else if err != nil {
				t.Errorf("%s: no HTTP answer: %v", op, err)
				continue
			}
			answered[status/100*100]++
			if status >= 500 && !(status == 501 && strings.Contains(err.Error(), "NotImplemented")) {
				t.Errorf("%s answered %d: %v\ninput: %s", op, status, err, fmt.Sprintf("%+v", in.Elem().Interface()))
			}
		}
	}
	t.Logf("%d calls over %d actions: %v by status class", calls, len(ops), answered)
}
