package awsconfig

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// keepBody is a transport that keeps the request's body and answers with
// one response made beforehand, so that it allocates nothing itself.
type keepBody struct {
	body io.Reader
	resp *http.Response
}

func (t *keepBody) Do(r *http.Request) (*http.Response, error) {
	t.body = r.Body
	return t.resp, nil
}

// ownBodies copies the body of every DynamoDB and KMS request: the copy is
// one buffer of the body's size, and the request handed on shares the
// SDK's headers (the transport reads them, it does not change them) instead
// of copying them.
func TestOwnBodiesCopiesOnlyTheBody(t *testing.T) {
	stub := &keepBody{resp: &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}}
	c := ownBodies{stub}
	payload := strings.Repeat("x", 2000) // a write with two sealed fields
	newReq := func() *http.Request {
		req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", io.NopCloser(strings.NewReader(payload)))
		req.ContentLength = int64(len(payload))
		for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Target", "Content-Type",
			"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "User-Agent", "Accept-Encoding"} {
			req.Header.Set(h, "value")
		}
		return req
	}
	req := newReq()
	if _, err := c.Do(req); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(stub.body)
	if string(got) != payload {
		t.Fatalf("the transport read %d bytes, want the %d of the body", len(got), len(payload))
	}
	reqs := make([]*http.Request, 0, 200)
	for range 200 {
		reqs = append(reqs, newReq())
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Do(reqs[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	// The copy, its reader and closer, GetBody, the request: no growing
	// buffer, no copy of the headers.
	if allocs > 5 {
		t.Fatalf("handing on a request with a %d-byte body costs %.0f allocations, want at most 5", len(payload), allocs)
	}
}
