/**
 * Runs (platform/run-commit.ts, ledger.posting.ts): postings to one household that wait for the
 * same turn are built one on another and sent as one ordered insert. These tests try to break a
 * chain through a run: refusals in the middle of a burst, a source twice in one burst, a source
 * posted before it, a head another process moved, a document the database refuses, a reply lost
 * after the write, a batch that failed before anything was written, and a crash after an entry.
 * Every chain touched is recomputed from its entries.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { makeHousehold, makeVillage } from '../../support/factories';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import { entryRunStats } from '../../../src/modules/ledger/ledger.posting';
import {
  entryAt,
  getAccount,
  verifyChain,
  type PostEntryResult,
} from '../../../src/modules/ledger/ledger.service';
import { award, redeem } from '../../../src/modules/ledger/ledger.verbs';
import { ledgerFaults } from '../../../src/platform/faults';
import { entryOfAnotherProcess } from './another-process';

const src = (id = new Types.ObjectId().toHexString()) => ({ type: 'test-run', id });
const awardOf = (householdId: string, points: number, source = src()) =>
  award({ householdId, points, source, ruleCode: 'TEST' });

/** Runs sent while `fn` ran: entries that went in runs, and the runs. */
async function countingRuns<T>(fn: () => Promise<T>): Promise<{ result: T; inRuns: number }> {
  const before = entryRunStats();
  const result = await fn();
  return { result, inRuns: entryRunStats().documents - before.documents };
}

async function expectChain(householdId: string, spendable: number, merit: number, last: number) {
  expect(await verifyChain(householdId)).to.equal(undefined);
  const account = await getAccount(householdId);
  expect({ spendable: account.spendable, merit: account.merit }).to.deep.equal({
    spendable,
    merit,
  });
  expect((await entryAt(householdId, last))?.seq).to.equal(last);
  expect(await entryAt(householdId, last + 1)).to.equal(undefined);
}

describe('ledger runs: postings that waited for one household go as one ordered insert', function () {
  this.timeout(60_000);
  let villageId: string;
  const newHousehold = async () => (await makeHousehold(villageId)).id;

  before(async () => {
    villageId = (await makeVillage()).id;
  });

  afterEach(() => {
    delete ledgerFaults.inRun;
    delete ledgerFaults.afterRun;
    delete ledgerFaults.inBatch;
    delete ledgerFaults.afterInsert;
  });

  it('64 postings at once to one household: the chain is 1…65 in the order they came, each answered with its own entry, most of them sent in runs', async () => {
    const h = await newHousehold();
    await awardOf(h, 1); // the head in memory: the burst below forms runs
    const points = Array.from({ length: 64 }, (_, i) => 1 + ((i * 7) % 13));
    const { result: replies, inRuns } = await countingRuns(() =>
      Promise.all(points.map((p) => awardOf(h, p))),
    );
    replies.forEach((r, i) => {
      expect(r.created).to.equal(true);
      expect(r.entry.seq).to.equal(i + 2);
      expect(r.entry.points).to.equal(points[i]);
    });
    expect(inRuns).to.be.at.least(32);
    const sum = 1 + points.reduce((a, b) => a + b, 0);
    await expectChain(h, sum, sum, 65);
  });

  it('a burst of redemptions and awards: each refusal is decided in turn on the balance before it, and nothing goes below zero', async () => {
    const h = await newHousehold();
    await awardOf(h, 10);
    const steps = [
      () => redeem({ householdId: h, points: 4, source: src() }), // 6
      () => redeem({ householdId: h, points: 4, source: src() }), // 2
      () => redeem({ householdId: h, points: 4, source: src() }), // refused
      () => awardOf(h, 5), // 7
      () => redeem({ householdId: h, points: 4, source: src() }), // 3
      () => redeem({ householdId: h, points: 4, source: src() }), // refused
      () => redeem({ householdId: h, points: 3, source: src() }), // 0
    ];
    const outcomes = await Promise.allSettled(steps.map((s) => s()));
    const code = (o: PromiseSettledResult<PostEntryResult>) =>
      o.status === 'fulfilled'
        ? o.value.entry.spendableAfter
        : (o.reason as { code?: string }).code;
    expect(outcomes.map(code)).to.deep.equal([
      6,
      2,
      'insufficient_points',
      7,
      3,
      'insufficient_points',
      0,
    ]);
    await expectChain(h, 0, 15, 6);
  });

  it('a source twice in one burst, and a source posted before it: one entry each; the repeats are answered with the first entry', async () => {
    const h = await newHousehold();
    const earlier = src();
    const first = await awardOf(h, 2, earlier);
    const twice = src();
    const replies = await Promise.all([
      awardOf(h, 3, twice),
      awardOf(h, 4),
      awardOf(h, 3, twice),
      awardOf(h, 5),
      awardOf(h, 2, earlier),
      awardOf(h, 6),
    ]);
    expect(replies.map((r) => r.created)).to.deep.equal([true, true, false, true, false, true]);
    expect(replies[2]!.entry).to.deep.equal(replies[0]!.entry);
    expect(replies[4]!.entry).to.deep.equal(first.entry);
    expect([0, 1, 3, 5].map((i) => replies[i]!.entry.seq)).to.deep.equal([2, 3, 4, 5]);
    expect(await Entry.countDocuments({ sourceType: 'test-run', sourceId: twice.id })).to.equal(1);
    expect(await Entry.countDocuments({ sourceType: 'test-run', sourceId: earlier.id })).to.equal(
      1,
    );
    await expectChain(h, 20, 20, 5);
  });

  it('another process moved the head: the run built on the old one is refused at its first entry, and every posting goes through on the new head', async () => {
    const h = await newHousehold();
    await awardOf(h, 10);
    const other = await entryOfAnotherProcess(h, 1, 'test-run');
    const sent: string[][] = [];
    ledgerFaults.inRun = (docs) => sent.push(docs.map((d) => String(d._id)));
    const replies = await Promise.all(Array.from({ length: 10 }, () => awardOf(h, 1)));
    expect(sent[0]![0]).to.equal(`${h}:2`); // the stale run, refused at its first entry
    replies.forEach((r, i) => {
      expect(r.created).to.equal(true);
      expect(r.entry.seq).to.equal(i + 3);
    });
    expect(replies[0]!.entry.prevHash).to.equal(other.hash);
    await expectChain(h, 24, 24, 12);
  });

  it('runs of two households in one batch, the first refused (its head moved): the second, not attempted, is sent again and written; both chains hold', async () => {
    const [a, b] = [await newHousehold(), await newHousehold()];
    await Promise.all([awardOf(a, 10), awardOf(b, 10)]);
    await entryOfAnotherProcess(a, 1, 'test-run');
    const sent: string[][] = [];
    ledgerFaults.inRun = (docs) => sent.push(docs.map((d) => String(d._id)));
    const replies = await Promise.all([
      ...Array.from({ length: 4 }, () => awardOf(a, 1)),
      ...Array.from({ length: 4 }, () => awardOf(b, 2)),
    ]);
    // One batch held a's stale run first, then b's run; b's run was sent again after it.
    const firstBatch = sent[0]!;
    expect(firstBatch.slice(0, 5)).to.deep.equal([
      `${a}:2`,
      `${a}:3`,
      `${a}:4`,
      `${a}:5`,
      `${b}:2`,
    ]);
    expect(sent.filter((ids) => ids.includes(`${b}:2`))).to.have.length(2);
    expect(replies.map((r) => r.entry.seq)).to.deep.equal([3, 4, 5, 6, 2, 3, 4, 5]);
    expect(replies.every((r) => r.created)).to.equal(true);
    await expectChain(a, 18, 18, 6);
    await expectChain(b, 18, 18, 5);
  });

  it('a document the database refuses inside a run: the entries before it are written, that posting alone fails, the ones after it go through on the entries written', async () => {
    const h = await newHousehold();
    await awardOf(h, 1);
    const victim = src();
    const breakVictim = (docs: Record<string, unknown>[]) => {
      const doc = docs.find((d) => d.sourceId === victim.id);
      // A field name the database refuses: a server-side error of this one document.
      if (doc) doc.$broken = 1;
    };
    ledgerFaults.inRun = breakVictim;
    ledgerFaults.inBatch = breakVictim;
    const outcomes = await Promise.allSettled([
      awardOf(h, 2),
      awardOf(h, 3),
      awardOf(h, 4, victim),
      awardOf(h, 5),
      awardOf(h, 6),
    ]);
    expect(outcomes.map((o) => o.status)).to.deep.equal([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    const seqs = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.entry.seq] : []));
    expect(seqs).to.deep.equal([2, 3, 4, 5]);
    expect(await Entry.countDocuments({ sourceType: 'test-run', sourceId: victim.id })).to.equal(0);
    await expectChain(h, 17, 17, 5);
  });

  it('a run whose reply is lost after it was written is read back: each posting is answered once, as written', async () => {
    const h = await newHousehold();
    await awardOf(h, 1);
    let lost = 0;
    ledgerFaults.afterRun = () => {
      if (lost++ === 0) throw new Error('connection reset after the write');
    };
    const { result: replies, inRuns } = await countingRuns(() =>
      Promise.all(Array.from({ length: 8 }, (_, i) => awardOf(h, i + 1))),
    );
    expect(lost).to.be.at.least(1);
    expect(inRuns).to.be.at.least(2);
    replies.forEach((r, i) => {
      expect(r.created).to.equal(true);
      expect(r.entry.seq).to.equal(i + 2);
    });
    await expectChain(h, 37, 37, 9);
  });

  it('a run that failed before anything was written is decided one posting at a time; nothing is written twice', async () => {
    const h = await newHousehold();
    await awardOf(h, 1);
    let failed = 0;
    ledgerFaults.inRun = () => {
      if (failed++ === 0) throw new Error('connection refused');
    };
    const replies = await Promise.all(Array.from({ length: 6 }, () => awardOf(h, 2)));
    expect(failed).to.be.at.least(1);
    expect(replies.map((r) => r.entry.seq)).to.deep.equal([2, 3, 4, 5, 6, 7]);
    expect(replies.every((r) => r.created)).to.equal(true);
    await expectChain(h, 13, 13, 7);
  });

  it('a run refused as busy before anything was written is sent again after a pause, whole, and written once', async () => {
    const h = await newHousehold();
    await awardOf(h, 1);
    let refusals = 0;
    ledgerFaults.inRun = () => {
      // FerretDB-SQLite's lock-wait refusal (busy.ts), twice, before the documents are sent.
      if (refusals++ < 2) throw new Error('database is locked (5) (SQLITE_BUSY)');
    };
    const { result: replies, inRuns } = await countingRuns(() =>
      Promise.all(Array.from({ length: 5 }, () => awardOf(h, 3))),
    );
    expect(refusals).to.equal(3);
    expect(inRuns).to.equal(15); // the same run of five, sent three times
    expect(replies.map((r) => r.entry.seq)).to.deep.equal([2, 3, 4, 5, 6]);
    expect(replies.every((r) => r.created)).to.equal(true);
    await expectChain(h, 16, 16, 6);
  });

  it('a crash between an entry of a run and the account cache: that posting fails, its entry stays, a retry is answered with it, and the cache is repaired from the chain', async () => {
    const h = await newHousehold();
    await awardOf(h, 1);
    const victim = src();
    ledgerFaults.afterInsert = (entry) => {
      if (entry.sourceId === victim.id) throw new Error('crash after the entry');
    };
    const outcomes = await Promise.allSettled([
      awardOf(h, 2),
      awardOf(h, 3, victim),
      awardOf(h, 4),
    ]);
    delete ledgerFaults.afterInsert;
    expect(outcomes.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    const retry = await awardOf(h, 3, victim);
    expect(retry.created).to.equal(false);
    expect(retry.entry.seq).to.equal(3);
    await expectChain(h, 10, 10, 4);
  });
});
