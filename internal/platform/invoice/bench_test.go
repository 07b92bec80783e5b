package invoice_test

import (
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/invoice"
)

// BenchmarkComputeMonth is one tenant's invoice of the scripted month
// (720 hours of usage, 30 storage samples, a tier change on the 11th).
func BenchmarkComputeMonth(b *testing.B) {
	in := invoice.Input{Month: at("2026-11-01T00:00:00Z"), TenantID: "t-1",
		Tiers: ScriptedMonth.Tiers, Hours: ScriptedMonth.Hours, Storage: ScriptedMonth.Storage, Prices: prices,
		Now: at("2026-12-02T08:00:00Z")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := invoice.Compute(in); err != nil {
			b.Fatal(err)
		}
	}
}
