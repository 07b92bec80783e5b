package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// These test the cursor key's loading alone, without DynamoDB: a stub
// loader stands for Secrets Manager (internal/wire reads the real one,
// against the emulator, in its own tests).

func TestCursorKeyLoadedOnceAndShared(t *testing.T) {
	ctx := context.Background()
	var calls atomic.Int32
	k := NewCursorKey(func(context.Context) ([]byte, error) {
		calls.Add(1)
		return []byte("stage-secret-key"), nil
	})
	// A store and a catalog of one process share the key.
	a := cursors{key: defaultCursorKey, lazy: k}
	b := cursors{key: defaultCursorKey, lazy: k}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c, err := a.encodeCursor(ctx, "t-ab", "PRODUCT", "p-1")
			if err != nil {
				t.Error(err)
				return
			}
			if sk, err := b.decodeCursor(ctx, "t-ab", "PRODUCT", c); err != nil || sk != "p-1" {
				t.Errorf("decode = %q, %v", sk, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("the key was loaded %d times, want once per process", n)
	}
	// A cursor made with the built-in key does not pass the stage's key.
	builtin := cursors{key: defaultCursorKey}
	c, err := builtin.encodeCursor(ctx, "t-ab", "PRODUCT", "p-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.decodeCursor(ctx, "t-ab", "PRODUCT", c); !errors.Is(err, ErrInvalidCursor) {
		t.Errorf("a cursor of the built-in key decodes with the stage's key: %v", err)
	}
}

func TestCursorKeyFailedLoadIsRetried(t *testing.T) {
	ctx := context.Background()
	fail := true
	unavailable := errors.New("secrets manager unavailable")
	k := NewCursorKey(func(context.Context) ([]byte, error) {
		if fail {
			return nil, unavailable
		}
		return []byte("k"), nil
	})
	c := cursors{lazy: k}
	if _, err := c.encodeCursor(ctx, "t-ab", "PRODUCT", "p-1"); !errors.Is(err, unavailable) || errors.Is(err, ErrInvalidCursor) {
		t.Fatalf("encode with a failing key source = %v, want the load error (not an invalid cursor)", err)
	}
	fail = false
	if _, err := c.encodeCursor(ctx, "t-ab", "PRODUCT", "p-1"); err != nil {
		t.Fatalf("encode after the source recovered: %v", err)
	}
	empty := cursors{lazy: NewCursorKey(func(context.Context) ([]byte, error) { return nil, nil })}
	if _, err := empty.encodeCursor(ctx, "t-ab", "PRODUCT", "p-1"); !errors.Is(err, errEmptyCursorKey) {
		t.Fatalf("encode with an empty key = %v, want errEmptyCursorKey", err)
	}
}
