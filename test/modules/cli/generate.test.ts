import mongoose from 'mongoose';
import { atSimulatedTime, installSimulatedClock } from '../../../src/cli/generate-clock';
import { generateCity } from '../../../src/cli/generate';
import {
  GENERATE_SOURCE_TYPE,
  planCity,
  planHousehold,
  type GenerateOptions,
} from '../../../src/cli/generate-plan';
import { Household } from '../../../src/modules/households/households.model';
import { listEntries, postEntry } from '../../../src/modules/ledger/ledger.service';
import { verifyHousehold } from '../../../src/cli/verify-chain';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { runCliProcess } from './cli-process';

const UNTIL = '2026-01-01';
const small = (seed: number): GenerateOptions => ({
  villages: 2,
  households: 24,
  years: 1,
  seed,
  until: new Date(`${UNTIL}T00:00:00Z`),
});

/** Every planned household of a city, in plan order. */
const householdsOf = (opts: GenerateOptions) =>
  planCity(opts).villages.flatMap((v) =>
    Array.from({ length: v.households }, (_, i) => planHousehold(opts, v, i)),
  );

type Row = Record<string, unknown> & { _id: unknown };
/** A database's generated records, without anything that differs by database (village ids). */
async function snapshot(dbName: string) {
  const db = mongoose.connection.getClient().db(dbName);
  const read = (name: string, filter: Record<string, unknown>) =>
    db.collection<Row>(name).find(filter).toArray();
  const byId = (a: Row, b: Row) => String(a._id).localeCompare(String(b._id));
  const entries = (await read('ledger_entries', { sourceType: GENERATE_SOURCE_TYPE })).sort(byId);
  const households = (await read('households', {})).sort(byId).map(({ villageId: _v, ...h }) => h);
  const consents = (await read('credit_consents', {}))
    .sort(byId)
    .map(({ villageId: _v, cooperativeId: _c, ...c }) => c);
  return { entries, households, consents };
}

describe('CLI generate: a deterministic county through the ledger', () => {
  it('plans the same city for the same seed, and another for another seed', () => {
    const a = householdsOf(small(11));
    expect(householdsOf(small(11))).to.deep.equal(a);
    expect(planCity(small(11))).to.deep.equal(planCity(small(11)));
    const b = householdsOf(small(12));
    expect(b.map((h) => h.id)).to.not.deep.equal(a.map((h) => h.id));
    expect(a).to.have.length(24);
    expect(new Set(a.map((h) => h.cardNo)).size).to.equal(24);
  });

  it('plans entries in time order within the history, and never a redemption the points do not cover', () => {
    const opts = small(13);
    const start = opts.until.getTime() - 365 * 86_400_000;
    for (const h of householdsOf(opts)) {
      let spendable = 0;
      let last = h.registeredAt;
      for (const e of h.entries) {
        expect(e.at).to.be.greaterThan(last);
        expect(e.at).to.be.lessThan(opts.until.getTime());
        expect(e.at).to.be.at.least(start);
        last = e.at;
        if (e.type === 'redemption') expect(spendable + e.spendableDelta).to.be.at.least(0);
        spendable = Math.max(0, spendable + e.spendableDelta);
        expect(Number.isSafeInteger(e.points)).to.equal(true);
      }
    }
  });

  it('answers the simulated time inside atSimulatedTime only, and keeps Date a Date', async () => {
    installSimulatedClock();
    const at = Date.parse('2025-03-04T05:06:07.008Z');
    const inside = await atSimulatedTime(at, async () => {
      await new Promise((r) => setImmediate(r));
      return { now: Date.now(), date: new Date(), explicit: new Date(0) };
    });
    expect(inside.now).to.equal(at);
    expect(inside.date.getTime()).to.equal(at);
    expect(inside.date).to.be.instanceOf(Date);
    expect(inside.explicit.getTime()).to.equal(0);
    expect(Math.abs(Date.now() - new Date().getTime())).to.be.lessThan(1000);
    expect(Date.now()).to.be.greaterThan(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('writes the same data for the same seed into two databases, adds nothing on a re-run, and every chain verifies', async function () {
    this.timeout(600_000);
    const [dbA, dbB] = [`${ctx().config.mongodbDb}_gen_a`, `${ctx().config.mongodbDb}_gen_b`];
    const args = [
      'generate',
      '--villages',
      '2',
      '--households',
      '24',
      '--years',
      '1',
      '--seed',
      '21',
      '--until',
      UNTIL,
      '--concurrency',
      '4',
    ];
    try {
      const first = await runCliProcess(args, { db: dbA });
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.match(/24 households \(24 new\)/);
      const second = await runCliProcess(args, { db: dbB });
      expect(second.code, second.stderr).to.equal(0);
      const [a, b] = [await snapshot(dbA), await snapshot(dbB)];
      expect(a.entries.length).to.equal(
        householdsOf({ ...small(21) }).reduce((n, h) => n + h.entries.length, 0),
      );
      expect(a.entries.length).to.be.greaterThan(24);
      expect(b).to.deep.equal(a);

      const again = await runCliProcess(args, { db: dbA });
      expect(again.code, again.stderr).to.equal(0);
      expect(again.stdout).to.match(
        /24 households \(0 new\), [\d,]+ entries \(0 posted now\), \d+ consents \(0 new\)/,
      );
      expect(await snapshot(dbA)).to.deep.equal(a);

      const verify = await runCliProcess(['verify-chain'], { db: dbA });
      expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
      expect(verify.stdout).to.include('24 chains verified.');
    } finally {
      for (const name of [dbA, dbB])
        await mongoose.connection
          .getClient()
          .db(name)
          .dropDatabase()
          .catch(() => undefined);
    }
  });

  it('refuses a run without a size, with fewer households than villages, or ending in the future (exit 2)', async function () {
    this.timeout(120_000);
    for (const args of [
      ['generate', '--households', '10'],
      ['generate', '--villages', '5', '--households', '3'],
      ['generate', '--villages', '1', '--households', '3', '--until', '2999-01-01'],
    ]) {
      const run = await runCliProcess(args);
      expect(run.code, args.join(' ')).to.equal(2);
      expect(run.stderr).to.match(/generate: /);
    }
  });

  it('resumes a household whose history was cut off half-way, without posting anything twice', async function () {
    this.timeout(300_000);
    const opts = small(31);
    const village = planCity(opts).villages[0]!;
    // The first village's household with the longest history.
    const h = householdsOf(opts)
      .slice(0, village.households)
      .reduce((a, b) => (b.entries.length > a.entries.length ? b : a));
    expect(h.entries.length).to.be.greaterThan(2);
    // What a run killed after two postings of this household leaves behind.
    installSimulatedClock();
    await Household.create([
      {
        _id: new mongoose.Types.ObjectId(h.id),
        villageId: new mongoose.Types.ObjectId().toHexString(),
        head: h.head,
        members: h.members.map((name) => ({ name })),
        cardNo: h.cardNo,
      },
    ]);
    for (const e of h.entries.slice(0, 2)) {
      await atSimulatedTime(e.at, () =>
        postEntry({
          householdId: h.id,
          type: e.type,
          points: e.points,
          spendableDelta: e.spendableDelta,
          meritDelta: e.meritDelta,
          shortfall: 'clamp',
          source: { type: GENERATE_SOURCE_TYPE, id: e.sourceId },
          ...(e.ruleCode ? { ruleCode: e.ruleCode } : {}),
          reason: e.reason,
        }),
      );
    }
    const report = await generateCity(opts);
    expect(report.householdsCreated).to.equal(opts.households - 1);
    expect(report.entriesPosted).to.equal(report.entries - 2);
    const chain = (await listEntries(h.id, 0, 500)).items;
    expect(chain.map((e) => e.sourceId)).to.deep.equal(h.entries.map((e) => e.sourceId));
    expect(chain.map((e) => Date.parse(e.createdAt))).to.deep.equal(h.entries.map((e) => e.at));
    for (const planned of householdsOf(opts))
      expect(await verifyHousehold(planned.id), planned.cardNo).to.equal(undefined);

    const rerun = await generateCity(opts);
    expect(rerun.householdsCreated).to.equal(0);
    expect(rerun.entriesPosted).to.equal(0);
    expect(rerun.villagesDone).to.equal(opts.villages);
  });

  it('stops between villages at a deadline, writing at least the first, and a later run writes the rest', async function () {
    this.timeout(300_000);
    const opts = { ...small(37), villages: 3, households: 18 };
    const [first, ...rest] = planCity(opts).villages;
    const cut = await generateCity(opts, { deadline: Date.now() });
    expect(cut).to.include({ villagesWritten: 1, householdsWritten: first!.households });
    expect(cut.householdsCreated).to.equal(first!.households);
    const planned = householdsOf(opts);
    const written = new Set(
      (await Household.find({}, { _id: 1 }).lean()).map((h) => String(h._id)),
    );
    expect(planned.filter((h) => written.has(h.id))).to.have.length(first!.households);

    // A resumed run past its deadline still counts the villages written before, and begins none.
    const resumed = await generateCity(opts, { deadline: Date.now() });
    expect(resumed).to.include({ villagesWritten: 1, householdsCreated: 0 });

    const completed = await generateCity(opts);
    expect(completed.villagesWritten).to.equal(3);
    expect(completed.householdsCreated).to.equal(rest.reduce((n, v) => n + v.households, 0));
    for (const h of planned) expect(await verifyHousehold(h.id), h.cardNo).to.equal(undefined);
  });
});
