/**
 * The month's village levels (credit.inputs.ts): the first look-up of a month computes every
 * village's level in one pass and memoises them all, so a look-up in any other village, and a
 * village without households, then reads its memo by `_id` alone instead of scanning the
 * households and the ledger again (at a city's 5,000 villages that was 5,000 scans of the ledger
 * on the first day of each month). The levels equal a sum taken independently here from the raw
 * collections, in one pass and in groups alike.
 */
import mongoose from 'mongoose';
import { generateCity } from '../../../src/cli/generate';
import type { GenerateOptions } from '../../../src/cli/generate-plan';
import { Household, type HouseholdDoc } from '../../../src/modules/households/households.model';
import { computeMonthLevels, ensureMonthLevels } from '../../../src/modules/credit/credit.inputs';
import { MODEL_V1, villageLevelAt, villageWindow } from '../../../src/modules/credit/credit.score';
import { scoreAsOf } from '../../../src/modules/credit/credit.service';
import { expect } from '../../support/expect';
import { makeVillage } from '../../support/factories';
import { filtersSent, notLoneId } from '../../support/filters';

const settings = { gradeThresholds: [800, 650, 500, 350] as const };
const city: GenerateOptions = {
  villages: 4,
  households: 60,
  years: 1,
  seed: 57,
  until: new Date('2026-01-01T00:00:00Z'),
};

type Sums = { households: number; awardPoints: number };

/** Every village's level at levelAt, summed here from the raw collections (the definition). */
async function referenceLevels(levelAt: Date): Promise<Map<string, Sums>> {
  const db = mongoose.connection.db!;
  const villageOf = new Map<string, string>();
  const sums = new Map<string, Sums>();
  for (const h of await db.collection('households').find({}).toArray()) {
    if ((h.createdAt as Date).getTime() > levelAt.getTime()) continue;
    villageOf.set(String(h._id), h.villageId as string);
    const t = sums.get(h.villageId as string) ?? { households: 0, awardPoints: 0 };
    t.households++;
    sums.set(h.villageId as string, t);
  }
  const { from, to } = villageWindow(MODEL_V1, levelAt);
  for (const e of await db.collection('ledger_entries').find({}).toArray()) {
    const at = (e.createdAt as Date).getTime();
    if (e.type !== 'award' || at <= from.getTime() || at > to.getTime()) continue;
    const village = villageOf.get(e.householdId as string);
    if (village) sums.get(village)!.awardPoints += e.meritDelta as number;
  }
  return sums;
}

const sorted = (m: Map<string, Sums>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

async function memoOf(villageId: string, levelAt: Date) {
  return mongoose.connection.db!.collection('credit_village_levels').findOne({
    _id: `${villageId}_${levelAt.toISOString().slice(0, 7)}_${MODEL_V1.version}` as never,
  });
}

describe('credit village levels: every village of a month in one pass', function () {
  this.timeout(300_000);
  let households: HouseholdDoc[] = [];
  let villageIds: string[] = [];
  let emptyVillage = '';

  before(async () => {
    await generateCity(city, { concurrency: 4 });
    households = await Household.find({}).lean<HouseholdDoc[]>();
    villageIds = [...new Set(households.map((h) => h.villageId))];
    emptyVillage = (await makeVillage()).id;
    expect(villageIds).to.have.length(4);
  });

  it('one look-up memoises the month of every village, the empty one too; look-ups in the others then send only `_id` filters', async () => {
    const asOf = new Date('2025-12-15T00:00:00Z');
    const levelAt = villageLevelAt(asOf);
    const reference = await referenceLevels(levelAt);
    expect([...reference.values()].every((t) => t.households > 0 && t.awardPoints > 0)).to.equal(
      true,
    );

    const first = households.find((h) => h.villageId === villageIds[0])!;
    await scoreAsOf(first, asOf, MODEL_V1, settings);
    for (const v of villageIds) {
      const memo = await memoOf(v, levelAt);
      expect(memo, v).to.not.equal(null);
      expect({ households: memo!.households, awardPoints: memo!.awardPoints }).to.deep.equal(
        reference.get(v),
      );
    }
    const empty = await memoOf(emptyVillage, levelAt);
    expect({ households: empty?.households, awardPoints: empty?.awardPoints }).to.deep.equal({
      households: 0,
      awardPoints: 0,
    });

    const others = villageIds.slice(1).map((v) => households.find((h) => h.villageId === v)!);
    const sent = await filtersSent(async () => {
      for (const h of others) await scoreAsOf(h, asOf, MODEL_V1, settings);
      await scoreAsOf(
        { ...first, villageId: emptyVillage }, // a household's view as the empty village's
        asOf,
        MODEL_V1,
        settings,
      );
    });
    expect(notLoneId(sent)).to.deep.equal([]);
  });

  it('concurrent first look-ups in every village share one pass over the households and one over the ledger', async () => {
    const asOf = new Date('2025-11-20T00:00:00Z');
    const subjects = villageIds.flatMap((v) =>
      households.filter((h) => h.villageId === v).slice(0, 3),
    );
    const sent = await filtersSent(() =>
      Promise.all(subjects.map((h) => scoreAsOf(h, asOf, MODEL_V1, settings))),
    );
    const scans = notLoneId(sent);
    expect(scans.filter((s) => s.startsWith('households '))).to.have.length(1);
    expect(scans.filter((s) => s.startsWith('ledger_entries '))).to.have.length(1);
    const levelAt = villageLevelAt(asOf);
    const reference = await referenceLevels(levelAt);
    for (const v of villageIds) {
      const memo = await memoOf(v, levelAt);
      expect({ households: memo?.households, awardPoints: memo?.awardPoints }).to.deep.equal(
        reference.get(v),
      );
    }
  });

  it('past the memory budget the villages are summed in groups, with the same levels', async () => {
    for (const asOf of ['2025-10-31T00:00:00Z', '2025-06-15T00:00:00Z']) {
      const levelAt = villageLevelAt(new Date(asOf));
      const reference = sorted(await referenceLevels(levelAt));
      expect(sorted(await computeMonthLevels(MODEL_V1, levelAt))).to.deep.equal(reference);
      const perVillage = await filtersSent(async () =>
        expect(sorted(await computeMonthLevels(MODEL_V1, levelAt, 1))).to.deep.equal(reference),
      );
      // Budget 1: the villages' households read again and the ledger once per village.
      expect(perVillage.filter((s) => s.startsWith('ledger_entries '))).to.have.length(
        reference.length,
      );
      expect(sorted(await computeMonthLevels(MODEL_V1, levelAt, 20))).to.deep.equal(reference);
    }
  });

  it('the workers’ monthly pass memoises and marks the month once; a village created after it reads a zero level by `_id` alone', async () => {
    const asOf = new Date('2025-09-10T00:00:00Z');
    const levelAt = villageLevelAt(asOf);
    expect(await ensureMonthLevels(MODEL_V1, asOf)).to.equal(true);
    const reference = await referenceLevels(levelAt);
    for (const v of villageIds) {
      const memo = await memoOf(v, levelAt);
      expect({ households: memo?.households, awardPoints: memo?.awardPoints }).to.deep.equal(
        reference.get(v),
      );
    }
    const again = await filtersSent(async () =>
      expect(await ensureMonthLevels(MODEL_V1, asOf)).to.equal(false),
    );
    expect(notLoneId(again)).to.deep.equal([]);

    // Another process (the workers) marked a month this one never computed: a village without
    // a memo then was created after that pass, and its look-up reads nothing but by `_id`.
    const marked = villageLevelAt(new Date('2025-08-10T00:00:00Z'));
    await mongoose.connection.db!.collection('credit_sweep_marks').insertOne({
      _id: `levels_2025-08_${MODEL_V1.version}`,
      through: marked,
    } as never);
    const late = (await makeVillage()).id;
    const subject = { ...households[0]!, villageId: late };
    let score = 0;
    const sent = await filtersSent(async () => {
      score = (await scoreAsOf(subject, new Date('2025-08-10T00:00:00Z'), MODEL_V1, settings)).view
        .score;
    });
    expect(notLoneId(sent)).to.deep.equal([]);
    expect(await memoOf(late, marked)).to.equal(null);
    expect(score).to.be.within(0, 1000);
  });
});
