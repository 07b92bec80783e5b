package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/wire"
)

// runAsLambda makes the test binary run main() instead of the tests: the
// function as Lambda would start it, against the runtime API the test plays.
const runAsLambda = "TESSERA_TEST_RUN_API_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsLambda) == "1" {
		main()
		return
	}
	os.Exit(testenv.Main(m))
}

// runtimeAPI plays Lambda's Runtime API (and the Extensions API that
// aws-lambda-go registers with for SIGTERM): it hands out the given
// invocations, one per "next", collects the responses, then makes "next"
// wait, as Lambda does while an environment is idle.
type runtimeAPI struct {
	srv     *httptest.Server
	pending chan []byte
	idle    chan struct{} // closed at the end: releases the waiting calls

	mu        sync.Mutex
	responses []string
	extension bool // the SIGTERM extension registered
}

func newRuntimeAPI(t *testing.T, invocations [][]byte) *runtimeAPI {
	r := &runtimeAPI{pending: make(chan []byte, len(invocations)), idle: make(chan struct{})}
	for _, inv := range invocations {
		r.pending <- inv
	}
	n := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, req *http.Request) {
		select {
		case inv := <-r.pending:
			r.mu.Lock()
			n++
			id := fmt.Sprintf("inv-%d", n)
			r.mu.Unlock()
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(30*time.Second).UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:tessera-test-api")
			_, _ = w.Write(inv)
		case <-r.idle:
			http.Error(w, "shutting down", http.StatusGone)
		}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, req *http.Request) {
		var resp struct {
			StatusCode int `json:"statusCode"`
		}
		_ = json.NewDecoder(req.Body).Decode(&resp)
		r.mu.Lock()
		r.responses = append(r.responses, fmt.Sprintf("%s:%d", req.PathValue("id"), resp.StatusCode))
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.responses = append(r.responses, req.PathValue("id")+":error")
		r.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.extension = true
		r.mu.Unlock()
		w.Header().Set("Lambda-Extension-Identifier", "ext-1")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(w http.ResponseWriter, req *http.Request) {
		<-r.idle // an extension with no events never gets one
		http.Error(w, "shutting down", http.StatusGone)
	})
	r.srv = httptest.NewServer(mux)
	t.Cleanup(func() { close(r.idle); r.srv.Close() })
	return r
}

func (r *runtimeAPI) state() ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.responses...), r.extension
}

// TestSIGTERMFlushesUsage starts the api function as Lambda does (its real
// main, against a stand-in for the Runtime API), serves it a few requests of
// a tenant, and shuts it down as Lambda does (SIGTERM, SIGKILL ~500 ms
// later). The flush interval has not passed, so nothing is in the ledger
// before the SIGTERM; after it, the requests are.
func TestSIGTERMFlushesUsage(t *testing.T) {
	e := testenv.Setup(t)
	tn := fixture.NewTenant(t, e, "sigterm")
	const requests = 3
	var invocations [][]byte
	for range requests {
		ev := apievent.Request(t, tn.Record.TenantID, "GET", "/v1/products", nil, "")
		ev.Headers["Authorization"] = tn.Token
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		invocations = append(invocations, b)
	}
	rt := newRuntimeAPI(t, invocations)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runAsLambda+"=1",
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(rt.srv.URL, "http://"),
		"AWS_LAMBDA_LOG_STREAM_NAME=2026/01/01/[$LATEST]sigterm-"+tn.Record.TenantID,
		"AWS_LAMBDA_FUNCTION_NAME=tessera-test-api")
	for k, v := range e.Settings.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out testenv.LogBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resps, ext := rt.state()
		if len(resps) == requests && ext {
			for _, r := range resps {
				if !strings.HasSuffix(r, ":200") {
					t.Fatalf("responses %v, want %d × 200; function output:\n%s", resps, requests, out.String())
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: responses %v, SIGTERM extension registered %v; function output:\n%s", resps, ext, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	ledger := wire.NewUsageSource(e.Config, e.Settings).Ledger
	from := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	total := func() int64 {
		tot, err := ledger.Totals(context.Background(), tn.Record.TenantID, from, from.Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return tot.Requests
	}
	if n := total(); n != 0 {
		t.Fatalf("the ledger shows %d requests before the SIGTERM; the test needs the flush interval (%v) not to have passed", n, wire.LedgerFlushEvery)
	}

	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Lambda sends SIGKILL ~500 ms after SIGTERM; a loaded test machine gets
	// a few seconds here, and the figure is logged.
	for n := total(); n != requests; n = total() {
		if time.Since(sent) > 5*time.Second {
			t.Fatalf("the ledger shows %d of %d requests %v after SIGTERM; function output:\n%s", n, requests, time.Since(sent).Round(time.Millisecond), out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the ledger shows the %d requests %v after SIGTERM", requests, time.Since(sent).Round(time.Millisecond))
	if strings.Contains(out.String(), "flush at shutdown failed") {
		t.Fatalf("the function reported a failed flush:\n%s", out.String())
	}
}
