/**
 * The database connection (mongoose's default connection; one per process). Every model is
 * registered at import time by its module; `ensureIndexes` creates their indexes at start-up
 * and waits, because several indexes are the locks the ledger relies on: serving before they
 * exist would let a race through.
 */
import mongoose from 'mongoose';
import { eachAtOnce } from './at-once';
import { settleBackgroundWrites } from './background';
import { retryBusy, wrapDriverWrites } from './busy';
import { writeLane } from './write-lane';

/**
 * Hints this process holds about one database's contents (chain heads in memory, never ahead of
 * the chain they name): connecting, again or to another database, forgets them all. The test
 * suite connects one process to a fresh database per test file, where chain ids made from names
 * (townships, counties) recur and a remembered head would be ahead of the new chain.
 */
const hintMaps = new Set<Map<string, unknown>>();
export function registerHints<M extends Map<string, unknown>>(map: M): M {
  hintMaps.add(map);
  return map;
}

/** Forgets every hint, as a freshly started process holds none (tests). */
export function forgetHints(): void {
  for (const hints of hintMaps) hints.clear();
}

/**
 * Connects to MongoDB or FerretDB. `writeLanes`: the write lane's permits (write-lane.ts,
 * `DB_WRITE_LANES`); undefined: 1 on FerretDB-SQLite (`sqlite`: the caller started it, else
 * asked of the server), none elsewhere.
 */
export async function connectDb(
  uri: string,
  dbName: string,
  opts: { writeLanes?: number; sqlite?: boolean } = {},
): Promise<typeof mongoose> {
  forgetHints();
  wrapDriverWrites();
  mongoose.set('strictQuery', true);
  // Operator injection is stopped at the edge: every route's schema admits only scalars where
  // scalars belong, and the body guard (http.ts) refuses `$`-keys anywhere in a body.
  mongoose.set('autoIndex', false);
  mongoose.set('autoCreate', true);
  // A query keeps no stack of where it was made (kept only to name the caller of a query run
  // twice, a programming error that shows anyway): formatting that stack through the source
  // maps (npm start runs under tsx) was 1 % of the API's CPU in the bench's redemption loops.
  mongoose.set('skipOriginalStackTraces', true);
  const connected = await mongoose.connect(uri, {
    dbName,
    serverSelectionTimeoutMS: 5000,
    maxPoolSize: 50,
  });
  writeLane.configure(opts.writeLanes ?? (opts.sqlite || (await isFerretDbSqlite()) ? 1 : 0));
  return connected;
}

/**
 * Whether the server is FerretDB on SQLite, from its start-up line ("Powered by FerretDB … and
 * SQLite 3.46.0."); MongoDB, FerretDB-PostgreSQL or a refused `getLog`: false. FerretDB names
 * its backend there only once it has opened a database, so a process that started the embedded
 * FerretDB says so itself (`connectDb`'s `sqlite`).
 */
export async function isFerretDbSqlite(): Promise<boolean> {
  try {
    const res = await mongoose.connection.db!.admin().command({ getLog: 'startupWarnings' });
    return /Powered by FerretDB [^"]* and SQLite /.test(JSON.stringify(res.log ?? []));
  } catch {
    return false;
  }
}

/**
 * Models whose collection and indexes are created at once. One after another, the ~70 models'
 * round trips were most of a start (0.5 s on FerretDB-SQLite, 0.7–0.9 s on FerretDB-PostgreSQL,
 * and again for every test file's fresh database); eight at a time 0.34–0.40 and 0.51–0.59 s.
 */
const MODELS_AT_ONCE = 8;

/**
 * Creates the collection and the indexes of every registered model; the unique ones are
 * correctness, not speed, so a start waits for every one of them.
 */
export async function ensureIndexes(): Promise<void> {
  await eachAtOnce(Object.values(mongoose.connection.models), MODELS_AT_ONCE, async (model) => {
    // Each is one SQLite transaction on the embedded database and safe to send again, so a busy
    // refusal (a write of another process, or the launcher indexing a new table, holding the
    // lock) is retried like a single-document write (busy.ts) rather than failing the start.
    await retryBusy(() =>
      model.createCollection().catch((err: { code?: number }) => {
        if (err.code !== 48) throw err; // 48: NamespaceExists
      }),
    );
    await retryBusy(() => model.createIndexes());
  });
}

/**
 * Inserts documents each on its own (one unordered insertMany) and leaves any whose unique key is
 * taken as it is: for records that are the same whoever writes them first (a migration's index
 * entries, a memo of settled data). Safe to send again, so a busy refusal is retried (busy.ts).
 * Returns how many this call inserted; any error but a duplicate key is thrown.
 */
export async function insertNew(
  model: { collection: mongoose.Collection },
  docs: mongoose.mongo.Document[],
): Promise<number> {
  if (!docs.length) return 0;
  return retryBusy(async () => {
    try {
      return (await model.collection.insertMany(docs, { ordered: false })).insertedCount;
    } catch (err) {
      const bulk = err as {
        insertedCount?: number;
        writeErrors?: { code?: number }[] | { code?: number };
      };
      const errors = [bulk.writeErrors ?? []].flat();
      if (!errors.length || errors.some((e) => e.code !== 11000)) throw err;
      return bulk.insertedCount ?? 0;
    }
  });
}

/** A mark of a one-off pass: `_id` names the pass; present once it finished. */
export interface MarkDoc {
  _id: string;
  at: Date;
}

/** A module's collection of marks of its one-off passes (see setMark). */
export function markModel(name: string, collection: string): mongoose.Model<MarkDoc> {
  return mongoose.model<MarkDoc>(
    name,
    new mongoose.Schema<MarkDoc>(
      { _id: { type: String, required: true }, at: { type: Date, required: true } },
      { collection, versionKey: false, strict: 'throw' },
    ),
  );
}

/**
 * Records that a one-off pass finished: upserts its mark (`_id` = the pass) with `fields`. Two
 * processes finishing the same pass at once both succeed (the loser of the upsert's insert race
 * sees a duplicate key, which means the mark is there).
 */
export async function setMark(
  model: { collection: mongoose.Collection },
  _id: string,
  fields: Record<string, unknown>,
): Promise<void> {
  await model.collection
    .updateOne({ _id: _id as never }, { $set: fields }, { upsert: true })
    .catch((err: unknown) => {
      if ((err as { code?: number }).code !== 11000) throw err;
    });
}

/** Round-trips to the database; used by /readyz. */
export async function pingDb(): Promise<void> {
  const db = mongoose.connection.db;
  if (!db) throw new Error('not connected');
  await db.command({ ping: 1 });
}

/** Disconnects once the writes sent in the background (background.ts) have settled. */
export async function disconnectDb(): Promise<void> {
  await settleBackgroundWrites();
  await mongoose.disconnect();
}

/**
 * A document by `_id` as `Model.findById(id).lean()` returns it, read through the driver
 * directly: the id is cast by the schema's `_id` path as the query would cast it (a hex string to
 * an ObjectId; an id that cannot be cast throws a CastError), and the document comes back as
 * stored. For the reads on a request's hot path (configuration, chain heads and links): a
 * mongoose query cost about 140 µs more of the API's CPU than the driver's own `findOne`
 * (442 against 301 µs a read, measured on FerretDB-SQLite), and a redemption at a new counter
 * makes about twenty such reads. The same answer only while no schema has a find hook or a
 * `select: false` path (none has; test/platform/lean-by-id.test.ts fails if one is added).
 */
export async function findLeanById<T>(
  model: { schema: mongoose.Schema; collection: mongoose.Collection },
  id: unknown,
): Promise<T | null> {
  const _id: unknown = model.schema.path('_id').cast(id);
  return (await model.collection.findOne({
    _id,
  } as mongoose.mongo.Filter<mongoose.mongo.Document>)) as T | null;
}
