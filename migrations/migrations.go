// Package migrations embeds yutang's numbered SQL migrations (goose format:
// NNNNN_name.sql with -- +goose Up / Down sections). storage.Migrate applies
// them under a PostgreSQL advisory lock.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
