/**
 * The one-pass batch scorer (credit.batch.ts) gives each household exactly what the look-up
 * path (`scoreAsOf`: the chain read by `_id`, the village level memoised per month) gives, for
 * households with varied histories (awards, honours, deductions, reversals of a deduction and of
 * a redemption, redemptions, adjustments both ways, nothing at all), as of now and as of past
 * instants.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { makeHousehold } from '../../support/factories';
import { findHousehold } from '../../../src/modules/households/households.service';
import type { HouseholdDoc } from '../../../src/modules/households/households.model';
import { postEntry, type EntryType } from '../../../src/modules/ledger/ledger.service';
import { scoreHouseholds } from '../../../src/modules/credit/credit.batch';
import { settledBefore, SETTLE_MS } from '../../../src/modules/credit/credit.inputs';
import { MODEL_V1 } from '../../../src/modules/credit/credit.score';
import { scoreAsOf, type CreditView } from '../../../src/modules/credit/credit.service';
import { award, deduct, makeCreditWorld, redeem, sleep } from './helpers';

const settings = { gradeThresholds: [800, 650, 500, 350] as const };

async function post(householdId: string, type: EntryType, meritDelta: number, spendable = 0) {
  return postEntry({
    householdId,
    type,
    points: meritDelta !== 0 ? meritDelta : spendable,
    spendableDelta: spendable,
    meritDelta,
    shortfall: 'clamp',
    source: { type: `test-${type}`, id: new Types.ObjectId().toHexString() },
  });
}

async function batch(households: HouseholdDoc[], asOf: Date): Promise<CreditView[]> {
  const out: CreditView[] = [];
  const subjects = households.map((h) => ({
    id: h._id.toHexString(),
    villageId: h.villageId,
    createdAt: h.createdAt,
  }));
  for await (const v of scoreHouseholds(subjects, asOf, MODEL_V1, settings)) out.push(v);
  return out;
}

describe('credit batch scoring (one pass over the ledger)', function () {
  this.timeout(120_000);

  it('equals the per-household score for varied histories, as of now and as of past instants', async () => {
    const w = await makeCreditWorld();
    const other = await makeCreditWorld();
    const ids: string[] = [];
    const add = async (villageId: string) => {
      const h = await makeHousehold(villageId);
      ids.push(h.id);
      return h.id;
    };
    const [a, b, c, d, e, f] = [
      await add(w.villageId),
      await add(w.villageId),
      await add(w.villageId),
      await add(w.villageId),
      await add(other.villageId),
      await add(other.villageId), // nothing on record
    ];
    await award(a!, 30, 'best-family');
    await award(b!, 12);
    await award(c!, 40);
    await award(e!, 8, 'star-household');
    await sleep(20);
    const past1 = new Date();
    await sleep(20);
    await award(a!, 10);
    await redeem(a!, 15);
    await deduct(b!, 20);
    await post(b!, 'reversal', 20, 12); // gives the deduction back (spendable as far as taken)
    await redeem(c!, 10);
    await post(c!, 'reversal', 0, 10); // gives a redemption back: spendable only
    await post(d!, 'adjustment', 7, 7);
    await post(d!, 'adjustment', -4, -4);
    await deduct(d!, 3);
    await award(e!, 5);
    await sleep(20);
    const past2 = new Date();
    await sleep(20);
    await deduct(a!, 5);
    await award(c!, 9, 'honour-village-model');
    await redeem(e!, 4);
    await sleep(SETTLE_MS + 50);
    const households = await Promise.all(ids.map(async (id) => (await findHousehold(id))!));
    // The batch goes first, so it is the one that computes (in its pass) and memoises each
    // month's village level that the look-up path then reads; 40 days back is another month.
    const back = (days: number) => new Date(past1.getTime() - days * 86_400_000);
    for (const asOf of [settledBefore(), past2, past1, back(1), back(40)]) {
      const batched = await batch(households, asOf);
      const one = await Promise.all(
        households.map(async (h) => (await scoreAsOf(h, asOf, MODEL_V1, settings)).view),
      );
      expect(batched, asOf.toISOString()).to.deep.equal(one);
    }
    // A batch of a subset, in another order, gives the same answers for those households.
    const subset = [households[4]!, households[0]!, households[2]!];
    const one = await Promise.all(
      subset.map(async (h) => (await scoreAsOf(h, past2, MODEL_V1, settings)).view),
    );
    expect(await batch(subset, past2)).to.deep.equal(one);
    expect(one.map((v) => v.householdId)).to.deep.equal([e, a, c]);
    expect(new Set(one.map((v) => v.score)).size).to.be.greaterThan(1);
    expect(f).to.be.a('string');
  });
});
