package clean

import (
	"testing"

	"example.test/badplanes/internal/local/w" // allowed: the test harness
)

func TestF(t *testing.T) { F(); w.F() }
