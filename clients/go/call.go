package chatstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// call builds `SELECT <cols> FROM fn($1, name => $2, ...)` with only the
// arguments given, so the function's defaults apply to the others.
type call struct {
	fn   string
	sql  strings.Builder
	args []any
	n    int
}

func newCall(fn string) *call { return &call{fn: fn} }

// pos adds a positional argument (before any named one).
func (c *call) pos(v any) *call {
	c.args = append(c.args, v)
	if len(c.args) > 1 {
		c.sql.WriteString(", ")
	}
	fmt.Fprintf(&c.sql, "$%d", len(c.args))
	return c
}

// named adds `name => $n`.
func (c *call) named(name string, v any) *call {
	c.args = append(c.args, v)
	if len(c.args) > 1 {
		c.sql.WriteString(", ")
	}
	fmt.Fprintf(&c.sql, "%s => $%d", name, len(c.args))
	return c
}

// namedIf adds `name => $n` when set is true.
func (c *call) namedIf(set bool, name string, v any) *call {
	if set {
		c.named(name, v)
	}
	return c
}

// from is `SELECT cols FROM fn(...)`; expr is `SELECT fn(...)`.
func (c *call) from(cols string) string {
	return "SELECT " + cols + " FROM " + c.fn + "(" + c.sql.String() + ")"
}

func (c *call) expr() string { return "SELECT " + c.fn + "(" + c.sql.String() + ")" }

// scalar runs `SELECT fn(...)` and scans its one value.
func (c *call) scalar(ctx context.Context, db DB, dst any) error {
	return mapErr(db.QueryRow(ctx, c.expr(), c.args...).Scan(dst))
}

// nullable is NULL for "" (chatstore refuses empty ids and users).
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonArg is a jsonb argument: []byte and json.RawMessage are taken as
// JSON text as they are, nil is SQL NULL, anything else goes through
// json.Marshal (so a Go string becomes a JSON string).
func jsonArg(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if x == nil {
			return nil, nil
		}
		return []byte(x), nil
	case []byte:
		if x == nil {
			return nil, nil
		}
		return x, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("chatstore: encoding a JSON argument: %w", err)
	}
	return b, nil
}

// rawJSON is a scanned jsonb value as json.RawMessage (nil for NULL).
func rawJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
