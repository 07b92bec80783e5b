package store_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tessera-saas/tessera/internal/platform/store"
)

// The store's client signs every tenant's calls with that tenant's
// credentials. The SDK's SigV4 signer keeps one derived signing key per
// service and Region, so one signer shared by all tenants derives the key
// again (four HMACs and their garbage) whenever the tenant changes from one
// call to the next, which on a process serving many tenants is nearly every
// call. These tests need no emulator: they sign requests and send none.

const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func tenantCreds(n int) []aws.Credentials {
	out := make([]aws.Credentials, n)
	for i := range out {
		out[i] = aws.Credentials{AccessKeyID: fmt.Sprintf("ASIATENANT%06d", i), SecretAccessKey: fmt.Sprintf("secret-%d", i),
			SessionToken: strings.Repeat("t", 356), CanExpire: true, Expires: time.Now().Add(time.Hour)}
	}
	return out
}

func signedRequest(t testing.TB, s interface {
	SignHTTP(context.Context, aws.Credentials, *http.Request, string, string, string, time.Time, ...func(*v4.SignerOptions)) error
}, c aws.Credentials, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://dynamodb.eu-west-1.amazonaws.com/", nil)
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	if err := s.SignHTTP(context.Background(), c, r, emptyHash, "dynamodb", "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestClientDoesNotRederiveSigningKeysAcrossTenants(t *testing.T) {
	signer := store.NewClient(aws.Config{Region: "eu-west-1"}).Options().HTTPSignerV4
	creds := tenantCreds(2)
	at := time.Now()
	for _, c := range creds { // each tenant derives its key once
		signedRequest(t, signer, c, at)
	}
	one := testing.AllocsPerRun(100, func() { signedRequest(t, signer, creds[0], at); signedRequest(t, signer, creds[0], at) })
	two := testing.AllocsPerRun(100, func() { signedRequest(t, signer, creds[0], at); signedRequest(t, signer, creds[1], at) })
	if two > one {
		t.Fatalf("signing for two tenants in turn allocates %.0f objects a pair of calls, for one tenant %.0f: "+
			"the signing key is derived again whenever the tenant changes", two, one)
	}
}

func TestClientSignaturesAreTheSDKSigners(t *testing.T) {
	signer := store.NewClient(aws.Config{Region: "eu-west-1"}).Options().HTTPSignerV4
	at := time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC)
	for _, c := range append(tenantCreds(3), aws.Credentials{AccessKeyID: "AKIDPLAIN", SecretAccessKey: "plain"}) {
		for _, when := range []time.Time{at, at.Add(2 * time.Second)} { // across midnight: a new day's key
			got := signedRequest(t, signer, c, when).Header.Get("Authorization")
			want := signedRequest(t, v4.NewSigner(), c, when).Header.Get("Authorization")
			if got != want || got == "" {
				t.Fatalf("%s at %s: Authorization %q, the SDK's signer gives %q", c.AccessKeyID, when, got, want)
			}
		}
	}
}

// BenchmarkClientSigner signs as the store's client does, for one tenant and
// for 100 tenants in turn: the two cost the same.
func BenchmarkClientSigner(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			signer := store.NewClient(aws.Config{Region: "eu-west-1"}).Options().HTTPSignerV4
			creds := tenantCreds(n)
			at := time.Now()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				signedRequest(b, signer, creds[i%n], at)
			}
		})
	}
}
