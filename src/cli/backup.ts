/**
 * `backup DIR` and `restore DIR`, written with the database driver (mongodump and mongorestore
 * are not available beside the embedded FerretDB, and the same code serves MongoDB).
 *
 * A backup is a folder: one gzip file of canonical Extended JSON per collection, one document a
 * line (`<collection>.ejson.gz`: canonical EJSON keeps every BSON type — dates, ObjectIds,
 * binary, 32/64-bit integers and doubles apart), and `manifest.json`, written last, naming each
 * collection with its document count, the SHA-256 of its file as stored, and its indexes.
 *
 * - Streaming both ways: documents go from a cursor into the gzip stream and from a line reader
 *   into batched inserts; no collection is ever held in memory.
 * - Every collection of the database is backed up (not only those with a model), the caches
 *   first: the account cache then never names an entry the backup lacks, even when the backup
 *   runs beside live traffic (entries are append-only, so a later copy of `ledger_entries` holds
 *   all the earlier one did). The card index goes last: every household in the backup then has
 *   its entry (written before the household). For one instant across all collections, stop the
 *   API and workers.
 * - A restore goes into an empty database only; it checks every file against the manifest before
 *   writing anything, creates the backed-up indexes (the unique ones are the ledger's locks)
 *   before inserting, and checks each collection's count. The caller then verifies every chain.
 */
import assert from 'node:assert';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { finished } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { BSON, type Db, type Document, type IndexSpecification } from 'mongodb';

const { EJSON } = BSON;

export const BACKUP_FORMAT = 'moral-savings-backup/1';
export const MANIFEST_FILE = 'manifest.json';
/** Collections backed up before all others, and after all others (see the module comment). */
const FIRST = ['ledger_accounts', 'chain_heads'];
const LAST = ['household_cards'];
/** Documents per insert during a restore. */
const RESTORE_BATCH = 500;
/** Documents per cursor batch during a backup. */
const BACKUP_BATCH = 1000;

export interface IndexSpec {
  name: string;
  key: Record<string, number | string>;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
}

export interface ManifestCollection {
  name: string;
  file: string;
  documents: number;
  bytes: number;
  sha256: string;
  indexes: IndexSpec[];
}

export interface Manifest {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  database: string;
  collections: ManifestCollection[];
}

/** A backup that cannot be written or restored as asked: the message says why. */
export class BackupError extends Error {}

const fileOf = (collection: string) => `${collection}.ejson.gz`;

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function collectionNames(db: Db): Promise<string[]> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .filter((n) => !n.startsWith('system.'));
  return [
    ...FIRST.filter((n) => names.includes(n)),
    ...names.filter((n) => !FIRST.includes(n) && !LAST.includes(n)).sort(),
    ...LAST.filter((n) => names.includes(n)),
  ];
}

function toIndexSpec(ix: Document): IndexSpec {
  const spec: IndexSpec = { name: String(ix.name), key: ix.key as IndexSpec['key'] };
  if (ix.unique) spec.unique = true;
  if (ix.sparse) spec.sparse = true;
  if (typeof ix.expireAfterSeconds === 'number') spec.expireAfterSeconds = ix.expireAfterSeconds;
  return spec;
}

/** Streams one collection into its gzip file; returns its document count. */
async function dumpCollection(db: Db, name: string, file: string): Promise<number> {
  const gzip = createGzip();
  const out = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(out);
  let documents = 0;
  // promoteValues: false keeps doubles, 32- and 64-bit integers as their BSON types (a double 2.0
  // read as the number 2 would come back as an integer).
  for await (const doc of db
    .collection(name)
    .find({}, { batchSize: BACKUP_BATCH, promoteValues: false })) {
    if (!gzip.write(`${EJSON.stringify(doc, { relaxed: false })}\n`)) await once(gzip, 'drain');
    documents++;
  }
  gzip.end();
  await finished(out);
  return documents;
}

/** Backs up every collection of `db` into `dir` (which must not hold a backup already). */
export async function backupDatabase(
  db: Db,
  dir: string,
  onCollection?: (c: ManifestCollection) => void,
): Promise<Manifest> {
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new BackupError(`${dir} is not empty; back up into a new folder.`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const collections: ManifestCollection[] = [];
  for (const name of await collectionNames(db)) {
    const file = path.join(dir, fileOf(name));
    const documents = await dumpCollection(db, name, file);
    const bytes = readFileSync(file).length;
    const entry: ManifestCollection = {
      name,
      file: fileOf(name),
      documents,
      bytes,
      sha256: await sha256OfFile(file),
      indexes: (await db.collection(name).indexes()).map(toIndexSpec),
    };
    collections.push(entry);
    onCollection?.(entry);
  }
  const manifest: Manifest = {
    format: BACKUP_FORMAT,
    createdAt: new Date().toISOString(),
    database: db.databaseName,
    collections,
  };
  // Written last, under its final name only once complete: a folder without it is no backup.
  writeFileSync(path.join(dir, `${MANIFEST_FILE}.part`), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o600,
  });
  renameSync(path.join(dir, `${MANIFEST_FILE}.part`), path.join(dir, MANIFEST_FILE));
  return manifest;
}

/** Reads and checks a backup's manifest and the SHA-256 of every file, before anything is written. */
export async function readBackup(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file))
    throw new BackupError(`${dir} holds no ${MANIFEST_FILE}: not a (complete) backup.`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    throw new BackupError(`${MANIFEST_FILE} is not valid JSON.`);
  }
  if (manifest.format !== BACKUP_FORMAT || !Array.isArray(manifest.collections))
    throw new BackupError(`${MANIFEST_FILE} is not a ${BACKUP_FORMAT} manifest.`);
  for (const c of manifest.collections) {
    if (!/^[A-Za-z0-9_.-]+$/.test(c.name) || c.file !== fileOf(c.name))
      throw new BackupError(`${MANIFEST_FILE} names an unexpected file for ${c.name}.`);
    const data = path.join(dir, c.file);
    if (!existsSync(data)) throw new BackupError(`${c.file} is missing.`);
    if ((await sha256OfFile(data)) !== c.sha256)
      throw new BackupError(
        `${c.file} does not match its SHA-256 in the manifest (altered or damaged).`,
      );
  }
  return manifest;
}

/** The first collection of `db` that holds a document, or undefined when the database is empty. */
async function firstNonEmpty(db: Db): Promise<string | undefined> {
  for (const name of await collectionNames(db)) {
    if (await db.collection(name).findOne({}, { projection: { _id: 1 } })) return name;
  }
  return undefined;
}

/**
 * Creates the collection and the indexes it had, one at a time and only those missing (the
 * connect step already made the models' own; FerretDB 1.24 fails a createIndexes call that lists
 * an index it already has). An index of the same name with other keys is a conflict to resolve
 * by hand, never overwritten.
 */
async function createIndexes(db: Db, c: ManifestCollection): Promise<void> {
  await db.createCollection(c.name).catch((err: { code?: number }) => {
    if (err.code !== 48) throw err; // 48: the collection exists (the connect step made it)
  });
  const target = db.collection(c.name);
  const existing = new Map(
    (await target.indexes()).map((ix) => [String(ix.name), JSON.stringify(ix.key)]),
  );
  for (const { name, key, ...options } of c.indexes) {
    const have = existing.get(name);
    if (have === undefined)
      await target.createIndex(key as IndexSpecification, { name, ...options });
    else if (have !== JSON.stringify(key))
      throw new BackupError(
        `${c.name}: index ${name} exists with other keys (${have}) than in the backup (${JSON.stringify(key)}).`,
      );
  }
}

/** Streams one collection's file into the database in batches; returns the documents inserted. */
async function loadCollection(db: Db, dir: string, c: ManifestCollection): Promise<number> {
  const lines = readline.createInterface({
    input: createReadStream(path.join(dir, c.file)).pipe(createGunzip()),
    crlfDelay: Infinity,
  });
  const target = db.collection(c.name);
  let batch: Document[] = [];
  let inserted = 0;
  const flush = async () => {
    if (!batch.length) return;
    const r = await target.insertMany(batch, { ordered: true });
    inserted += r.insertedCount;
    batch = [];
  };
  for await (const line of lines) {
    if (!line) continue;
    batch.push(EJSON.parse(line, { relaxed: false }) as Document);
    if (batch.length >= RESTORE_BATCH) await flush();
  }
  await flush();
  return inserted;
}

export interface RestoreReport {
  collections: number;
  documents: number;
}

/** Restores a checked backup into `db`, which must hold no document. */
export async function restoreDatabase(
  db: Db,
  dir: string,
  onCollection?: (c: ManifestCollection) => void,
): Promise<RestoreReport> {
  const manifest = await readBackup(dir);
  const busy = await firstNonEmpty(db);
  if (busy)
    throw new BackupError(
      `database ${db.databaseName} is not empty (collection ${busy} holds documents); restore into an empty database.`,
    );
  let documents = 0;
  for (const c of manifest.collections) {
    await createIndexes(db, c);
    const inserted = await loadCollection(db, dir, c);
    assert.equal(
      inserted,
      c.documents,
      `${c.name}: ${inserted} documents restored, the manifest says ${c.documents}`,
    );
    documents += inserted;
    onCollection?.(c);
  }
  return { collections: manifest.collections.length, documents };
}
