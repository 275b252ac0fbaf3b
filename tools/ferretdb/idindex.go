package main

// FerretDB 1.24's SQLite backend creates each collection's unique `_id` index on the expression
// `_ferretdb_sjson->"_id"`, but answers a lone-`_id` filter with `WHERE _ferretdb_sjson->'$._id' = ?`
// (internal/backends/sqlite/collection.go). SQLite matches an index to a query only by the
// expression as written, so it never uses that index: every look-up by `_id` scans the table
// (EXPLAIN QUERY PLAN: `SCAN`). Measured on a bench city of 10,875 entries: 1.1 ms for an `_id`
// near the start of the table, 52 ms for one that does not exist.
//
// The launcher therefore adds, to every collection's table, a second (non-unique) index on the
// query's own expression. FerretDB's unique index still decides uniqueness; this one only lets
// SQLite find a row by `_id` in O(log n). FerretDB does not know of it: it is not listed by
// listIndexes, and dropping the collection drops the table with it.
//
// The data folder is swept once a second, so a collection created meanwhile gets its index
// within about a second; tables already indexed are remembered and not looked at again.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself uses
)

// idIndexPrefix names the launcher's indexes. FerretDB names its own `<table>_<index>`, and a
// table's name starts with its collection's name, so no FerretDB index can take this name.
const idIndexPrefix = "launcher_id_lookup_"

type idIndexer struct {
	dir    string
	logger *slog.Logger
	done   map[string]bool // "<file>\x00<table>" already indexed
}

// sweepIDIndexes runs until ctx ends, indexing new tables once a second.
func sweepIDIndexes(ctx context.Context, dir string, logger *slog.Logger) {
	ix := &idIndexer{dir: dir, logger: logger, done: map[string]bool{}}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ix.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (ix *idIndexer) sweep(ctx context.Context) {
	files, err := filepath.Glob(filepath.Join(ix.dir, "*.sqlite"))
	if err != nil {
		return
	}
	for _, file := range files {
		if err := ix.indexFile(ctx, file); err != nil && ctx.Err() == nil {
			ix.logger.Warn("id index sweep", "file", file, "error", err)
		}
	}
}

func (ix *idIndexer) indexFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not set up yet
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		if !ix.done[file+"\x00"+t] {
			tables = append(tables, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, idIndexPrefix+t, t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // dropped meanwhile
			}
			return err
		}
		ix.done[file+"\x00"+t] = true
	}
	return nil
}
