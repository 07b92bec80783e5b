package awsconfig

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tessera-saas/tessera/internal/platform/memo"
)

// Signers signs requests with the SDK's own SigV4 signer (v4.Signer), one
// per set of credentials. A v4.Signer caches the signing key it derives
// from the secret key (four HMACs), but only one per service and Region: a
// client that one signer serves for many tenants, each with credentials of
// its own, derives the key again whenever two calls in a row are for
// different tenants, nearly every call of a process serving many. Signers
// gives each access key its own v4.Signer, so a tenant's key is derived
// once a day (the key's scope is the date) however the calls interleave.
//
// Install it as a client's HTTPSignerV4 when the client is made (for
// example dynamodb.Options.HTTPSignerV4): the client builds its SigV4 auth
// scheme from that signer then, so setting it per call has no effect. It is
// safe for concurrent use.
type Signers struct {
	opts    []func(*v4.SignerOptions)
	signers *memo.Cache[string, *keyed]
	// last is the signer of the latest call: a process that serves one
	// tenant (or uses its own credentials) finds it without taking the
	// cache's lock.
	last atomic.Pointer[keyed]
}

type keyed struct {
	accessKeyID string
	signer      *v4.Signer
}

// MaxSigners bounds the signers one Signers keeps (the least recently used
// go first): above access.DefaultMaxTenants, the tenants whose credentials
// one process keeps.
const MaxSigners = 4096

// signerTTL is how long an access key's signer is kept after it was made,
// used or not, when the credentials do not expire sooner.
const signerTTL = 24 * time.Hour

// NewSigners returns Signers whose v4.Signers are made with opts (the
// client's logger and signing log mode).
func NewSigners(opts ...func(*v4.SignerOptions)) *Signers {
	return &Signers{opts: opts, signers: memo.New[string, *keyed](MaxSigners)}
}

// SignHTTP signs r with the signer of creds' access key (see v4.Signer.SignHTTP).
func (s *Signers) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	signingTime time.Time, optFns ...func(*v4.SignerOptions)) error {
	return s.For(creds).SignHTTP(ctx, creds, r, payloadHash, service, region, signingTime, optFns...)
}

// For returns the signer of creds' access key, making it on first use.
func (s *Signers) For(creds aws.Credentials) *v4.Signer {
	if k := s.last.Load(); k != nil && k.accessKeyID == creds.AccessKeyID {
		return k.signer
	}
	k, ok := s.signers.Lookup(creds.AccessKeyID)
	if !ok {
		k = &keyed{accessKeyID: creds.AccessKeyID, signer: v4.NewSigner(s.opts...)}
		expires := time.Now().Add(signerTTL)
		if creds.CanExpire && creds.Expires.Before(expires) {
			expires = creds.Expires
		}
		s.signers.Set(creds.AccessKeyID, k, expires)
	}
	s.last.Store(k)
	return k.signer
}

// Len is the number of signers kept.
func (s *Signers) Len() int { return s.signers.Len() }
