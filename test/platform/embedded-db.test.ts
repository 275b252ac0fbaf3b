/**
 * The embedded FerretDB's storage, read with the sqlite3 shell or psql: a look-up by lone `_id`
 * (the only filter the hot paths send) is answered from an index. FerretDB 1.24 indexes `_id`
 * in a form its own queries do not use (SQLite: another expression; PostgreSQL: a btree, while
 * the query asks `@>`), so without the launcher's second index (tools/ferretdb/idindex.go,
 * pgidindex.go) every one of them reads the whole table.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { ctx } from '../support/context';
import { expect } from '../support/expect';
import { makeHousehold, makeVillage } from '../support/factories';
import { award } from '../../src/modules/ledger/ledger.verbs';
import { tempDir } from '../support/temp';

/** How SQLite would answer FerretDB's own lone-`_id` query on a collection's table. */
function sqlitePlanOf(file: string, collection: string): string {
  const sql = (q: string) => execFileSync('sqlite3', [file, q], { encoding: 'utf8' }).trim();
  const table = sql(`SELECT table_name FROM _ferretdb_collections WHERE name = '${collection}'`);
  expect(table, `${collection} has a table`).to.match(/^[\w-]+$/);
  // The statement FerretDB 1.24 sends for {_id: <string>} (backends/sqlite/collection.go).
  return sql(
    `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "${table}" WHERE _ferretdb_sjson->'$._id' = '"x"'`,
  );
}

/** How PostgreSQL would answer FerretDB's own lone-`_id` query, a scan allowed only as the last resort. */
function pgPlanOf(url: string, schema: string, collection: string): string {
  const sql = (q: string) =>
    execFileSync('psql', [url, '-AtX', '-c', q], { encoding: 'utf8' }).trim();
  const table = sql(
    `SELECT _jsonb->>'table' FROM "${schema}"._ferretdb_database_metadata WHERE _jsonb->>'_id' = '${collection}'`,
  );
  expect(table, `${collection} has a table`).to.match(/^[\w-]+$/);
  // The statement FerretDB 1.24 sends for {_id: <string>} (backends/postgresql/query.go).
  return sql(
    `SET enable_seqscan = off; EXPLAIN SELECT _jsonb FROM "${schema}"."${table}" WHERE _jsonb->'_id' @> '"x"'`,
  );
}

async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (check()) return true;
  return check();
}

/**
 * The two checks on one backend: `setUp` (run only on that backend) returns how to read a
 * collection's plan for FerretDB's lone-`_id` query, `indexed` what the plan says with the
 * launcher's index.
 */
function describeIdIndex(
  backend: string,
  handler: 'sqlite' | 'postgresql',
  setUp: () => (collection: string) => string,
  indexed: RegExp,
) {
  describe(`platform: the embedded ${backend} answers a lone \`_id\` look-up from an index`, () => {
    let planOf: (collection: string) => string = () => '';

    before(function () {
      const { config } = ctx();
      if (config.mongodbUri || config.ferretdb.handler !== handler) this.skip();
      planOf = setUp();
    });

    it('the ledger entries of a posting are found by `_id` through an index, not a scan of the table', async function () {
      this.timeout(20_000);
      const village = await makeVillage();
      const h = await makeHousehold(village.id);
      await award({
        householdId: h.id,
        points: 3,
        source: { type: 'test', id: h.id },
        reason: '索引',
      });
      const plan = () => planOf('ledger_entries');
      expect(await eventually(() => indexed.test(plan()), 5_000), plan()).to.equal(true);
    });

    it('a collection created while the service runs gets the index within seconds', async function () {
      this.timeout(20_000);
      const name = `late_${Date.now().toString(36)}`;
      await mongoose.connection.db!.collection(name).insertOne({ _id: 'a' } as never);
      const plan = () => planOf(name);
      expect(await eventually(() => indexed.test(plan()), 10_000), plan()).to.equal(true);
    });
  });
}

describeIdIndex(
  'SQLite',
  'sqlite',
  () => {
    if (spawnSync('sqlite3', ['-version']).status !== 0)
      throw new Error('this test needs the sqlite3 shell (Debian: apt-get install sqlite3)');
    const { config } = ctx();
    const file = path.join(ctx().dataDir, 'ferretdb', `${config.mongodbDb}.sqlite`);
    return (collection) => sqlitePlanOf(file, collection);
  },
  /USING (COVERING )?INDEX launcher_id_lookup_/,
);

describeIdIndex(
  'PostgreSQL',
  'postgresql',
  () => {
    if (spawnSync('psql', ['--version']).status !== 0)
      throw new Error('this test needs psql (Debian: apt-get install postgresql-client)');
    const { config } = ctx();
    return (collection) => pgPlanOf(config.ferretdb.postgresqlUrl!, config.mongodbDb, collection);
  },
  /Index Scan on launcher_id_/,
);

describe('platform: the embedded PostgreSQL keeps its `_id` look-ups indexed as tables grow', () => {
  let sql: (q: string) => string = () => '';
  let schema = '';

  before(function () {
    const { config } = ctx();
    if (config.mongodbUri || config.ferretdb.handler !== 'postgresql') this.skip();
    const url = config.ferretdb.postgresqlUrl!;
    sql = (q) => execFileSync('psql', [url, '-AtX', '-c', q], { encoding: 'utf8' }).trim();
    schema = config.mongodbDb;
  });

  it('the index takes keys at once (fastupdate off), and one switched back is switched over again', async function () {
    this.timeout(20_000);
    const village = await makeVillage();
    const h = await makeHousehold(village.id);
    await award({ householdId: h.id, points: 1, source: { type: 'test', id: h.id } });
    const table = sql(
      `SELECT _jsonb->>'table' FROM "${schema}"._ferretdb_database_metadata WHERE _jsonb->>'_id' = 'ledger_entries'`,
    );
    const index = () =>
      sql(
        `SELECT c.oid::regclass::text || ' ' || coalesce(array_to_string(c.reloptions, ','), '')
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = '${schema}' AND t.relname = '${table}' AND c.relname LIKE 'launcher\\_id\\_%'`,
      );
    expect(await eventually(() => / fastupdate=off$/.test(index()), 5_000), index()).to.equal(true);
    // As an older launcher left it: new keys wait in a list every look-up reads through.
    const name = index().split(' ')[0]!;
    // Switched and read in one transaction: the launcher's sweep may switch it back at any moment
    // after, and a separate read raced it (seen in CI).
    const switched = sql(
      `BEGIN; ALTER INDEX ${name} SET (fastupdate = on);
       SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = '${name}'::regclass; COMMIT;`,
    );
    expect(switched).to.match(/(^|\n)fastupdate=on($|\n)/);
    expect(await eventually(() => / fastupdate=off$/.test(index()), 5_000), index()).to.equal(true);
  });

  it('a table grown by more than 1,000 rows is analyzed within seconds, autovacuum or not', async function () {
    this.timeout(40_000);
    const name = `grown_${Date.now().toString(36)}`;
    const docs = Array.from({ length: 1_500 }, (_, i) => ({ _id: `${name}:${i}`, n: i }));
    await mongoose.connection.db!.collection(name).insertMany(docs as never[]);
    const table = sql(
      `SELECT _jsonb->>'table' FROM "${schema}"._ferretdb_database_metadata WHERE _jsonb->>'_id' = '${name}'`,
    );
    const analyzed = () =>
      sql(
        `SELECT coalesce(last_analyze, last_autoanalyze) IS NOT NULL FROM pg_stat_user_tables
         WHERE schemaname = '${schema}' AND relname = '${table}'`,
      );
    // A backend reports its row counts to the statistics within about 10 s of going idle.
    expect(await eventually(() => analyzed() === 't', 25_000), 'analyzed').to.equal(true);
  });
});

describe('platform: the embedded database never outlives the process that started it', () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('a process killed with -9 leaves no FerretDB running on its folder', async function () {
    this.timeout(60_000);
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'embedded-db-parent.child.ts')],
      {
        env: {
          ...process.env,
          MSL_CHILD_FERRETDB_BIN: ctx().config.ferretdb.bin,
          MSL_CHILD_DATA_DIR: tempDir('orphan'),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const launcher = await new Promise<number>((resolve, reject) => {
      createInterface({ input: parent.stdout }).on('line', (line) => {
        const m = /^LAUNCHER (\d+)$/.exec(line);
        if (m) resolve(Number(m[1]));
      });
      parent.once('exit', (code) =>
        reject(new Error(`the parent exited (${code}) before its database was ready`)),
      );
    });
    expect(alive(launcher), 'the launcher runs while its parent does').to.equal(true);
    parent.kill('SIGKILL');
    expect(await eventually(() => !alive(launcher), 10_000), 'the launcher is gone').to.equal(true);
  });
});
