package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/tessera-saas/tessera/internal/platform/memo"
)

// Defaults for tenant sessions. A session assumed by a Lambda function's own
// role session is a chained role session, which AWS caps at one hour.
const (
	DefaultSessionDuration = time.Hour
	// DefaultExpiryWindow refreshes credentials this long before they expire,
	// so no request starts with credentials about to lapse.
	DefaultExpiryWindow = 5 * time.Minute
	// DefaultMaxTenants bounds how many tenants' credentials one process keeps.
	DefaultMaxTenants = 2000
	// providerTTL is how long a tenant's provider stays in the cache after it
	// was made, used or not (then the next request makes a new one); the
	// provider refreshes its own credentials before expiry meanwhile.
	providerTTL = 2 * time.Hour
)

// Credentials hands out tenant-scoped credentials: sessions of
// TenantDataAccessRole tagged tenantId=<id>. Each tenant gets one SDK
// credentials cache (aws.CredentialsCache), which refreshes shortly before
// expiry and makes concurrent callers share one AssumeRole call. The set of
// tenants is bounded (least recently used are dropped).
type Credentials struct {
	sts       stscreds.AssumeRoleAPIClient
	roleARN   string
	duration  time.Duration
	window    time.Duration
	providers *memo.Cache[string, *aws.CredentialsCache]
	calls     atomic.Int64
}

// CredentialsOption configures Credentials.
type CredentialsOption func(*Credentials)

// WithSessionDuration sets the assumed session's lifetime (15 min to 1 h).
func WithSessionDuration(d time.Duration) CredentialsOption {
	return func(c *Credentials) { c.duration = d }
}

// WithExpiryWindow sets how early credentials are refreshed.
func WithExpiryWindow(d time.Duration) CredentialsOption {
	return func(c *Credentials) { c.window = d }
}

// WithMaxTenants bounds the number of tenants cached.
func WithMaxTenants(n int) CredentialsOption {
	return func(c *Credentials) { c.providers = memo.New[string, *aws.CredentialsCache](n) }
}

// NewCredentials returns tenant credentials obtained with client on roleARN.
func NewCredentials(client stscreds.AssumeRoleAPIClient, roleARN string, opts ...CredentialsOption) *Credentials {
	c := &Credentials{roleARN: roleARN, duration: DefaultSessionDuration, window: DefaultExpiryWindow,
		providers: memo.New[string, *aws.CredentialsCache](DefaultMaxTenants)}
	for _, o := range opts {
		o(c)
	}
	c.sts = countingSTS{next: client, calls: &c.calls}
	return c
}

// ForTenant returns the credentials provider of tenantID's sessions. It makes
// no AWS call itself; the provider assumes the role on first use.
func (c *Credentials) ForTenant(ctx context.Context, tenantID string) (aws.CredentialsProvider, error) {
	if p, ok := c.providers.Lookup(tenantID); ok { // a hit builds no loader (a closure, which escapes)
		return p, nil
	}
	return c.providers.Get(ctx, tenantID, func(context.Context) (*aws.CredentialsCache, time.Time, error) {
		p := stscreds.NewAssumeRoleProvider(c.sts, c.roleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = sessionName(tenantID)
			o.Duration = c.duration
			o.Tags = []ststypes.Tag{{Key: aws.String(TenantTag), Value: aws.String(tenantID)}}
		})
		cache := aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = c.window
			o.ExpiryWindowJitterFrac = 0.2
		})
		return cache, time.Now().Add(providerTTL), nil
	})
}

// AssumeRoleCalls is the number of STS AssumeRole calls made so far.
func (c *Credentials) AssumeRoleCalls() int64 { return c.calls.Load() }

type countingSTS struct {
	next  stscreds.AssumeRoleAPIClient
	calls *atomic.Int64
}

func (s countingSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	s.calls.Add(1)
	out, err := s.next.AssumeRole(ctx, in, optFns...)
	if err != nil {
		return nil, fmt.Errorf("assume %s for %s: %w", aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName), err)
	}
	return out, nil
}

// sessionPrefix and maxSessionName: a session is named "tenant-<id>" (as
// CloudTrail shows it), and STS takes at most 64 characters of [\w+=,.@-].
const (
	sessionPrefix  = "tenant-"
	maxSessionName = 64
	// sessionHashLen hex digits of SHA-256(id) end a shortened name.
	sessionHashLen = 16
)

// sessionName is the RoleSessionName of tenantID's sessions: "tenant-<id>"
// when that fits STS's 64 characters; otherwise the id's first characters,
// a dot and 64 bits of a hash of the whole id, so the name still says whose
// session it is and stays distinct per tenant. (Tenant ids, tenant.ValidID,
// hold up to 63 characters and never a dot, so a shortened name never
// equals a whole one. Characters STS refuses, which valid ids do not have,
// become '-' and also get the hash.)
func sessionName(tenantID string) string {
	valid := true
	clean := strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
			'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return r
		}
		valid = false
		return '-'
	}, tenantID)
	if name := sessionPrefix + clean; valid && len(name) <= maxSessionName {
		return name
	}
	sum := sha256.Sum256([]byte(tenantID))
	keep := min(len(clean), maxSessionName-len(sessionPrefix)-1-sessionHashLen)
	return sessionPrefix + clean[:keep] + "." + hex.EncodeToString(sum[:])[:sessionHashLen]
}
