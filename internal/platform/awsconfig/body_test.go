package awsconfig

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
)

// safeBody stands for the SDK's request body: after the response arrives the
// SDK closes it, and a read after that fails.
type safeBody struct {
	r      io.Reader
	closed atomic.Bool
}

func (b *safeBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errors.New("read on a closed request body")
	}
	return b.r.Read(p)
}

func (b *safeBody) Close() error { b.closed.Store(true); return nil }

// transport stands for net/http's transport, which may still be reading the
// request body (its final read for extra bytes) when the response is back:
// it keeps the body and reads it after Do has returned. A stub, because the
// race it models happens about once in a few hundred requests.
type transport struct{ body io.Reader }

func (t *transport) Do(r *http.Request) (*http.Response, error) {
	t.body = r.Body
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
}

// The transport must read its own copy of the request body: the SDK closes
// the body as soon as Do returns, and net/http then closed the connection
// under the response ("use of closed network connection"), which the SDK
// retries even where the request was not idempotent.
func TestTransportReadsItsOwnCopyOfTheRequestBody(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CA_BUNDLE", "") // a CA bundle needs the SDK's own client type
	stub := &transport{}
	cfg, err := Load(context.Background(), config.WithHTTPClient(stub))
	if err != nil {
		t.Fatal(err)
	}
	const payload = `{"TableName":"t","Key":{"pk":{"S":"x"}}}`
	body := &safeBody{r: strings.NewReader(payload)}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", body)
	req.ContentLength = int64(len(payload))
	if _, err := cfg.HTTPClient.Do(req); err != nil {
		t.Fatal(err)
	}
	body.Close() // as the SDK does once Do returns
	got, err := io.ReadAll(stub.body)
	if err != nil || string(got) != payload {
		t.Fatalf("the transport read %q, %v after the SDK closed the body; want %q", got, err, payload)
	}
}
