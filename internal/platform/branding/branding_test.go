package branding_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/branding"
)

func TestValidate(t *testing.T) {
	ok := branding.Settings{DisplayName: "Acme", LogoURL: "https://cdn.acme.test/logo.png", PrimaryColor: "#A1B2C3",
		Locale: "de-ch", TimeZone: "Europe/Zurich", Config: map[string]any{"theme": map[string]any{"dark": true}}}
	got, err := ok.Validate()
	if err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	if got.PrimaryColor != "#a1b2c3" || got.Locale != "de-CH" {
		t.Errorf("normalised = %+v", got)
	}
	deep := map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{"e": map[string]any{}}}}}}
	many := map[string]any{}
	for i := range branding.MaxConfigKeys + 1 {
		many[strings.Repeat("k", i%10+1)+string(rune('a'+i%26))+string(rune('a'+i/26))] = i
	}
	for name, tc := range map[string]struct {
		mod   func(*branding.Settings)
		field string
	}{
		"no display name":  {func(s *branding.Settings) { s.DisplayName = "  " }, "displayName"},
		"long name":        {func(s *branding.Settings) { s.DisplayName = strings.Repeat("x", 101) }, "displayName"},
		"http logo":        {func(s *branding.Settings) { s.LogoURL = "http://cdn.acme.test/logo.png" }, "logoUrl"},
		"relative logo":    {func(s *branding.Settings) { s.LogoURL = "/logo.png" }, "logoUrl"},
		"logo with user":   {func(s *branding.Settings) { s.LogoURL = "https://u:p@cdn.acme.test/l.png" }, "logoUrl"},
		"javascript logo":  {func(s *branding.Settings) { s.LogoURL = "javascript:alert(1)" }, "logoUrl"},
		"named colour":     {func(s *branding.Settings) { s.PrimaryColor = "red" }, "primaryColor"},
		"short colour":     {func(s *branding.Settings) { s.PrimaryColor = "#fff" }, "primaryColor"},
		"bad locale":       {func(s *branding.Settings) { s.Locale = "not a locale" }, "locale"},
		"bad zone":         {func(s *branding.Settings) { s.TimeZone = "Mars/Olympus" }, "timeZone"},
		"local zone":       {func(s *branding.Settings) { s.TimeZone = "Local" }, "timeZone"},
		"config too big":   {func(s *branding.Settings) { s.Config = map[string]any{"x": strings.Repeat("a", 5000)} }, "config"},
		"config too deep":  {func(s *branding.Settings) { s.Config = deep }, "config"},
		"config many keys": {func(s *branding.Settings) { s.Config = many }, "config"},
		"config empty key": {func(s *branding.Settings) { s.Config = map[string]any{"": 1} }, "config"},
	} {
		s := ok
		tc.mod(&s)
		_, err := s.Validate()
		var ve *branding.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, branding.ErrInvalid) {
			t.Errorf("%s: err = %v, want a validation error", name, err)
			continue
		}
		if len(ve.Fields) != 1 || ve.Fields[0].Field != tc.field {
			t.Errorf("%s: fields = %+v, want %s", name, ve.Fields, tc.field)
		}
	}
	// Defaults fill an empty locale and zone.
	d, err := branding.Settings{DisplayName: "X"}.Validate()
	if err != nil || d.Locale != branding.DefaultLocale || d.TimeZone != branding.DefaultTimeZone {
		t.Errorf("defaults = %+v, %v", d, err)
	}
}
