// Package branding owns a tenant's settings: its display name, logo,
// primary colour, locale, time zone and a small free-form config object,
// with their validation. The settings live on the tenant's catalog record
// (catalog.Record.Settings), so they are cached with it; internal/platform/store
// writes them, conditioned on their version. (Runtime configuration of the
// deployment is internal/platform/settings, a different thing.)
package branding
