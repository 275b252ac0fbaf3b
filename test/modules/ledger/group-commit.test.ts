/**
 * Group commit of ledger entries (src/platform/group-commit.ts, ledger.posting.ts): concurrent
 * postings share one unordered insertMany, and each is settled by its own entry's outcome. Many
 * households at once and several postings on one household; a duplicate source, a stale head
 * (another process's entry) and a document the database refuses, each inside a batch of others.
 * Every chain touched is recomputed at the end of each test.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { makeHousehold, makeVillage } from '../../support/factories';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import { entryBatchStats, entryRunStats } from '../../../src/modules/ledger/ledger.posting';
import { entryAt } from '../../../src/modules/ledger/ledger.chain';
import {
  getAccount,
  postEntry,
  verifyChain,
  type PostEntryInput,
  type PostEntryResult,
} from '../../../src/modules/ledger/ledger.service';
import { ledgerFaults } from '../../../src/platform/faults';
import { entryOfAnotherProcess } from './another-process';

const award = (householdId: string, pts: number, sourceId = new Types.ObjectId().toHexString()) =>
  ({
    householdId,
    type: 'award',
    points: pts,
    spendableDelta: pts,
    meritDelta: pts,
    shortfall: 'clamp',
    source: { type: 'test-batch', id: sourceId },
    ruleCode: 'TEST',
  }) satisfies PostEntryInput;

async function expectChains(expected: Map<string, number>): Promise<void> {
  for (const [householdId, sum] of expected) {
    expect(await verifyChain(householdId)).to.equal(undefined);
    const account = await getAccount(householdId);
    expect(account.spendable).to.equal(sum);
    expect(account.merit).to.equal(sum);
  }
}

/** Records the batches sent while `fn` runs (group-commit batches and ordered batches of runs): each batch's entry `_id`s. */
async function recordingBatches<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; batches: string[][] }> {
  const batches: string[][] = [];
  const before = ledgerFaults.inBatch;
  const beforeRun = ledgerFaults.inRun;
  ledgerFaults.inBatch = (docs) => {
    batches.push(docs.map((d) => String(d._id)));
    before?.(docs);
  };
  ledgerFaults.inRun = (docs) => {
    batches.push(docs.map((d) => String(d._id)));
    beforeRun?.(docs);
  };
  try {
    return { result: await fn(), batches };
  } finally {
    if (before) ledgerFaults.inBatch = before;
    else delete ledgerFaults.inBatch;
    if (beforeRun) ledgerFaults.inRun = beforeRun;
    else delete ledgerFaults.inRun;
  }
}

describe('ledger group commit', () => {
  let villageId: string;

  before(async () => {
    villageId = (await makeVillage()).id;
  });

  afterEach(() => {
    delete ledgerFaults.inBatch;
  });

  it('40 first postings, then 240 at once over the 40 households (6 each), go out in shared batches (each household’s six as one run); every chain is 1…7, every posting gets its own entry', async function () {
    this.timeout(120_000);
    const households = await Promise.all(
      Array.from({ length: 40 }, () => makeHousehold(villageId).then((h) => h.id)),
    );
    // One posting each first (at once, cold heads): the 240 below start with heads in memory,
    // so the first posting of every household reaches the insert in one turn (a shared batch).
    const first = await Promise.all(households.map((h) => postEntry(award(h, 1))));
    for (const r of first) expect(r.entry.seq).to.equal(1);
    const inputs = households.flatMap((h, i) =>
      Array.from({ length: 6 }, (_, k) => award(h, 1 + ((i * 7 + k * 13) % 50))),
    );
    const before = { batch: entryBatchStats(), run: entryRunStats() };
    const { result: replies, batches } = await recordingBatches(() =>
      Promise.all(inputs.map((input) => postEntry(input))),
    );
    const after = { batch: entryBatchStats(), run: entryRunStats() };
    const sent = (k: 'batch' | 'run', f: 'documents' | 'batches') => after[k][f] - before[k][f];
    expect(sent('batch', 'documents') + sent('run', 'documents')).to.equal(240);
    expect(batches.some((b) => b.length > 1)).to.equal(true);
    expect(sent('batch', 'batches') + sent('run', 'batches')).to.be.lessThan(240);

    replies.forEach((r, i) => {
      expect(r.created).to.equal(true);
      expect(r.entry.sourceId).to.equal(inputs[i]!.source.id);
      expect(r.entry.points).to.equal(inputs[i]!.points);
    });
    const expected = new Map<string, number>(households.map((h) => [h, 1]));
    for (const input of inputs)
      expected.set(input.householdId, (expected.get(input.householdId) ?? 0) + input.points);
    for (const h of households) {
      const seqs = replies
        .filter((_, i) => inputs[i]!.householdId === h)
        .map((r) => r.entry.seq)
        .sort((a, b) => a - b);
      expect(seqs).to.deep.equal([2, 3, 4, 5, 6, 7]);
      expect(await entryAt(h, 8)).to.equal(undefined);
    }
    expect(await Entry.countDocuments({ householdId: { $in: households } })).to.equal(280);
    await expectChains(expected);
  });

  it('one source posted to two households in one batch: one entry, both callers get it; the batch’s other postings go through', async function () {
    this.timeout(60_000);
    const [a, b, ...others] = await Promise.all(
      Array.from({ length: 10 }, () => makeHousehold(villageId).then((h) => h.id)),
    );
    // One posting each first: with the heads in memory the postings below reach the insert in
    // the same turn of the event loop, so they share a batch (not left to timing).
    for (const h of [a!, b!, ...others]) await postEntry(award(h, 1));
    const shared = new Types.ObjectId().toHexString();
    const inputs = [award(a!, 5, shared), award(b!, 5, shared), ...others.map((h) => award(h, 3))];
    const { result: replies, batches } = await recordingBatches(() =>
      Promise.all(inputs.map((input) => postEntry(input))),
    );
    // The two clashing entries were sent together with others.
    const batchOfA = batches.find((ids) => ids.includes(`${a}:2`));
    expect(batchOfA).to.include(`${b}:2`);
    expect(batchOfA!.length).to.be.greaterThan(2);

    const [ra, rb, ...rest] = replies as [PostEntryResult, PostEntryResult, ...PostEntryResult[]];
    expect([ra.created, rb.created].sort()).to.deep.equal([false, true]);
    expect(ra.entry).to.deep.equal(rb.entry);
    for (const r of rest) expect(r.created).to.equal(true);
    expect(await Entry.countDocuments({ sourceType: 'test-batch', sourceId: shared })).to.equal(1);
    const winner = ra.created ? a! : b!;
    const loser = ra.created ? b! : a!;
    expect(ra.entry.seq).to.equal(2);
    expect(await entryAt(loser, 2)).to.equal(undefined);
    await expectChains(new Map([[winner, 6], [loser, 1], ...others.map((h) => [h, 4] as const)]));
  });

  it('a stale head inside a batch (another process appended meanwhile): only that posting retries, on the new head; the others are written at once', async function () {
    this.timeout(60_000);
    const households = await Promise.all(
      Array.from({ length: 8 }, () => makeHousehold(villageId).then((h) => h.id)),
    );
    for (const h of households) await postEntry(award(h, 10));
    // Another process posts to households[0]; this process's head hint is now one behind.
    const target = households[0]!;
    const other = await entryOfAnotherProcess(target, 1, 'test-batch');

    const inputs = households.map((h) => award(h, 1));
    const { result: replies, batches } = await recordingBatches(() =>
      Promise.all(inputs.map((input) => postEntry(input))),
    );
    // The stale attempt (seq 2) was sent with the others; the retry went to seq 3.
    expect(batches.find((ids) => ids.includes(`${target}:2`))!.length).to.be.greaterThan(1);
    expect(replies[0]!.created).to.equal(true);
    expect(replies[0]!.entry.seq).to.equal(3);
    expect(replies[0]!.entry.prevHash).to.equal(other.hash);
    for (const r of replies.slice(1)) expect(r.entry.seq).to.equal(2);
    await expectChains(
      new Map(households.map((h) => [h, h === target ? 15 : 11] as [string, number])),
    );
  });

  it('a document the database refuses inside a batch fails its own posting only; nothing of it is stored and a retry posts it once', async function () {
    this.timeout(60_000);
    const households = await Promise.all(
      Array.from({ length: 12 }, () => makeHousehold(villageId).then((h) => h.id)),
    );
    for (const h of households) await postEntry(award(h, 1)); // heads in memory: one batch
    const inputs = households.map((h) => award(h, 2));
    const victim = inputs[5]!;
    let sentWith = 0;
    ledgerFaults.inBatch = (docs) => {
      const doc = docs.find((d) => d.sourceId === victim.source.id);
      if (!doc) return;
      sentWith = docs.length;
      // A field name the database refuses: a server-side error of this one document.
      doc.$broken = 1;
    };
    const outcomes = await Promise.allSettled(inputs.map((input) => postEntry(input)));
    delete ledgerFaults.inBatch;
    expect(sentWith).to.be.greaterThan(1);
    outcomes.forEach((o, i) => {
      if (i === 5) {
        expect(o.status).to.equal('rejected');
      } else {
        expect(o.status).to.equal('fulfilled');
        const r = (o as PromiseFulfilledResult<PostEntryResult>).value;
        expect(r.created).to.equal(true);
        expect(r.entry.seq).to.equal(2);
        expect(r.entry.sourceId).to.equal(inputs[i]!.source.id);
      }
    });
    expect(await entryAt(victim.householdId, 2)).to.equal(undefined);
    expect(
      await Entry.countDocuments({ sourceType: 'test-batch', sourceId: victim.source.id }),
    ).to.equal(0);

    // The same source again: posted once, at seq 2; and once only when retried again.
    const retry = await postEntry(victim);
    expect(retry.created).to.equal(true);
    expect(retry.entry.seq).to.equal(2);
    const again = await postEntry(victim);
    expect(again.created).to.equal(false);
    expect(again.entry).to.deep.equal(retry.entry);
    await expectChains(new Map(households.map((h) => [h, 3] as [string, number])));
  });
});
