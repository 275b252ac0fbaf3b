// Command ferretdb-launcher runs an embedded FerretDB 1.24 so that the service and its tests
// have a MongoDB-wire-compatible database with no MongoDB server installed.
//
// It embeds github.com/FerretDB/FerretDB/ferretdb rather than building FerretDB's own
// cmd/ferretdb: that command's build/version package panics at start unless version files are
// generated, a check that only runs when FerretDB itself is the main module.
//
// On start it prints one line `READY <mongodb-uri>` on stdout; the Node helper waits for that
// line (and a ping) before it connects. SIGTERM or SIGINT stops it cleanly; so does the end of
// its standard input with -stop-with-stdin, which the Node helper keeps open for as long as it
// lives: the database never outlives the process that started it, even one killed with -9 (a
// second launcher on the same SQLite folder, started by the next `npm start`, would otherwise
// run beside the orphan, each with its own view of the catalogue).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// defaultGCPercent is the launcher's GOGC unless the environment sets one.
const defaultGCPercent = 400

func main() {
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	dataDir := flag.String("data", "data/ferretdb", "SQLite data folder (sqlite backend)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL (postgresql backend)")
	host := flag.String("host", "127.0.0.1", "listen host; loopback only")
	port := flag.Int("port", 0, "listen port; 0 picks a free one")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	busyMs := flag.Int("sqlite-busy-timeout-ms", 10000,
		"how long a SQLite write waits for the write lock before SQLITE_BUSY (FerretDB's default: 10000)")
	stopWithStdin := flag.Bool("stop-with-stdin", false,
		"stop cleanly when standard input closes (the process that started this one is gone)")
	flag.Parse()

	// FerretDB allocates a great deal per command (documents decoded to Go values, JSON for
	// SQLite) while its live heap stays small (tens of MiB): Go's default (collect when the heap
	// has grown by 100 %) spent about a tenth of its CPU on collection under the redemption
	// bench. Collecting at +400 % carried about 10 % more redemptions in nine alternating pairs,
	// for about 8 MiB more resident memory (README, "The embedded database's garbage
	// collector"). GOGC, when set, decides as usual.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fail("bad -log-level: %v", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	// The database holds personal data and has no authentication: it must never listen
	// beyond this machine.
	ip := net.ParseIP(*host)
	if *host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail("-host must be a loopback address, got %q", *host)
	}

	cfg := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: net.JoinHostPort(*host, fmt.Sprint(*port))},
		Logger:   logger,
		Handler:  *handler,
	}

	var sqliteDir string
	switch *handler {
	case "sqlite":
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			fail("bad -data: %v", err)
		}
		if err := os.MkdirAll(abs, 0o700); err != nil {
			fail("cannot create data folder: %v", err)
		}
		if *busyMs < 1 {
			fail("-sqlite-busy-timeout-ms must be positive, got %d", *busyMs)
		}
		// FerretDB wants a file: URI naming a directory, with a trailing slash. A busy_timeout
		// given here comes before the journal_mode FerretDB adds, as SQLite needs.
		//
		// temp_store(memory): FerretDB inserts a batch of documents as one multi-row INSERT, for
		// which SQLite keeps a statement journal (to undo the statement alone should a row break
		// a unique index); by default that journal is a temporary file, written with a system
		// call per page. A CPU profile of the launcher under the redemption bench put about a
		// tenth of its time there. Kept in memory it costs a few pages per statement, and nothing
		// durable depends on it (the write-ahead log carries the transactions): about 12 % more
		// redemptions in six alternating pairs (README, "The embedded database's temporary store").
		cfg.SQLiteURL = fmt.Sprintf(
			"file:%s/?_pragma=busy_timeout(%d)&_pragma=temp_store(memory)", abs, *busyMs)
		sqliteDir = abs
	case "postgresql":
		if *pgURL == "" {
			fail("-postgresql-url is required with -handler postgresql")
		}
		u, err := withCustomPlans(*pgURL)
		if err != nil {
			fail("-postgresql-url: %v", err)
		}
		cfg.PostgreSQLURL = u
	default:
		fail("unknown -handler %q", *handler)
	}

	f, err := ferretdb.New(cfg)
	if err != nil {
		fail("start: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if *stopWithStdin {
		go func() {
			// Returns at end of file, or on an error reading: either way the parent is gone.
			_, _ = io.Copy(io.Discard, os.Stdin)
			logger.Error("standard input closed: the process that started the database is gone; stopping")
			stop()
		}()
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			logger.Error("run", "error", err)
		}
	}()

	// MongoDBURI blocks until the listener is bound, so the printed port is the real one.
	uri := f.MongoDBURI()
	// Lone-`_id` look-ups indexed (idindex.go, pgidindex.go): first over what is there, then
	// once a second.
	if sqliteDir != "" {
		go sweepIDIndexes(ctx, sqliteDir, logger)
	} else {
		go sweepPGIDIndexes(ctx, *pgURL, logger)
	}
	fmt.Printf("READY %s\n", uri)

	<-done
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ferretdb-launcher: "+format+"\n", args...)
	os.Exit(2)
}

// withCustomPlans sets plan_cache_mode=force_custom_plan on FerretDB's PostgreSQL sessions (a
// runtime parameter in the URL; one already there is kept). FerretDB prepares its statements,
// with the filter's key as a parameter (`_jsonb->$1 @> $2`); after five executions PostgreSQL may
// switch to a generic plan, which cannot match `_jsonb->'_id'` to the launcher's index and so
// scans the table. It did once a table grew: on a bench city of 22,000 households every `_id`
// look-up of `ledger_entries` (120,000 rows) took 100–225 ms, a sequential scan, and generation
// fell from 60 to 14 households a second. A custom plan costs its planning (about 0.6 ms) and
// uses the index.
func withCustomPlans(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	if !q.Has("plan_cache_mode") {
		q.Set("plan_cache_mode", "force_custom_plan")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}
