/**
 * The ledger's invariants I1–I5 (src/modules/ledger/ledger.service.ts), each attacked:
 * many writers at once (over HTTP, in-process and from two processes), retried sources,
 * shortfalls, attempts to edit entries, a crash between the entry and the cache, and a
 * corrupted cache. Every test ends by recomputing the chains it touched.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import mongoose, { Types } from 'mongoose';
import request from 'supertest';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeVillage,
  verifyChainViaApi,
  type TestUser,
} from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { Account, Entry } from '../../../src/modules/ledger/ledger.model';
import { settleBackgroundWrites } from '../../../src/platform/background';
import {
  getAccount,
  postEntry,
  verifyChain,
  type PostEntryInput,
} from '../../../src/modules/ledger/ledger.service';
import { DomainError } from '../../../src/platform/errors';
import { ledgerFaults } from '../../../src/platform/faults';

const award = (
  householdId: string,
  pts: number,
  sourceId = new Types.ObjectId().toHexString(),
): PostEntryInput => ({
  householdId,
  type: 'award',
  points: pts,
  spendableDelta: pts,
  meritDelta: pts,
  shortfall: 'clamp',
  source: { type: 'test-award', id: sourceId },
  ruleCode: 'TEST',
});

const redemption = (
  householdId: string,
  pts: number,
  sourceId = new Types.ObjectId().toHexString(),
): PostEntryInput => ({
  householdId,
  type: 'redemption',
  points: -pts,
  spendableDelta: -pts,
  meritDelta: 0,
  shortfall: 'reject',
  source: { type: 'test-redemption', id: sourceId },
});

async function expectChainSound(householdId: string, admin: TestUser) {
  expect(await verifyChain(householdId)).to.equal(undefined);
  return verifyChainViaApi(householdId, admin.auth);
}

describe('ledger invariants', () => {
  let admin: TestUser;
  let villageId: string;

  before(async () => {
    admin = await makeAdmin();
    villageId = (await makeVillage()).id;
  });

  afterEach(() => {
    delete ledgerFaults.afterInsert;
  });

  describe('I1 seq without gap', () => {
    let server: Server;
    let base: string;

    before(async () => {
      // One listening server for the burst, instead of one per supertest request.
      server = createServer(ctx().app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('POST /v1/households/:id/adjustments › 200 at once give seq 1…200, balances equal to the sum, and a chain that recomputes from the entries endpoint', async function () {
      this.timeout(120_000);
      const h = await makeHousehold(villageId);
      const amounts = Array.from({ length: 200 }, (_, i) => 1 + ((i * 37) % 97));
      const sum = amounts.reduce((a, b) => a + b, 0);

      const replies = await Promise.all(
        amounts.map((pts, i) =>
          request(base)
            .post(`/v1/households/${h.id}/adjustments`)
            .set(admin.auth)
            .set('Idempotency-Key', `burst-${i}`)
            .send({ points: pts, reason: `批量调整 ${i}` }),
        ),
      );
      for (const r of replies) expect(r.status, JSON.stringify(r.body)).to.equal(201);
      expect(replies.map((r) => r.body.seq as number).sort((a, b) => a - b)).to.deep.equal(
        Array.from({ length: 200 }, (_, i) => i + 1),
      );

      const account = await http().get(`/v1/households/${h.id}/account`).set(admin.auth);
      expect(account.status).to.equal(200);
      expect(account.body).to.include({
        householdId: h.id,
        spendable: sum,
        merit: sum,
        entryCount: 200,
      });

      const entries = await expectChainSound(h.id, admin);
      expect(entries).to.have.length(200);
      expect(account.body.head).to.deep.equal({ seq: 200, hash: entries[199]!.hash });
      // Every request posted exactly its own amount, once (each under an opaque source of its own).
      const byReason = new Map(entries.map((e) => [e.reason as string, e.points as number]));
      expect(byReason.size).to.equal(200);
      expect(new Set(entries.map((e) => e.sourceId)).size).to.equal(200);
      amounts.forEach((pts, i) => expect(byReason.get(`批量调整 ${i}`)).to.equal(pts));
    });

    it('postEntry › two processes posting to one household at once keep seq without gap or duplicate, and a source both post lands once', async function () {
      this.timeout(120_000);
      const h = await makeHousehold(villageId);
      const shared = Array.from({ length: 20 }, (_, i) => `shared-${h.id}-${i}`);
      const own = (tag: string) => Array.from({ length: 40 }, (_, i) => `${tag}-${h.id}-${i}`);
      const child = (sources: string[]) => {
        const p = spawn(
          process.execPath,
          ['--require', 'tsx/cjs', path.join(__dirname, 'post-entries.child.ts')],
          {
            cwd: path.resolve(__dirname, '../../..'),
            env: {
              ...process.env,
              MSL_CHILD_URI: ctx().mongoUri,
              MSL_CHILD_DB: ctx().config.mongodbDb,
              MSL_CHILD_HOUSEHOLD: h.id,
              MSL_CHILD_SOURCES: sources.join(','),
            },
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        let out = '';
        let err = '';
        let onReady: () => void;
        const ready = new Promise<void>((resolve) => (onReady = resolve));
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.startsWith('ready\n')) onReady();
        });
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const done = new Promise<{ created: number; replayed: number }>((resolve, reject) =>
          p.on('exit', (code) => {
            onReady();
            if (code === 0)
              resolve(
                JSON.parse(out.trim().split('\n').pop()!) as { created: number; replayed: number },
              );
            else reject(new Error(`child exited ${code}: ${err}`));
          }),
        );
        return { p, ready, done };
      };
      const a = child([...own('a'), ...shared]);
      const b = child([...shared, ...own('b')]);
      await Promise.all([a.ready, b.ready]);
      a.p.stdin.end('go\n');
      b.p.stdin.end('go\n');
      const [ra, rb] = await Promise.all([a.done, b.done]);

      expect(ra.created + rb.created).to.equal(100);
      expect(ra.replayed + rb.replayed).to.equal(20);
      const entries = await expectChainSound(h.id, admin);
      expect(entries.map((e) => e.seq)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(new Set(entries.map((e) => e.sourceId)).size).to.equal(100);
      expect(await getAccount(h.id)).to.include({ spendable: 100, merit: 100, entryCount: 100 });
    });
  });

  describe('head hints (the head of a chain held in memory by the process that last wrote it)', () => {
    /** Posts one point per source from another process (post-entries.child.ts) and waits for it. */
    async function postElsewhere(householdId: string, sources: string[]): Promise<void> {
      const p = spawn(
        process.execPath,
        ['--require', 'tsx/cjs', path.join(__dirname, 'post-entries.child.ts')],
        {
          cwd: path.resolve(__dirname, '../../..'),
          env: {
            ...process.env,
            MSL_CHILD_URI: ctx().mongoUri,
            MSL_CHILD_DB: ctx().config.mongodbDb,
            MSL_CHILD_HOUSEHOLD: householdId,
            MSL_CHILD_SOURCES: sources.join(','),
          },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.stdout.once('data', () => p.stdin.end('go\n'));
      const code = await new Promise<number | null>((resolve) => p.on('exit', resolve));
      expect(code, err).to.equal(0);
    }

    it('postEntry › a hint made stale by another process costs a retry: entries follow the other process’s, and a spend they cover is not refused', async function () {
      this.timeout(120_000);
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 1)); // this process now holds seq 1, spendable 1
      await postElsewhere(
        h.id,
        ['x1', 'x2', 'x3', 'x4', 'x5'].map((x) => `${x}-${h.id}`),
      ); // seq 2–6
      // The hint says spendable 1; the chain says 6: the spend is decided on the chain.
      const { entry: spent } = await postEntry(redemption(h.id, 4));
      expect(spent).to.include({ seq: 7, spendableAfter: 2, meritAfter: 6 });
      await postElsewhere(h.id, [`y1-${h.id}`]); // seq 8, behind this process's hint (seq 7)
      const { entry: next } = await postEntry(award(h.id, 10));
      expect(next).to.include({ seq: 9, spendableAfter: 13, meritAfter: 17 });
      await expectChainSound(h.id, admin);
      expect(await getAccount(h.id)).to.include({ spendable: 13, merit: 17, entryCount: 9 });
    });
  });

  describe('I2 balances', () => {
    it('an award raises both balances and a redemption lowers spendable only', async () => {
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 100));
      const { entry } = await postEntry(redemption(h.id, 30));
      expect(entry).to.include({
        type: 'redemption',
        points: -30,
        spendableDelta: -30,
        meritDelta: 0,
        spendableAfter: 70,
        meritAfter: 100,
      });
      await expectChainSound(h.id, admin);
    });

    it('POST /v1/households/:id/adjustments › a deduction larger than spendable takes spendable to 0 and lowers merit by the full amount', async () => {
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 100));
      await postEntry(redemption(h.id, 70)); // spendable 30, merit 100
      const res = await http()
        .post(`/v1/households/${h.id}/adjustments`)
        .set(admin.auth)
        .send({ points: -50, reason: '扣分更正' });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({
        seq: 3,
        type: 'adjustment',
        points: -50,
        spendableDelta: -30,
        meritDelta: -50,
        spendableAfter: 0,
        meritAfter: 50,
      });
      const account = await http().get(`/v1/households/${h.id}/account`).set(admin.auth);
      expect(account.body).to.include({ spendable: 0, merit: 50, entryCount: 3 });
      // Spendable stays at 0 for a further deduction; merit may go below zero.
      const again = await http()
        .post(`/v1/households/${h.id}/adjustments`)
        .set(admin.auth)
        .send({ points: -60, reason: '再次扣分' });
      expect(again.body).to.include({
        spendableDelta: 0,
        meritDelta: -60,
        spendableAfter: 0,
        meritAfter: -10,
      });
      await expectChainSound(h.id, admin);
    });

    it("postEntry › a 'reject' shortfall throws insufficient_points and writes nothing", async () => {
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 50));
      const before = await countAll();
      const headBefore = await getAccount(h.id);
      let thrown: unknown;
      try {
        await postEntry(redemption(h.id, 51));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(DomainError);
      expect((thrown as DomainError).code).to.equal('insufficient_points');
      await expectNothingStored(before);
      expect(await getAccount(h.id)).to.deep.equal(headBefore);
      await expectChainSound(h.id, admin);
    });

    it("postEntry › concurrent 'reject' spends never overdraw: 10 × 30 against 100 → exactly 3 succeed", async () => {
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 100));
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => postEntry(redemption(h.id, 30))),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(ok).to.have.length(3);
      for (const r of refused)
        expect((r.reason as DomainError).code).to.equal('insufficient_points');
      expect(await getAccount(h.id)).to.include({ spendable: 10, merit: 100, entryCount: 4 });
      await expectChainSound(h.id, admin);
    });

    it('postEntry › refuses fractional or unsafe points before writing anything', async () => {
      const h = await makeHousehold(villageId);
      const before = await countAll();
      for (const pts of [1.5, 2 ** 53, Number.NaN, Infinity]) {
        let thrown: unknown;
        try {
          await postEntry(award(h.id, pts));
        } catch (err) {
          thrown = err;
        }
        expect(thrown, String(pts)).to.be.instanceOf(Error);
      }
      await expectNothingStored(before);
    });
  });

  describe('I3 a source posts at most once', () => {
    it('postEntry › 20 concurrent posts of the same source create one entry and all return it', async () => {
      const h = await makeHousehold(villageId);
      const source = new Types.ObjectId().toHexString();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => postEntry(award(h.id, 7, source))),
      );
      expect(results.filter((r) => r.created)).to.have.length(1);
      for (const r of results) expect(r.entry).to.deep.equal(results[0]!.entry);
      expect(await Entry.countDocuments({ householdId: h.id })).to.equal(1);
      expect(await getAccount(h.id)).to.include({ spendable: 7, merit: 7, entryCount: 1 });
      await expectChainSound(h.id, admin);
    });

    it('postEntry › a source retried later returns the first posting and moves nothing', async () => {
      const h = await makeHousehold(villageId);
      const source = new Types.ObjectId().toHexString();
      const first = await postEntry(award(h.id, 5, source));
      await postEntry(award(h.id, 3));
      const again = await postEntry(award(h.id, 5, source));
      expect(again).to.deep.equal({ entry: first.entry, created: false });
      expect(await getAccount(h.id)).to.include({ spendable: 8, entryCount: 2 });
      await expectChainSound(h.id, admin);
    });

    it('POST /v1/households/:id/adjustments › the same Idempotency-Key twice at once posts once; with other values it is 422 idempotency_key_reused', async () => {
      const h = await makeHousehold(villageId);
      const send = (pts: number) =>
        http()
          .post(`/v1/households/${h.id}/adjustments`)
          .set(admin.auth)
          .set('Idempotency-Key', 'same-key')
          .send({ points: pts, reason: '更正' });
      const [a, b] = await Promise.all([send(10), send(10)]);
      expect([a.status, b.status]).to.deep.equal([201, 201]);
      expect(a.body).to.deep.equal(b.body);
      const before = await countAll();
      const other = await send(11);
      expect(other.status).to.equal(422);
      expect(other.body.code).to.equal('idempotency_key_reused');
      await expectNothingStored(before);
      expect(await getAccount(h.id)).to.include({ spendable: 10, entryCount: 1 });
      await expectChainSound(h.id, admin);
    });
  });

  describe('I4 entries are never edited or deleted', () => {
    let householdId: string;
    before(async () => {
      householdId = (await makeHousehold(villageId)).id;
      await postEntry(award(householdId, 10));
      await postEntry(award(householdId, 20));
    });

    const attempts: [string, () => Promise<unknown>][] = [
      ['updateOne', () => Entry.updateOne({ householdId }, { $set: { points: 999 } })],
      ['updateMany', () => Entry.updateMany({ householdId }, { $set: { points: 999 } })],
      [
        'findOneAndUpdate',
        () => Entry.findOneAndUpdate({ householdId }, { $set: { points: 999 } }),
      ],
      ['replaceOne', () => Entry.replaceOne({ householdId, seq: 1 }, {})],
      ['findOneAndReplace', () => Entry.findOneAndReplace({ householdId, seq: 1 }, {})],
      ['deleteOne', () => Entry.deleteOne({ householdId })],
      ['deleteMany', () => Entry.deleteMany({ householdId })],
      ['findOneAndDelete', () => Entry.findOneAndDelete({ householdId })],
      [
        'document save after a change',
        async () => {
          const doc = await Entry.findOne({ householdId, seq: 1 });
          doc!.points = 999;
          await doc!.save();
        },
      ],
      [
        'document deleteOne',
        async () => {
          const doc = await Entry.findOne({ householdId, seq: 1 });
          await doc!.deleteOne();
        },
      ],
      [
        'document updateOne',
        async () => {
          const doc = await Entry.findOne({ householdId, seq: 1 });
          await doc!.updateOne({ $set: { points: 999 } });
        },
      ],
      [
        'bulkWrite',
        () =>
          Entry.bulkWrite([
            { updateOne: { filter: { householdId }, update: { $set: { points: 999 } } } },
          ]),
      ],
    ];
    for (const [name, attempt] of attempts) {
      it(`the Entry model refuses ${name}`, async () => {
        const before = await Entry.find({ householdId }).sort({ seq: 1 }).lean();
        let thrown: unknown;
        try {
          await attempt();
        } catch (err) {
          thrown = err;
        }
        expect(thrown, name).to.be.instanceOf(Error);
        expect(await Entry.find({ householdId }).sort({ seq: 1 }).lean()).to.deep.equal(before);
        expect(await verifyChain(householdId)).to.equal(undefined);
      });
    }

    it('an entry changed behind the service breaks the chain at that seq', async () => {
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 10));
      await postEntry(award(h.id, 20));
      await postEntry(award(h.id, 30));
      // Straight through the driver, as someone with database access would.
      await mongoose.connection
        .db!.collection('ledger_entries')
        .updateOne({ householdId: h.id, seq: 2 }, { $set: { points: 2000 } });
      expect(await verifyChain(h.id)).to.deep.include({ householdId: h.id, seq: 2 });
    });
  });

  describe('I5 the account is a cache of the chain', () => {
    it('POST /v1/households/:id/adjustments › a crash between the entry and the cache update: 500, the account is right on the next read, and a retry with the same Idempotency-Key posts nothing twice', async () => {
      const h = await makeHousehold(villageId);
      await http()
        .post(`/v1/households/${h.id}/adjustments`)
        .set(admin.auth)
        .send({ points: 40, reason: '初始' });
      // The first posting's cache is written after it answers: let it land before the crash.
      await settleBackgroundWrites();
      let crashes = 0;
      ledgerFaults.afterInsert = () => {
        if (crashes++ === 0) throw new Error('simulated crash after the entry insert');
      };
      const send = () =>
        http()
          .post(`/v1/households/${h.id}/adjustments`)
          .set(admin.auth)
          .set('Idempotency-Key', 'crash-1')
          .send({ points: 25, reason: '崩溃重试' });

      const crashed = await send();
      expect(crashed.status).to.equal(500);
      expect(crashed.body.code).to.equal('internal_error');
      // Logged, not shown: the problem names no internals.
      expect(crashed.text).not.to.contain('simulated crash');
      expect(Object.keys(crashed.body).sort()).to.deep.equal([
        'code',
        'detail',
        'reason',
        'requestId',
        'status',
        'title',
        'type',
      ]);
      expect(crashed.body.reason).to.equal('internal_error');
      // The entry landed; the cache still shows the old head.
      expect(await Entry.countDocuments({ householdId: h.id })).to.equal(2);
      expect(await Account.findById(h.id).lean()).to.include({ seq: 1, spendable: 40 });

      const account = await http().get(`/v1/households/${h.id}/account`).set(admin.auth);
      expect(account.body).to.include({ spendable: 65, merit: 65, entryCount: 2 });
      await settleBackgroundWrites(); // the repair is not waited for by the read
      expect(await Account.findById(h.id).lean()).to.include({
        seq: 2,
        spendable: 65,
        merit: 65,
        hash: account.body.head.hash,
      });

      const retried = await send();
      expect(retried.status).to.equal(201);
      expect(retried.body).to.include({ seq: 2, points: 25, spendableAfter: 65 });
      expect(await Entry.countDocuments({ householdId: h.id })).to.equal(2);
      expect(crashes).to.equal(1);
      await expectChainSound(h.id, admin);
    });

    it('postEntry › after a crash before the cache update, the next write repairs the cache', async () => {
      const h = await makeHousehold(villageId);
      ledgerFaults.afterInsert = () => {
        throw new Error('simulated crash');
      };
      let thrown: unknown;
      try {
        await postEntry(award(h.id, 10));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(Error);
      expect(await Account.findById(h.id).lean()).to.equal(null);
      delete ledgerFaults.afterInsert;
      await postEntry(award(h.id, 5));
      await settleBackgroundWrites(); // the cache is written after the posting returns
      expect(await Account.findById(h.id).lean()).to.include({ seq: 2, spendable: 15, merit: 15 });
      await expectChainSound(h.id, admin);
    });

    const corruptions: [string, Record<string, unknown>][] = [
      ['balances changed', { spendable: 1_000_000, merit: 1_000_000 }],
      ['a head ahead of the chain', { seq: 999, hash: 'f'.repeat(64), spendable: 5 }],
      ['a head behind the chain', { seq: 1, spendable: 0, merit: 0 }],
    ];
    for (const [name, set] of corruptions) {
      it(`GET /v1/households/:id/account › a cache corrupted in the database (${name}) is answered from the chain and repaired`, async () => {
        const h = await makeHousehold(villageId);
        await postEntry(award(h.id, 10));
        await postEntry(award(h.id, 20));
        await postEntry(redemption(h.id, 5));
        await settleBackgroundWrites(); // no cache write may land after the corruption
        await mongoose.connection
          .db!.collection('ledger_accounts')
          .updateOne({ _id: h.id as never }, { $set: set });

        const res = await http().get(`/v1/households/${h.id}/account`).set(admin.auth);
        expect(res.body).to.include({ spendable: 25, merit: 30, entryCount: 3 });
        await settleBackgroundWrites();
        expect(await Account.findById(h.id).lean()).to.include({
          seq: 3,
          spendable: 25,
          merit: 30,
          hash: res.body.head.hash,
        });
        // Writes go on from the chain, not from the cache.
        const { entry } = await postEntry(award(h.id, 1));
        expect(entry).to.include({ seq: 4, spendableAfter: 26, meritAfter: 31 });
        await expectChainSound(h.id, admin);
      });
    }

    it('GET /v1/households/:id/account › a missing cache document is rebuilt from the chain', async () => {
      const h = await makeHousehold(villageId);
      await postEntry(award(h.id, 12));
      await settleBackgroundWrites();
      await mongoose.connection.db!.collection('ledger_accounts').deleteOne({ _id: h.id as never });
      const res = await http().get(`/v1/households/${h.id}/account`).set(admin.auth);
      expect(res.body).to.include({ spendable: 12, merit: 12, entryCount: 1 });
      await settleBackgroundWrites();
      expect(await Account.findById(h.id).lean()).to.include({ seq: 1, spendable: 12 });
    });
  });
});
