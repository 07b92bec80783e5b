package billing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// Stripe reports meter events to Stripe (POST /v1/billing/meter_events),
// one call per event. Its API key is read on the first Report, not when it
// is built, and never logged.
type Stripe struct {
	key     func(ctx context.Context) (string, error)
	backend stripe.Backends
	once    sync.Mutex
	client  *stripe.Client
}

// StripeOptions configure NewStripe.
type StripeOptions struct {
	// APIBase is the API's base URL; empty is Stripe's own. Tests and
	// local runs point it at stripe-mock.
	APIBase string
	// HTTPClient carries the calls (nil: a client with a 30 s timeout).
	HTTPClient *http.Client
}

// NewStripe returns the Stripe reporter. key returns the secret API key; it
// is called once, at the first Report (a deployed function reads it from
// Secrets Manager there).
func NewStripe(key func(ctx context.Context) (string, error), o StripeOptions) *Stripe {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	cfg := &stripe.BackendConfig{HTTPClient: hc, MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if o.APIBase != "" {
		cfg.URL = stripe.String(o.APIBase)
	}
	return &Stripe{key: key, backend: *stripe.NewBackendsWithConfig(cfg)}
}

func (s *Stripe) open(ctx context.Context) (*stripe.Client, error) {
	s.once.Lock()
	defer s.once.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	k, err := s.key(ctx)
	if err != nil {
		return nil, fmt.Errorf("stripe api key: %w", err)
	}
	if k == "" {
		return nil, errors.New("stripe api key: empty")
	}
	s.client = stripe.NewClient(k, stripe.WithBackends(&s.backend))
	return s.client, nil
}

// Report sends each event; an event Stripe refuses is a Result with Err.
func (s *Stripe) Report(ctx context.Context, events []MeterEvent) ([]Result, error) {
	c, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(events))
	for i, ev := range events {
		out[i].Event = ev
		got, err := c.V1BillingMeterEvents.Create(ctx, &stripe.BillingMeterEventCreateParams{
			EventName:  stripe.String(ev.Meter),
			Identifier: stripe.String(ev.Identifier),
			Timestamp:  stripe.Int64(ev.Hour.Unix()),
			Payload: map[string]string{
				"stripe_customer_id": ev.Customer,
				"value":              strconv.FormatInt(ev.Value, 10),
			},
		})
		if err != nil {
			out[i].Err = fmt.Errorf("meter event %s of %s: %w", ev.Identifier, ev.TenantID, err)
			continue
		}
		out[i].ID, out[i].Created = got.Identifier, time.Unix(got.Created, 0).UTC()
	}
	return out, nil
}
