package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/yutang/yutang/domain"
)

// WriteAudit records one audited change. Call it with the transaction that
// makes the change, so the record and the change commit together.
func WriteAudit(ctx context.Context, q sqlx.ExecerContext, e domain.AuditEntry) error {
	before, err := jsonOrNull(e.Before)
	if err != nil {
		return err
	}
	after, err := jsonOrNull(e.After)
	if err != nil {
		return err
	}
	var staffID any
	if e.Actor.Kind == "staff" {
		staffID = e.Actor.ID
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	_, err = q.ExecContext(ctx, `
INSERT INTO audit_log (at, staff_id, staff_name, action, entity, entity_id, before, after, request_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		at, staffID, e.Actor.Name, e.Action, e.Entity, e.EntityID, before, after, e.RequestID)
	if err != nil {
		return fmt.Errorf("storage: write audit: %w", mapErr(err))
	}
	return nil
}

func jsonOrNull(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("storage: audit json: %w", err)
	}
	return string(b), nil
}

// Audit reads the audit log.
type Audit struct{ scope }

// List returns audit records newest first, filtered by entity (optional),
// paginated by id cursor.
func (a Audit) List(ctx context.Context, entity, entityID string, page domain.Page) ([]domain.AuditView, string, error) {
	limit := domain.BoundLimit(page.Limit)
	before, err := idBefore(page.Cursor)
	if err != nil {
		return nil, "", err
	}
	var rows []struct {
		ID        int64     `db:"id"`
		At        time.Time `db:"at"`
		StaffName string    `db:"staff_name"`
		Action    string    `db:"action"`
		Entity    string    `db:"entity"`
		EntityID  string    `db:"entity_id"`
		Before    []byte    `db:"before"`
		After     []byte    `db:"after"`
		RequestID string    `db:"request_id"`
	}
	// Only the filters given are in the statement (stmtArgs), the entity
	// spelled out (quoted; a few dozen kinds): a rare entity's history is
	// then read from (entity, entity_id, id DESC), where a generic plan may
	// walk the whole log, which every admin write lengthens, newest first
	// filtering (issue 18).
	args := stmtArgs{before, limit + 1}
	where := ""
	if entity != "" {
		where += " AND entity = " + pq.QuoteLiteral(entity)
	}
	if entityID != "" {
		where += " AND entity_id = " + args.add(entityID)
	}
	err = sqlx.SelectContext(ctx, a.ext(), &rows, `
SELECT id, at, staff_name, action, entity, entity_id, before, after, request_id FROM audit_log
WHERE id < $1`+where+` ORDER BY id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("storage: list audit: %w", mapErr(err))
	}
	rows, next := pageOf(rows, limit, func(i int) int64 { return rows[i].ID })
	out := make([]domain.AuditView, len(rows))
	for i, r := range rows {
		out[i] = domain.AuditView{ID: r.ID, At: r.At, Actor: r.StaffName, Action: r.Action, Entity: r.Entity,
			EntityID: r.EntityID, Before: r.Before, After: r.After, RequestID: r.RequestID}
	}
	return out, next, nil
}
