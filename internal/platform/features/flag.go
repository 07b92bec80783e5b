package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
)

// Kind is the type of a flag's values.
type Kind string

// The kinds of flags.
const (
	KindBoolean Kind = "boolean"
	KindInteger Kind = "integer"
	KindString  Kind = "string"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindBoolean || k == KindInteger || k == KindString }

// Flag is one flag's definition. Values are bool, int64 or string, as Kind
// says (Normalize).
type Flag struct {
	Name        string `dynamodbav:"name" json:"name"`
	Kind        Kind   `dynamodbav:"kind" json:"kind"`
	Description string `dynamodbav:"description,omitempty" json:"description,omitempty"`
	// Default is the value when nothing else applies.
	Default any `dynamodbav:"default" json:"default"`
	// TierDefaults are the values of the tenants of a tier.
	TierDefaults map[catalog.Tier]any `dynamodbav:"tierDefaults,omitempty" json:"tierDefaults,omitempty"`
	// Rollout, when set, gives Rollout.Value to Percent percent of the
	// tenants, chosen by a hash of the flag's name and the tenant's id:
	// the same tenants, always, and a tenant in at 10 % stays in at 20 %.
	Rollout *Rollout `dynamodbav:"rollout,omitempty" json:"rollout,omitempty"`
	// Version counts the definition's writes (0: built in, never stored).
	Version   int64     `dynamodbav:"version" json:"version"`
	UpdatedAt time.Time `dynamodbav:"updatedAt,omitempty" json:"updatedAt,omitzero"`
	UpdatedBy string    `dynamodbav:"updatedBy,omitempty" json:"updatedBy,omitempty"`
}

// Rollout is a percentage rollout of a value.
type Rollout struct {
	Percent int `dynamodbav:"percent" json:"percent"`
	Value   any `dynamodbav:"value" json:"value"`
}

// Limits of definitions.
const (
	// NamePattern is the shape of a flag name.
	NamePattern = `^[a-z][a-z0-9-]{0,62}$`
	// MaxStringValueLen bounds a string flag's values, in characters.
	MaxStringValueLen = 256
	// MaxDescriptionLen bounds a description, in characters.
	MaxDescriptionLen = 500
	// MaxOverrides bounds the overrides on one tenant record.
	MaxOverrides = 50
)

var nameRE = regexp.MustCompile(NamePattern)

// ValidName reports whether name is a flag name.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// ErrInvalid wraps every invalid definition, name or value (HTTP 400).
var ErrInvalid = errors.New("invalid flag")

// Normalize returns v as a value of kind: a bool, an int64 (from any
// integral JSON or DynamoDB number) or a string; an error wrapping
// ErrInvalid when v is not one.
func Normalize(kind Kind, v any) (any, error) {
	switch kind {
	case KindBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case KindInteger:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case int32:
			return int64(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), nil
			}
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
	case KindString:
		if s, ok := v.(string); ok {
			if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxStringValueLen {
				return nil, fmt.Errorf("%w: a string value has at most %d characters", ErrInvalid, MaxStringValueLen)
			}
			return s, nil
		}
	default:
		return nil, fmt.Errorf("%w: kind must be boolean, integer or string", ErrInvalid)
	}
	return nil, fmt.Errorf("%w: %v is not a%s %s value", ErrInvalid, v, map[Kind]string{KindInteger: "n"}[kind], kind)
}

// Validate checks f and returns it with its values normalised.
func (f Flag) Validate() (Flag, error) {
	if !ValidName(f.Name) {
		return f, fmt.Errorf("%w: name must match %s", ErrInvalid, NamePattern)
	}
	if !f.Kind.Valid() {
		return f, fmt.Errorf("%w: kind must be boolean, integer or string", ErrInvalid)
	}
	if utf8.RuneCountInString(f.Description) > MaxDescriptionLen {
		return f, fmt.Errorf("%w: description has at most %d characters", ErrInvalid, MaxDescriptionLen)
	}
	var err error
	if f.Default, err = Normalize(f.Kind, f.Default); err != nil {
		return f, fmt.Errorf("default: %w", err)
	}
	if len(f.TierDefaults) > 0 {
		tiers := make(map[catalog.Tier]any, len(f.TierDefaults))
		for t, v := range f.TierDefaults {
			if !t.Valid() {
				return f, fmt.Errorf("%w: tierDefaults: %q is not a tier", ErrInvalid, t)
			}
			if tiers[t], err = Normalize(f.Kind, v); err != nil {
				return f, fmt.Errorf("tierDefaults.%s: %w", t, err)
			}
		}
		f.TierDefaults = tiers
	} else {
		f.TierDefaults = nil
	}
	if f.Rollout != nil {
		r := *f.Rollout
		if r.Percent < 0 || r.Percent > 100 {
			return f, fmt.Errorf("%w: rollout.percent must be 0 to 100", ErrInvalid)
		}
		if r.Value, err = Normalize(f.Kind, r.Value); err != nil {
			return f, fmt.Errorf("rollout.value: %w", err)
		}
		f.Rollout = &r
	}
	return f, nil
}

// normalized is f with its stored values (DynamoDB numbers come back as
// float64) as Kind says; values that are not are dropped, so a bad stored
// definition falls back to what remains.
func (f Flag) normalized() Flag {
	if v, err := Normalize(f.Kind, f.Default); err == nil {
		f.Default = v
	}
	if len(f.TierDefaults) > 0 {
		tiers := make(map[catalog.Tier]any, len(f.TierDefaults))
		for t, v := range f.TierDefaults {
			if n, err := Normalize(f.Kind, v); err == nil {
				tiers[t] = n
			}
		}
		f.TierDefaults = tiers
	}
	if f.Rollout != nil {
		r := *f.Rollout
		if v, err := Normalize(f.Kind, r.Value); err == nil {
			r.Value = v
			f.Rollout = &r
		} else {
			f.Rollout = nil
		}
	}
	return f
}

// Refusals of the entitlements, which the handlers answer with.
var (
	// ErrNotEntitled: the tenant's plan does not include the feature (HTTP
	// 403 not_entitled).
	ErrNotEntitled = errors.New("the tenant's plan does not include this feature")
	// ErrLimitReached: the tenant has as many of a resource as its plan
	// allows (HTTP 409 limit_reached).
	ErrLimitReached = errors.New("the tenant has reached its plan's limit")
	// ErrUnknownFlag: no flag of that name is defined (HTTP 400
	// unknown_flag).
	ErrUnknownFlag = errors.New("no such flag")
)
