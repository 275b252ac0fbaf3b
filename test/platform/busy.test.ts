/**
 * FerretDB-SQLite under a held write lock: the real SQLITE_BUSY, not a mock of it. Another
 * process (the sqlite3 shell) holds the database file's write lock while the service writes;
 * this file's own embedded FerretDB waits only 25 ms for the lock, so the refusal comes at once.
 *
 * What a user would notice: a posting or a redemption made while the database is briefly busy
 * succeeds (bounded retry), a cache or marker write the database stays too busy for does not
 * fail a redemption that is done, and a write refused through every retry answers 503 with
 * Retry-After, changes nothing it did not finish, and is completed by the client's retry.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { settleBackgroundWrites } from '../../src/platform/background';
import { BUSY_ATTEMPTS, busyStats } from '../../src/platform/busy';
import { connectDb, disconnectDb, ensureIndexes } from '../../src/platform/db';
import { startEmbeddedDb, type EmbeddedDb } from '../../src/platform/embedded-db';
import { GroupCommit, readBackById } from '../../src/platform/group-commit';
import { ledgerFaults, redemptionFaults, redemptionTuning } from '../../src/platform/faults';
import { InflightBatch, type InflightBatchDoc } from '../../src/modules/redemption/inflight.model';
import {
  IN_FLIGHT_WAIT_MS,
  RECOVERY_AGE_MS,
  recoverRedemptions,
} from '../../src/modules/redemption/redemption.service';
import { ctx } from '../support/context';
import { expect } from '../support/expect';
import { http } from '../support/factories';
import {
  account,
  entriesOf,
  expectBooksAgree,
  makeScene,
  newKey,
  redeemVia,
  verifyTouchedChains,
  type Scene,
} from '../modules/redemption/scene';
import { tempDir } from '../support/temp';

const DB_NAME = 'busy';

/** Holds the write lock of a SQLite database file from another process until released. */
async function holdWriteLock(file: string): Promise<{ release(): Promise<void> }> {
  const shell = spawn('sqlite3', [file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: shell.stdout });
  const held = new Promise<void>((resolve) => lines.on('line', (l) => l === 'held' && resolve()));
  // `.timeout`: the shell itself waits for a write FerretDB may be making at that moment.
  shell.stdin.write(".timeout 10000\nBEGIN IMMEDIATE;\nSELECT 'held';\n");
  await held;
  let released: Promise<void> | undefined;
  return {
    release() {
      released ??= (async () => {
        const exited = once(shell, 'exit');
        shell.stdin.end('COMMIT;\n.quit\n');
        await exited;
      })();
      return released;
    },
  };
}

/** Holds the lock for `ms`, then lets go (in the background); resolves once it is held. */
async function busyFor(file: string, ms: number): Promise<{ done: Promise<void> }> {
  const lock = await holdWriteLock(file);
  return { done: sleep(ms).then(() => lock.release()) };
}

describe('platform: the embedded database busy (SQLITE_BUSY under a held write lock)', function () {
  let own: EmbeddedDb | undefined;
  let dataDir = '';
  let file = '';

  before(async function () {
    const { config } = ctx();
    // SQLITE_BUSY is the SQLite backend's alone (PostgreSQL and MongoDB wait on row locks).
    if (config.mongodbUri || config.ferretdb.handler !== 'sqlite') this.skip();
    if (spawnSync('sqlite3', ['-version']).status !== 0)
      throw new Error('these tests need the sqlite3 shell (Debian: apt-get install sqlite3)');
    this.timeout(60_000);
    dataDir = tempDir('busy');
    own = await startEmbeddedDb({
      bin: config.ferretdb.bin,
      handler: 'sqlite',
      dataDir,
      busyTimeoutMs: 25,
      logger: ctx().logger,
    });
    file = path.join(dataDir, 'ferretdb', `${DB_NAME}.sqlite`);
    await disconnectDb();
    await connectDb(own.uri, DB_NAME);
    await ensureIndexes();
  });

  after(async function () {
    if (!own) return;
    this.timeout(60_000);
    await disconnectDb();
    await own.stop();
    await connectDb(ctx().mongoUri, ctx().config.mongodbDb);
  });

  afterEach(() => {
    delete redemptionFaults.after;
    delete ledgerFaults.afterInsert;
    redemptionTuning.staleAfterMs = RECOVERY_AGE_MS;
    redemptionTuning.inFlightWaitMs = IN_FLIGHT_WAIT_MS;
  });
  afterEach(verifyTouchedChains);

  const basket = (s: Scene) => ({
    cardNo: s.households[0]!.cardNo,
    items: [{ sku: 'RICE', qty: 1 }],
  });

  it('a redemption and an adjustment made while another process holds the write lock (until a write is refused, then 300 ms) are answered 201, each written once', async function () {
    this.timeout(60_000);
    const s = await makeScene({ points: 100 });
    const h = s.households[0]!;
    const retriedBefore = busyStats.retried;
    const lock = await holdWriteLock(file);
    const answers = Promise.all([
      redeemVia(s.terminals[0]!, newKey(), basket(s)),
      http()
        .post(`/v1/households/${h.id}/adjustments`)
        .set(s.admin.auth)
        .set('Idempotency-Key', newKey())
        .send({ points: 7, reason: '锁等待中的调整' }),
    ]);
    // Held until a write has been refused (on a slow machine the requests' reads may take longer
    // than a fixed hold), then for 300 ms more: well inside the retries' budget.
    for (let waited = 0; busyStats.retried === retriedBefore && waited < 20_000; waited += 10)
      await sleep(10);
    await sleep(300);
    await lock.release();
    const [red, adj] = await answers;
    expect(red.status, red.text).to.equal(201);
    expect(adj.status, adj.text).to.equal(201);
    expect(busyStats.retried, 'the lock really refused writes').to.be.greaterThan(retriedBefore);
    const entries = await entriesOf(s, h.id);
    expect(entries.filter((e) => e.type === 'redemption')).to.have.length(1);
    expect(entries.filter((e) => e.reason === '锁等待中的调整')).to.have.length(1);
    expect(await account(s, h.id)).to.include({ spendable: 100 - 10 + 7 });
  });

  it('an adjustment whose account-cache write the database refuses through every retry is answered 201, and the account shows it', async function () {
    this.timeout(60_000);
    const s = await makeScene({ points: 100 });
    const h = s.households[0]!;
    let lock: { done: Promise<void> } | undefined;
    // Taken right after the entry is written, held longer than every retry of the cache's write.
    ledgerFaults.afterInsert = async () => {
      delete ledgerFaults.afterInsert;
      lock = await busyFor(file, 3_000);
    };
    const leftBefore = busyStats.leftUndone;
    const res = await http()
      .post(`/v1/households/${h.id}/adjustments`)
      .set(s.admin.auth)
      .set('Idempotency-Key', newKey())
      .send({ points: 9, reason: '账户缓存写入受阻' });
    expect(res.status, res.text).to.equal(201);
    await settleBackgroundWrites(); // the cache is written after the answer
    expect(busyStats.leftUndone, 'the cache write was given up').to.be.greaterThan(leftBefore);
    const scrape = await http().get('/metrics');
    expect(scrape.text).to.include(
      `db_busy_refusals{outcome="left_undone"} ${busyStats.leftUndone}`,
    );
    await lock!.done;
    expect(await account(s, h.id)).to.include({ spendable: 109, merit: 109 });
  });

  it('a redemption whose in-flight marker the database refuses to delete through every retry is answered 201; its key replays it at once and the next sweep deletes the marker', async function () {
    this.timeout(60_000);
    const s = await makeScene({ points: 100 });
    const key = newKey();
    let lock: { done: Promise<void> } | undefined;
    redemptionFaults.after = async (step) => {
      if (step !== 'settled') return;
      delete redemptionFaults.after;
      lock = await busyFor(file, 3_000);
    };
    const leftBefore = busyStats.leftUndone;
    const first = await redeemVia(s.terminals[0]!, key, basket(s));
    expect(first.status, first.text).to.equal(201);
    await settleBackgroundWrites(); // the marker is deleted after the answer
    expect(busyStats.leftUndone, 'the marker was left behind').to.be.greaterThan(leftBefore);
    const markers = async () =>
      (await InflightBatch.find({}).lean<InflightBatchDoc[]>()).filter((b) =>
        b.markers.some((m) => m.redemptionId === first.body.id),
      ).length;
    expect(await markers()).to.equal(1);
    await lock!.done;
    const replay = await redeemVia(s.terminals[0]!, key, basket(s));
    expect(replay.status, replay.text).to.equal(201);
    expect(replay.body).to.deep.equal(first.body);
    // The request ended (its tail done, the marker forgotten here): the sweep has nothing to redo.
    expect(await recoverRedemptions(0)).to.include({ keys: 0, errors: 0 });
    expect(await markers(), 'the sweep deleted the marker left behind').to.equal(0);
    await expectBooksAgree(s, { points: { [s.households[0]!.id]: 100 }, stock: { RICE: 1000 } });
  });

  it('a write refused through every retry answers 503 with Retry-After and changes nothing; the same request sent again is written once', async function () {
    this.timeout(60_000);
    const s = await makeScene({ points: 100 });
    const h = s.households[0]!;
    const send = (key: string) =>
      http()
        .post(`/v1/households/${h.id}/adjustments`)
        .set(s.admin.auth)
        .set('Idempotency-Key', key)
        .send({ points: 5, reason: '繁忙时的调整' });
    const key = newKey();
    const lock = await busyFor(file, 4_000);
    const refused = await send(key);
    expect(refused.status, refused.text).to.equal(503);
    expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).to.equal('2');
    expect(refused.body.code).to.equal('unavailable');
    await lock.done;
    expect(await account(s, h.id)).to.include({ spendable: 100 });
    const again = await send(key);
    expect(again.status, again.text).to.equal(201);
    const adjustments = (await entriesOf(s, h.id)).filter((e) => e.reason === '繁忙时的调整');
    expect(adjustments).to.have.length(1);
    expect(await account(s, h.id)).to.include({ spendable: 105 });
  });

  it('setting up collections and indexes (as at start) while another process holds the write lock for 300 ms succeeds', async function () {
    this.timeout(60_000);
    const lock = await busyFor(file, 300);
    await ensureIndexes();
    await lock.done;
  });

  it('a redemption refused busy after its points were taken answers 503; its key, sent again, settles it once with the same points', async function () {
    this.timeout(60_000);
    redemptionTuning.staleAfterMs = 200;
    const s = await makeScene({ points: 100 });
    const key = newKey();
    let lock: { done: Promise<void> } | undefined;
    redemptionFaults.after = async (step) => {
      if (step !== 'ledgerPosted') return;
      delete redemptionFaults.after;
      lock = await busyFor(file, 4_000);
    };
    const first = await redeemVia(s.terminals[0]!, key, basket(s));
    expect(first.status, first.text).to.equal(503);
    await lock!.done;
    const again = await redeemVia(s.terminals[0]!, key, basket(s));
    expect(again.status, again.text).to.equal(201);
    expect(again.body).to.include({ points: 10, spendableAfter: 90 });
    const { live } = await expectBooksAgree(s, {
      points: { [s.households[0]!.id]: 100 },
      stock: { RICE: 1000 },
    });
    expect(live).to.have.length(1);
  });
});

describe('platform: a group-commit batch refused as busy after part of it was written', () => {
  /** FerretDB's refusal: the command fails as a whole, whatever it wrote before giving up. */
  const busyRefusal = () =>
    Object.assign(new Error('database is locked (5) (SQLITE_BUSY)'), { code: 1 });
  type Doc = Record<string, unknown> & { _id: string };
  const collection = () =>
    mongoose.connection.db!.collection<Doc>(`busy_batch_${Math.random().toString(36).slice(2)}`);

  it('answers the document written before the refusal as written, sends the absent one again, and refuses one whose _id another document took', async () => {
    const coll = collection();
    await coll.insertOne({ _id: 'c', by: '另一请求' });
    const sent: string[][] = [];
    const batch = new GroupCommit<Doc>(
      async (docs) => {
        sent.push(docs.map((d) => d._id));
        if (sent.length === 1) {
          await coll.insertOne(docs[0]!); // written, then the lock wait ran out
          throw busyRefusal();
        }
        await coll.insertMany(docs, { ordered: false });
      },
      { readBack: (doc) => readBackById((_id) => coll.findOne({ _id: _id as string }), doc) },
    );
    const docs: Doc[] = [
      { _id: 'a', by: '本请求', at: new Date() },
      { _id: 'b', by: '本请求', n: 2 },
      { _id: 'c', by: '本请求' },
    ];
    const out = await Promise.allSettled(docs.map((d) => batch.insert(d)));
    expect(out.map((o) => o.status)).to.deep.equal(['fulfilled', 'fulfilled', 'rejected']);
    expect((out[2] as PromiseRejectedResult).reason).to.include({ code: 11000 });
    expect(sent).to.deep.equal([['a', 'b', 'c'], ['b']]);
    const stored = await coll.find({}).sort({ _id: 1 }).toArray();
    expect(stored.map((d) => [d._id, d.by])).to.deep.equal([
      ['a', '本请求'],
      ['b', '本请求'],
      ['c', '另一请求'],
    ]);
  });

  it('gives up after BUSY_ATTEMPTS sends with the busy refusal, having written nothing', async () => {
    const coll = collection();
    let sends = 0;
    const batch = new GroupCommit<Doc>(
      () => {
        sends++;
        return Promise.reject(busyRefusal());
      },
      { readBack: (doc) => readBackById((_id) => coll.findOne({ _id: _id as string }), doc) },
    );
    const out = await Promise.allSettled([batch.insert({ _id: 'x' }), batch.insert({ _id: 'y' })]);
    expect(out.map((o) => o.status)).to.deep.equal(['rejected', 'rejected']);
    expect(String((out[0] as PromiseRejectedResult).reason)).to.match(/SQLITE_BUSY/);
    expect(sends).to.equal(BUSY_ATTEMPTS);
    expect(await coll.countDocuments({})).to.equal(0);
  });
});
