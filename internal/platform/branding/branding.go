package branding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // time.LoadLocation must not depend on the host's zoneinfo (Lambda's runtime has none)
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Limits of the settings.
const (
	// MaxDisplayNameLen bounds DisplayName, in characters.
	MaxDisplayNameLen = 100
	// MaxLogoURLLen bounds LogoURL, in bytes.
	MaxLogoURLLen = 2048
	// MaxConfigBytes bounds Config, encoded as compact JSON: the settings
	// are part of the tenant's catalog record (a DynamoDB item of at most
	// 400 KB, read on every request when not cached).
	MaxConfigBytes = 4096
	// MaxConfigDepth bounds how deeply Config's objects and arrays nest
	// (the top-level object is depth 1).
	MaxConfigDepth = 5
	// MaxConfigKeys bounds the number of object keys in Config, counted at
	// every depth.
	MaxConfigKeys = 64
	// MaxConfigKeyLen bounds one key of Config, in characters.
	MaxConfigKeyLen = 64
)

// ColorPattern is the shape of PrimaryColor: "#rrggbb".
const ColorPattern = `^#[0-9a-fA-F]{6}$`

var colorRE = regexp.MustCompile(ColorPattern)

// Settings are a tenant's settings. Version, UpdatedAt and UpdatedBy are
// set by the store on every write; a tenant that never wrote any has
// version 0 (Defaults).
type Settings struct {
	DisplayName  string         `dynamodbav:"displayName" json:"displayName"`
	LogoURL      string         `dynamodbav:"logoUrl,omitempty" json:"logoUrl,omitempty"`
	PrimaryColor string         `dynamodbav:"primaryColor,omitempty" json:"primaryColor,omitempty"`
	Locale       string         `dynamodbav:"locale" json:"locale"`
	TimeZone     string         `dynamodbav:"timeZone" json:"timeZone"`
	Config       map[string]any `dynamodbav:"config,omitempty" json:"config,omitempty"`
	Version      int64          `dynamodbav:"version" json:"version"`
	UpdatedAt    time.Time      `dynamodbav:"updatedAt,omitempty" json:"updatedAt,omitzero"`
	// UpdatedBy is the sub of the admin who wrote them last.
	UpdatedBy string `dynamodbav:"updatedBy,omitempty" json:"updatedBy,omitempty"`
}

// Default locale and time zone of a tenant without settings.
const (
	DefaultLocale   = "en-US"
	DefaultTimeZone = "UTC"
)

// Defaults are the settings of a tenant that has written none: its name
// as the display name, version 0.
func Defaults(tenantName string) Settings {
	return Settings{DisplayName: tenantName, Locale: DefaultLocale, TimeZone: DefaultTimeZone}
}

// ErrInvalid wraps every validation error (HTTP 400 validation_failed).
var ErrInvalid = errors.New("invalid settings")

// FieldError is one invalid field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists the invalid fields of a Settings. It wraps
// ErrInvalid.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + " " + f.Message
	}
	return ErrInvalid.Error() + ": " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Validate normalises s (trimmed strings, the canonical form of the
// locale) and checks every field; the error, a *ValidationError, names
// each invalid one.
func (s Settings) Validate() (Settings, error) {
	var errs []FieldError
	bad := func(field, msg string) { errs = append(errs, FieldError{Field: field, Message: msg}) }

	s.DisplayName = strings.TrimSpace(s.DisplayName)
	if s.DisplayName == "" || !utf8.ValidString(s.DisplayName) || utf8.RuneCountInString(s.DisplayName) > MaxDisplayNameLen {
		bad("displayName", fmt.Sprintf("is required, at most %d characters", MaxDisplayNameLen))
	}
	s.LogoURL = strings.TrimSpace(s.LogoURL)
	if s.LogoURL != "" {
		if msg := checkLogo(s.LogoURL); msg != "" {
			bad("logoUrl", msg)
		}
	}
	s.PrimaryColor = strings.TrimSpace(s.PrimaryColor)
	if s.PrimaryColor != "" {
		if !colorRE.MatchString(s.PrimaryColor) {
			bad("primaryColor", "must be #rrggbb (six hexadecimal digits)")
		} else {
			s.PrimaryColor = strings.ToLower(s.PrimaryColor)
		}
	}
	s.Locale = strings.TrimSpace(s.Locale)
	if s.Locale == "" {
		s.Locale = DefaultLocale
	}
	if tag, err := language.Parse(s.Locale); err != nil || len(s.Locale) > 35 {
		bad("locale", "must be a BCP 47 language tag such as en-US or de-CH")
	} else {
		s.Locale = tag.String()
	}
	s.TimeZone = strings.TrimSpace(s.TimeZone)
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	if msg := checkZone(s.TimeZone); msg != "" {
		bad("timeZone", msg)
	}
	if msg := CheckConfig(s.Config); msg != "" {
		bad("config", msg)
	}
	if len(errs) > 0 {
		return s, &ValidationError{Fields: errs}
	}
	return s, nil
}

// checkLogo: an absolute https URL with a host, no credentials.
func checkLogo(raw string) string {
	if len(raw) > MaxLogoURLLen {
		return fmt.Sprintf("must be at most %d bytes", MaxLogoURLLen)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return "must be an absolute https URL"
	case u.Scheme != "https":
		return "must use https"
	case u.User != nil:
		return "must not hold credentials"
	}
	return ""
}

// checkZone: an IANA time zone name (from the embedded database).
func checkZone(z string) string {
	// LoadLocation also accepts "Local" and paths; only names are zones.
	if z == "Local" || strings.HasPrefix(z, "/") || strings.Contains(z, "..") || len(z) > 64 {
		return "must be an IANA time zone such as Europe/Zurich or UTC"
	}
	if _, err := time.LoadLocation(z); err != nil {
		return "must be an IANA time zone such as Europe/Zurich or UTC"
	}
	return ""
}

// CheckConfig returns why cfg is not an acceptable config object, or "".
// nil (no config) is acceptable.
func CheckConfig(cfg map[string]any) string {
	if cfg == nil {
		return ""
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cfg); err != nil {
		return "must be a JSON object"
	}
	if n := buf.Len() - 1; n > MaxConfigBytes {
		return fmt.Sprintf("is %d bytes encoded; at most %d", n, MaxConfigBytes)
	}
	keys := 0
	if msg := walk(cfg, 1, &keys); msg != "" {
		return msg
	}
	return ""
}

func walk(v any, depth int, keys *int) string {
	switch v.(type) {
	case map[string]any, []any:
		if depth > MaxConfigDepth {
			return fmt.Sprintf("nests objects and arrays deeper than %d levels", MaxConfigDepth)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			*keys++
			if *keys > MaxConfigKeys {
				return fmt.Sprintf("has more than %d keys", MaxConfigKeys)
			}
			if k == "" || utf8.RuneCountInString(k) > MaxConfigKeyLen {
				return fmt.Sprintf("keys must be 1 to %d characters", MaxConfigKeyLen)
			}
			if msg := walk(x[k], depth+1, keys); msg != "" {
				return msg
			}
		}
	case []any:
		for _, e := range x {
			if msg := walk(e, depth+1, keys); msg != "" {
				return msg
			}
		}
	}
	return ""
}
