import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mongoose from 'mongoose';
import type { Config } from '../../../config';
import { runCli, type CliIo } from '../../../src/cli/commands';
import { settleBackgroundWrites } from '../../../src/platform/background';
import { findRunningServiceUri, runFilePath } from '../../../src/cli/database';
import { verifyChains, verifyHousehold } from '../../../src/cli/verify-chain';
import {
  hashEntry,
  householdsWithEntries,
  postEntry,
  toEntryView,
} from '../../../src/modules/ledger/ledger.service';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { makeHousehold, makeVillage, unique } from '../../support/factories';
import { runCliProcess } from './cli-process';
import { tempDir } from '../../support/temp';

/** A loopback port nothing listens on. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(p));
    });
  });
}

type RawEntry = Record<string, unknown> & { _id: unknown; seq: number; householdId: string };

const entries = () => mongoose.connection.db!.collection<RawEntry>('ledger_entries');

/** A household with `n` adjustments of 10, 20, 30, … points. */
async function householdWithChain(n: number): Promise<string> {
  const v = await makeVillage();
  const h = await makeHousehold(v.id);
  for (let i = 1; i <= n; i++) {
    await postEntry({
      householdId: h.id,
      type: 'adjustment',
      points: 10 * i,
      spendableDelta: 10 * i,
      meritDelta: 10 * i,
      shortfall: 'clamp',
      source: { type: 'test', id: unique('src') },
      reason: `第${i}次`,
    });
  }
  await settleBackgroundWrites(); // the account cache, written after each posting
  return h.id;
}

/** Changes one entry behind the service's back (the model refuses updates; the raw driver does not). */
async function tamper(
  householdId: string,
  seq: number,
  set: Record<string, unknown>,
): Promise<() => Promise<void>> {
  const original = await entries().findOne({ householdId, seq });
  if (!original) throw new Error('no such entry');
  const res = await entries().updateOne({ householdId, seq }, { $set: set });
  expect(res.modifiedCount).to.equal(1);
  const restore: Record<string, unknown> = {};
  for (const k of Object.keys(set)) restore[k] = original[k];
  return async () => {
    await entries().updateOne({ householdId, seq }, { $set: restore });
  };
}

/** Deletes one entry behind the service's back; returns how to put it back. */
async function remove(householdId: string, seq: number): Promise<() => Promise<void>> {
  const original = await entries().findOne({ householdId, seq });
  if (!original) throw new Error('no such entry');
  await entries().deleteOne({ _id: original._id });
  return async () => {
    await entries().insertOne(original);
  };
}

/** Every household id in listing order (the order verify-chain reports in). */
async function listing(): Promise<string[]> {
  const ids: string[] = [];
  for await (const id of householdsWithEntries()) ids.push(id);
  return ids;
}

/** A rewritten entry whose own hash is recomputed, so only what follows it (or the cache) tells. */
async function forge(householdId: string, seq: number, set: Record<string, unknown>) {
  const doc = (await entries().findOne({ householdId, seq }))!;
  const forged = { ...toEntryView(doc as never), ...set };
  return tamper(householdId, seq, { ...set, hash: hashEntry(householdId, forged as never) });
}

function captureIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

/** runCli in-process on the test connection (the database is already open). */
async function cli(argv: string[], config: Config = ctx().config) {
  const io = captureIo();
  const code = await runCli(argv, {
    config,
    logger: ctx().logger,
    io,
    connect: async () => ({ source: 'test', close: async () => undefined }),
  });
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('CLI verify-chain', () => {
  const restores: (() => Promise<void>)[] = [];
  afterEach(async () => {
    // Put tampered entries back so no later check of all chains trips over this file's damage.
    while (restores.length) await restores.pop()!();
  });

  it('verifyChains › a sound chain verifies', async () => {
    const id = await householdWithChain(5);
    expect(await verifyChains({ householdId: id })).to.deep.equal({ verified: 1, problems: [] });
  });

  it('verifyChains › an entry changed directly in the database is named by household and seq', async () => {
    const id = await householdWithChain(5);
    restores.push(await tamper(id, 3, { points: 999 }));
    const report = await verifyChains({ householdId: id });
    expect(report.problems).to.have.length(1);
    expect(report.problems[0]).to.include({ householdId: id, seq: 3 });
  });

  it('verifyChains › a balance changed with its hash recomputed (a careful forger) is caught by the next link', async () => {
    const id = await householdWithChain(4);
    const doc = (await entries().findOne({ householdId: id, seq: 2 }))!;
    const forged = { ...toEntryView(doc as never), spendableAfter: 5000, meritAfter: 5000 };
    restores.push(
      await tamper(id, 2, { spendableAfter: 5000, meritAfter: 5000, hash: hashEntry(id, forged) }),
    );
    const [problem] = (await verifyChains({ householdId: id })).problems;
    // seq 2's own hash now matches, but its balances do not add up and seq 3 no longer links to it.
    expect(problem).to.include({ householdId: id, seq: 2 });
  });

  it('verifyChains › a head entry rewritten with a valid hash is caught by the account cache', async () => {
    const id = await householdWithChain(3);
    const doc = (await entries().findOne({ householdId: id, seq: 3 }))!;
    const forged = { ...toEntryView(doc as never), reason: '改过的理由' };
    restores.push(await tamper(id, 3, { reason: '改过的理由', hash: hashEntry(id, forged) }));
    const [problem] = (await verifyChains({ householdId: id })).problems;
    expect(problem).to.include({ householdId: id, seq: 3 });
    expect(problem!.problem).to.match(/account cache/);
  });

  it('verifyChains › a deleted entry in the middle is a gap at that seq; a deleted last entry is caught by the account cache', async () => {
    const a = await householdWithChain(4);
    restores.push(await remove(a, 2));
    expect((await verifyChains({ householdId: a })).problems[0]).to.include({
      householdId: a,
      seq: 2,
    });
    const b = await householdWithChain(4);
    restores.push(await remove(b, 4));
    expect((await verifyChains({ householdId: b })).problems[0]).to.include({
      householdId: b,
      seq: 4,
    });
  });

  it('verifyChains over all chains (one pass) › finds each kind of damage the per-household check finds, naming the same household and seq, in listing order', async () => {
    const sound = await householdWithChain(3);
    const changed = await householdWithChain(4);
    restores.push(await tamper(changed, 3, { points: 999 }));
    const forger = await householdWithChain(4);
    restores.push(await forge(forger, 2, { spendableAfter: 5000, meritAfter: 5000 }));
    const rewrittenHead = await householdWithChain(3);
    restores.push(await forge(rewrittenHead, 3, { reason: '改过的理由' }));
    const deletedMiddle = await householdWithChain(4);
    restores.push(await remove(deletedMiddle, 2));
    const deletedLast = await householdWithChain(4);
    restores.push(await remove(deletedLast, 4));
    const mine = [sound, changed, forger, rewrittenHead, deletedMiddle, deletedLast];

    const report = await verifyChains({ keepGoing: true });
    const order = await listing();
    expect(report.verified).to.equal(order.length);
    const found = report.problems.filter((p) => mine.includes(p.householdId));
    // The per-household check, one by one, in listing order: the same problems, word for word.
    const expected = [];
    for (const id of [...mine].sort((a, b) => order.indexOf(a) - order.indexOf(b))) {
      const problem = await verifyHousehold(id);
      if (problem) expected.push(problem);
    }
    expect(found).to.deep.equal(expected);
    const at = (id: string) => found.find((p) => p.householdId === id);
    expect(at(sound)).to.equal(undefined);
    expect(at(changed)).to.include({ seq: 3 });
    expect(at(forger)).to.include({ seq: 2 });
    expect(at(rewrittenHead)).to.include({ seq: 3 });
    expect(at(rewrittenHead)!.problem).to.match(/account cache/);
    expect(at(deletedMiddle)).to.include({ seq: 2 });
    expect(at(deletedLast)).to.include({ seq: 4 });
    // Every problem of the pass, anyone's, comes in listing order.
    const positions = report.problems.map((p) => order.indexOf(p.householdId));
    expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
  });

  it('verifyChains over all chains (one pass) › stops at the first broken chain in listing order unless keepGoing', async () => {
    const a = await householdWithChain(2);
    restores.push(await tamper(a, 1, { points: 7 }));
    const b = await householdWithChain(2);
    restores.push(await remove(b, 2));
    const all = await verifyChains({ keepGoing: true });
    expect(all.problems.map((p) => p.householdId)).to.include.members([a, b]);
    const first = await verifyChains();
    expect(first.problems).to.deep.equal([all.problems[0]]);
    // Chains checked: the listing up to and including the first broken one.
    expect(first.verified).to.equal((await listing()).indexOf(all.problems[0]!.householdId) + 1);
  });

  it('verifyChains over all chains (one pass) › a chain stored out of seq order verifies, and a gap in it is found at the same seq', async () => {
    const id = await householdWithChain(5);
    const docs = await entries().find({ householdId: id }).sort({ seq: 1 }).toArray();
    // Stored again newest first, behind the service's back (the documents are unchanged).
    for (const doc of docs) await entries().deleteOne({ _id: doc._id });
    for (const doc of [...docs].reverse()) await entries().insertOne(doc);
    const stored = await entries().find({ householdId: id }).toArray();
    expect(stored.map((d) => d.seq)).to.deep.equal([5, 4, 3, 2, 1]);
    const mineOf = (r: { problems: { householdId: string }[] }) =>
      r.problems.filter((p) => p.householdId === id);
    expect(mineOf(await verifyChains({ keepGoing: true }))).to.deep.equal([]);

    restores.push(await remove(id, 3));
    const [problem] = mineOf(await verifyChains({ keepGoing: true }));
    expect(problem).to.deep.equal(await verifyHousehold(id));
    expect(problem).to.include({ householdId: id, seq: 3 });
  });

  it('verifyChains over all chains (one pass) › an entry stranded far beyond a gap is found even where the per-household probe and a lagging cache miss it', async () => {
    const id = await householdWithChain(12);
    for (let seq = 2; seq <= 11; seq++) restores.push(await remove(id, seq));
    // The account cache set back to seq 1 (a lagging cache is legitimate, I5).
    const accounts = mongoose.connection.db!.collection<{ _id: string }>('ledger_accounts');
    const account = (await accounts.findOne({ _id: id }))!;
    const first = (await entries().findOne({ householdId: id, seq: 1 }))!;
    await accounts.updateOne(
      { _id: id },
      { $set: { seq: 1, hash: first.hash, spendable: 10, merit: 10 } },
    );
    restores.push(async () => {
      await accounts.replaceOne({ _id: id }, account);
    });
    // Probing 8 seqs past the end does not reach seq 12, and the cache says 1.
    expect(await verifyHousehold(id)).to.equal(undefined);
    const [problem] = (await verifyChains({ keepGoing: true })).problems.filter(
      (p) => p.householdId === id,
    );
    expect(problem).to.deep.equal({
      householdId: id,
      seq: 2,
      problem: 'seq 2 is missing (found 12)',
    });
  });

  it('runCli › exit 0 for a sound chain, 1 naming household and seq for a broken one, 2 for bad usage', async () => {
    const id = await householdWithChain(3);
    const sound = await cli(['verify-chain', '--household', id]);
    expect(sound).to.include({ code: 0 });
    expect(sound.out).to.equal('1 chain verified.');

    restores.push(await tamper(id, 2, { points: -1 }));
    const broken = await cli(['verify-chain', '--household', id]);
    expect(broken.code).to.equal(1);
    expect(broken.out).to.contain(`BROKEN household ${id} seq 2`);

    expect((await cli(['verify-chain', '--household', 'not-an-id'])).code).to.equal(2);
    expect(
      (await cli(['verify-chain', '--household', new mongoose.Types.ObjectId().toHexString()]))
        .code,
    ).to.equal(2);
    expect((await cli(['verify-chain', '--no-such-option'])).code).to.equal(2);
    expect((await cli(['verify-chain', 'extra'])).code).to.equal(2);
    expect((await cli(['no-such-command'])).code).to.equal(2);
    const help = await cli(['help']);
    expect(help.code).to.equal(0);
    for (const name of ['create-admin', 'import-households', 'verify-chain', 'seed-demo'])
      expect(help.out).to.contain(name);
  });

  it('the real CLI process › verify-chain exits 0 on a sound chain and 1 naming the household and seq of an entry changed in the database', async function () {
    this.timeout(60_000);
    const id = await householdWithChain(3);
    const sound = await runCliProcess(['verify-chain', '--household', id]);
    expect(sound.code, sound.stderr).to.equal(0);
    expect(sound.stdout.trim()).to.equal('1 chain verified.');

    restores.push(await tamper(id, 2, { points: 12345 }));
    const broken = await runCliProcess(['verify-chain', '--household', id]);
    expect(broken.code, broken.stderr).to.equal(1);
    expect(broken.stdout).to.contain(`BROKEN household ${id} seq 2`);
  });

  it('the real CLI process › without MONGODB_URI it uses the running service’s database named in DATA_DIR/run/mongodb.uri', async function () {
    this.timeout(60_000);
    const id = await householdWithChain(2);
    const dataDir = tempDir('cli-run');
    mkdirSync(path.dirname(runFilePath(dataDir)), { recursive: true });
    writeFileSync(runFilePath(dataDir), `${ctx().mongoUri}\n`);
    // Had the CLI started a database of its own on this empty DATA_DIR, the household would not exist there (exit 2).
    const run = await runCliProcess(['verify-chain', '--household', id], { noUri: true, dataDir });
    expect(run.code, run.stderr).to.equal(0);
  });

  it('the real CLI process › an unreachable database is exit 3 (could not run), never 1 (broken chain)', async function () {
    this.timeout(60_000);
    const port = await freePort();
    const run = await runCliProcess(['verify-chain'], {
      uri: `mongodb://127.0.0.1:${port}/?directConnection=true`,
    });
    expect(run.code).to.equal(3);
    expect(run.stdout).to.equal('');
  });

  it('findRunningServiceUri › ignores a missing run file and one left behind by a stopped service', async function () {
    this.timeout(20_000);
    const dataDir = tempDir('cli-stale');
    expect(await findRunningServiceUri(dataDir)).to.equal(undefined);
    const port = await freePort();
    mkdirSync(path.dirname(runFilePath(dataDir)), { recursive: true });
    writeFileSync(runFilePath(dataDir), `mongodb://127.0.0.1:${port}/?directConnection=true`);
    expect(await findRunningServiceUri(dataDir)).to.equal(undefined);
    writeFileSync(runFilePath(dataDir), ctx().mongoUri);
    expect(await findRunningServiceUri(dataDir)).to.equal(ctx().mongoUri);
  });
});
