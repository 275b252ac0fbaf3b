package main

// FerretDB 1.24's PostgreSQL backend indexes each collection's `_id` with a unique btree on
// `(_jsonb->'_id')`, but answers a lone-`_id` filter with `_jsonb->$1 @> $2`
// (internal/backends/postgresql/query.go, filterEqual): containment, not equality. A btree
// answers `=`, not `@>`, so PostgreSQL never uses that index for a query: every find by `_id`,
// and the read half of every update (FerretDB reads the document, then writes it back by
// `_jsonb->'_id' = $n`, which does use the btree), is a sequential scan of the table. Measured
// with EXPLAIN ANALYZE on the bench's 10,000-household city (62,942 entries): 65–83 ms per
// look-up, a parallel scan. A GIN index with jsonb_path_ops on the same expression answers `@>`
// from the index: 0.05 ms. (FerretDB's statements are prepared; PostgreSQL plans each execution
// with its parameters while that custom plan is the cheaper one, as it is here, so the `_id`
// key is matched to the index expression.)
//
// The launcher therefore adds that index to every collection table, and looks for new tables
// once a second. The build is a plain CREATE INDEX that waits at most 200 ms for its lock
// and is otherwise tried again a second later: it never queues for long in front of FerretDB's
// writes and DDL, and cannot deadlock with them (CREATE INDEX CONCURRENTLY waits for every older
// transaction, which can deadlock with a FerretDB transaction that waits for its table). A new
// table is empty, so its build is instant; an existing large table blocks writes while its index
// builds, once (0.2 s for 62,942 entries). FerretDB's unique index still decides uniqueness;
// FerretDB does not list this index, and dropping a collection drops it with its table.
//
// The index is built without GIN's pending list (`fastupdate = off`). With it, new keys wait in
// an unsorted list that every look-up reads through until a vacuum merges it, and the bulk of a
// freshly filled table never left it: on a bench city of 22,000 households the ledger's index
// held all 120,200 keys pending, and one look-up took 41.7 ms; merged, 0.18 ms. An index built by
// an older launcher (or one switched back by hand) is switched over and merged at the next sweep
// (`ginWithoutPendingList`).

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgIDIndexPrefix names the launcher's indexes on PostgreSQL. FerretDB names its own
// `<table>_<index>_<hash>_idx`, and no collection of this service starts with "launcher_".
const pgIDIndexPrefix = "launcher_id_"

// unindexedTables lists the collection tables (a `_jsonb` column, not FerretDB's metadata)
// without a valid launcher index, from the catalog, so that a restarted launcher, or several
// launchers on one database, each see only what is left to do.
const unindexedTables = `
SELECT n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_jsonb' AND NOT a.attisdropped
WHERE c.relkind = 'r'
  AND c.relname <> '_ferretdb_database_metadata'
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = c.oid AND i.indisvalid AND ic.relname LIKE 'launcher\_id\_%'
  )`

// pgIndexName is unique per table and within PostgreSQL's 63-byte names.
func pgIndexName(schema, table string) string {
	h := fnv.New32a()
	h.Write([]byte(schema + "." + table))
	part := table
	if len(part) > 32 {
		part = part[:32]
	}
	return fmt.Sprintf("%s%s_%08x", pgIDIndexPrefix, part, h.Sum32())
}

// connectForIndexing opens the sweeper's own connection; its index builds give up on a lock
// they cannot have within 200 ms.
func connectForIndexing(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["lock_timeout"] = "200ms"
	cfg.RuntimeParams["application_name"] = "ferretdb-launcher id index sweep"
	return pgx.ConnectConfig(ctx, cfg)
}

// sweepPGIDIndexes runs until ctx ends, indexing new collection tables once a second.
func sweepPGIDIndexes(ctx context.Context, url string, logger *slog.Logger) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	failed := map[string]bool{} // tables whose index failed to build: tried once per launcher
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if conn == nil || conn.IsClosed() {
			c, err := connectForIndexing(ctx, url)
			if err != nil && ctx.Err() == nil {
				logger.Warn("id index sweep (postgresql): connect", "error", err)
			}
			conn = c
		}
		if conn != nil {
			if err := ginWithoutPendingList(ctx, conn); err != nil && ctx.Err() == nil {
				logger.Warn("id index sweep (postgresql): pending lists", "error", err)
			}
			if err := analyzeStale(ctx, conn); err != nil && ctx.Err() == nil {
				logger.Warn("id index sweep (postgresql): analyze", "error", err)
			}
			if err := indexPGTables(ctx, conn, failed, logger); err != nil && ctx.Err() == nil {
				logger.Warn("id index sweep (postgresql)", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func indexPGTables(ctx context.Context, conn *pgx.Conn, failed map[string]bool, logger *slog.Logger) error {
	rows, err := conn.Query(ctx, unindexedTables)
	if err != nil {
		return err
	}
	var tables [][2]string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			rows.Close()
			return err
		}
		if !failed[schema+"."+table] {
			tables = append(tables, [2]string{schema, table})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	for _, t := range tables {
		name := pgIndexName(t[0], t[1])
		q := fmt.Sprintf(
			`CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((_jsonb->'_id') jsonb_path_ops) WITH (fastupdate = off)`,
			pgx.Identifier{name}.Sanitize(), pgx.Identifier{t[0], t[1]}.Sanitize(),
		)
		if _, err := conn.Exec(ctx, q); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) {
				switch pgErr.Code {
				case "42P01", "3F000": // the table or its schema was dropped meanwhile
					continue
				case "55P03", "40P01", "42P07": // lock not granted in time, deadlock, built by another launcher
					continue // tried again at the next sweep (or found indexed)
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			failed[t[0]+"."+t[1]] = true // left as FerretDB made it: look-ups scan
			logger.Warn("id index sweep (postgresql): create index", "table", t[0]+"."+t[1], "error", err)
		}
	}
	return nil
}

// withPendingList lists the launcher's indexes still built with GIN's pending list.
const withPendingList = `
SELECT c.oid::regclass::text
FROM pg_class c
WHERE c.relkind = 'i' AND c.relname LIKE 'launcher\_id\_%'
  AND NOT coalesce(c.reloptions @> ARRAY['fastupdate=off'], false)`

// ginWithoutPendingList switches indexes built by an older launcher to `fastupdate = off` and
// merges what waits in their pending lists (see the file's header). The catalog query finds none
// once all are switched; a lock not granted in time (lock_timeout) is tried at the next sweep.
func ginWithoutPendingList(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, withPendingList)
	if err != nil {
		return err
	}
	indexes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, ix := range indexes {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`ALTER INDEX %s SET (fastupdate = off)`, ix)); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, `SELECT gin_clean_pending_list($1::regclass)`, ix); err != nil {
			return err
		}
	}
	return nil
}

// staleTable names the collection table whose planner statistics are furthest behind, if one is
// past autovacuum's own default rule for ANALYZE (50 rows + 10 %; here 1,000 + 10 %, since
// FerretDB's tables start empty and grow fast).
const staleTable = `
SELECT format('%I.%I', s.schemaname, s.relname)
FROM pg_stat_user_tables s
JOIN pg_attribute a ON a.attrelid = s.relid AND a.attname = '_jsonb' AND NOT a.attisdropped
WHERE s.n_mod_since_analyze > 1000 + 0.1 * s.n_live_tup
ORDER BY s.n_mod_since_analyze DESC
LIMIT 1`

// analyzeStale runs ANALYZE on one collection table whose statistics are stale, at each sweep.
// Without statistics PostgreSQL guesses that a quarter of a table matches `_jsonb->'_id' @> …`:
// with 430,000 entries it planned each look-up as a parallel bitmap scan sized for 116,000 rows,
// 120–180 ms for the one row found; analyzed, 0.1 ms. Autovacuum analyzes tables as they grow,
// but it may be off (it is on the machine this was found on), and a table filled faster than it
// comes round is planned blind meanwhile. ANALYZE reads a sample (about 30,000 rows) and takes a
// lock only VACUUM, DDL and another ANALYZE wait for, so FerretDB's reads and writes go on.
func analyzeStale(ctx context.Context, conn *pgx.Conn) error {
	var table string
	if err := conn.QueryRow(ctx, staleTable).Scan(&table); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	}
	if _, err := conn.Exec(ctx, "ANALYZE "+table); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "55P03" || pgErr.Code == "42P01") {
			return nil // a lock not granted in time (tried at the next sweep), or dropped meanwhile
		}
		return err
	}
	return nil
}
