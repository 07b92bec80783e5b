package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// SchemaVersion is the version of Message; a worker refuses others.
const SchemaVersion = 1

// Names of the message attributes that mirror the body, so that the tenant
// and export of a message can be read (and filtered on) without parsing it.
const (
	AttrTenantID = "tenantId"
	AttrExportID = "exportId"
)

// MaxAttempts is how many deliveries of one message the worker tries before
// it marks the export FAILED; the queue's redrive policy (maxReceiveCount
// MaxAttempts+1) sends what is left to the dead-letter queue.
const MaxAttempts = 5

// ErrMalformed means a message is not a valid export request. It never
// becomes valid: the worker drops it, loudly.
var ErrMalformed = errors.New("export: malformed message")

// Message asks the worker of a tier's queue to run one export. It carries
// the tenant: the worker restores the tenant context from it, never from
// ambient state.
type Message struct {
	SchemaVersion int          `json:"schemaVersion"`
	TenantID      string       `json:"tenantId"`
	ExportID      string       `json:"exportId"`
	Tier          catalog.Tier `json:"tier"`
	// RequestID is the API request that started the export (for logs).
	RequestID string `json:"requestId,omitempty"`
}

// Body is the message's JSON body.
func (m Message) Body() string {
	b, err := json.Marshal(m)
	if err != nil { // plain strings only: cannot fail
		panic(err)
	}
	return string(b)
}

// Attributes are the message attributes (all of type String).
func (m Message) Attributes() map[string]string {
	return map[string]string{AttrTenantID: m.TenantID, AttrExportID: m.ExportID}
}

// Parse reads a message from its body and string attributes. The body is
// strict (known fields only, one object); attributes, when present, must
// agree with it.
func Parse(body string, attrs map[string]string) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Message{}, fmt.Errorf("%w: body holds more than one JSON value", ErrMalformed)
	}
	switch {
	case m.SchemaVersion != SchemaVersion:
		return Message{}, fmt.Errorf("%w: schemaVersion %d, want %d", ErrMalformed, m.SchemaVersion, SchemaVersion)
	case !tenant.ValidID(m.TenantID):
		return Message{}, fmt.Errorf("%w: tenantId %q is not a tenant id", ErrMalformed, m.TenantID)
	case !entityid.Valid(m.ExportID):
		return Message{}, fmt.Errorf("%w: exportId %q is not an id", ErrMalformed, m.ExportID)
	case !m.Tier.Valid():
		return Message{}, fmt.Errorf("%w: tier %q is not a tier", ErrMalformed, m.Tier)
	}
	for name, want := range m.Attributes() {
		if got, ok := attrs[name]; ok && got != want {
			return Message{}, fmt.Errorf("%w: attribute %s disagrees with the body", ErrMalformed, name)
		}
	}
	return m, nil
}
