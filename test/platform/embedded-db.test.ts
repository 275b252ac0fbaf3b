/**
 * The embedded FerretDB's storage, read with the sqlite3 shell or psql: a look-up by lone `_id`
 * (the only filter the hot paths send) is answered from an index. FerretDB 1.24 indexes `_id`
 * in a form its own queries do not use (SQLite: another expression; PostgreSQL: a btree, while
 * the query asks `@>`), so without the launcher's second index (tools/ferretdb/idindex.go,
 * pgidindex.go) every one of them reads the whole table.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { ctx } from '../support/context';
import { expect } from '../support/expect';
import { makeHousehold, makeVillage } from '../support/factories';
import { award } from '../../src/modules/ledger/ledger.verbs';

/** How SQLite would answer FerretDB's own lone-`_id` query on a collection's table. */
function planOf(file: string, collection: string): string {
  const sql = (q: string) => execFileSync('sqlite3', [file, q], { encoding: 'utf8' }).trim();
  const table = sql(`SELECT table_name FROM _ferretdb_collections WHERE name = '${collection}'`);
  expect(table, `${collection} has a table`).to.match(/^[\w-]+$/);
  // The statement FerretDB 1.24 sends for {_id: <string>} (backends/sqlite/collection.go).
  return sql(
    `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "${table}" WHERE _ferretdb_sjson->'$._id' = '"x"'`,
  );
}

async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (check()) return true;
  return check();
}

describe('platform: the embedded SQLite answers a lone `_id` look-up from an index', () => {
  let file = '';

  before(function () {
    const { config } = ctx();
    if (config.mongodbUri || config.ferretdb.handler !== 'sqlite') this.skip();
    if (spawnSync('sqlite3', ['-version']).status !== 0)
      throw new Error('this test needs the sqlite3 shell (Debian: apt-get install sqlite3)');
    file = path.join(ctx().dataDir, 'ferretdb', `${config.mongodbDb}.sqlite`);
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
    const indexed = () =>
      /SEARCH .* USING INDEX launcher_id_lookup_/.test(planOf(file, 'ledger_entries'));
    expect(await eventually(indexed, 5_000), planOf(file, 'ledger_entries')).to.equal(true);
  });

  it('a collection created while the service runs gets the index within seconds', async function () {
    this.timeout(20_000);
    const name = `late_${Date.now().toString(36)}`;
    await mongoose.connection.db!.collection(name).insertOne({ _id: 'a' } as never);
    const indexed = () => /USING INDEX launcher_id_lookup_/.test(planOf(file, name));
    expect(await eventually(indexed, 10_000), planOf(file, name)).to.equal(true);
  });
});

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

describe('platform: the embedded PostgreSQL answers a lone `_id` look-up from an index', () => {
  let url = '';
  let schema = '';

  before(function () {
    const { config } = ctx();
    if (config.mongodbUri || config.ferretdb.handler !== 'postgresql') this.skip();
    if (spawnSync('psql', ['--version']).status !== 0)
      throw new Error('this test needs psql (Debian: apt-get install postgresql-client)');
    url = config.ferretdb.postgresqlUrl!;
    schema = config.mongodbDb;
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
    const plan = () => pgPlanOf(url, schema, 'ledger_entries');
    expect(
      await eventually(() => /Index Scan on launcher_id_/.test(plan()), 5_000),
      plan(),
    ).to.equal(true);
  });

  it('a collection created while the service runs gets the index within seconds', async function () {
    this.timeout(20_000);
    const name = `late_${Date.now().toString(36)}`;
    await mongoose.connection.db!.collection(name).insertOne({ _id: 'a' } as never);
    const plan = () => pgPlanOf(url, schema, name);
    expect(
      await eventually(() => /Index Scan on launcher_id_/.test(plan()), 10_000),
      plan(),
    ).to.equal(true);
  });
});
