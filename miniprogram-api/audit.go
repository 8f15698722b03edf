package mpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

type auditDTO struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Entity    string          `json:"entity"`
	EntityID  string          `json:"entity_id"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
	RequestID string          `json:"request_id"`
}

// GET /api/v1/admin/audit-log?entity&entity_id&cursor&limit
func (a *API) listAudit(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := a.deps.Audit.List(c.Request().Context(), c.QueryParam("entity"), c.QueryParam("entity_id"), page)
	if err != nil {
		return err
	}
	out := make([]auditDTO, len(rows))
	for i, r := range rows {
		out[i] = auditDTO{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, Entity: r.Entity, EntityID: r.EntityID,
			Before: rawOrNull(r.Before), After: rawOrNull(r.After), RequestID: r.RequestID}
	}
	return c.JSON(http.StatusOK, newList(out, next))
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}
