/**
 * I2 lives in the ledger: each verb (award, deduct, redeem, reverse, adjust) works the amounts
 * out from its type's rule, and refuses a request that breaks it before anything is written;
 * `postEntry`, called directly, asserts the same rule per entry type.
 */
import { AssertionError } from 'node:assert';
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { makeHousehold, makeVillage } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import {
  adjust,
  award,
  deduct,
  ENTRY_RULES,
  getAccount,
  postEntry,
  redeem,
  reverse,
  verifyChain,
  type PostEntryInput,
} from '../../../src/modules/ledger/ledger.service';

const source = (type = 'test-verb') => ({ type, id: new Types.ObjectId().toHexString() });

async function refusal(promise: () => Promise<unknown>): Promise<unknown> {
  try {
    await promise();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('ledger verbs (I2 in the ledger)', () => {
  let villageId: string;

  before(async () => {
    villageId = (await makeVillage()).id;
  });

  it('each verb moves the balances its rule says, and every entry keeps its type’s rule', async () => {
    const h = await makeHousehold(villageId);
    const base = { householdId: h.id };
    await award({ ...base, points: 40, source: source() });
    const spent = (await redeem({ ...base, points: 30, source: source() })).entry;
    expect(spent).to.include({
      type: 'redemption',
      points: -30,
      spendableDelta: -30,
      meritDelta: 0,
    });
    // Spendable 10, merit 40: a deduction of 25 takes merit in full and spendable as far as it goes.
    const taken = (await deduct({ ...base, points: 25, source: source() })).entry;
    expect(taken).to.include({
      points: -25,
      spendableDelta: -10,
      meritDelta: -25,
      spendableAfter: 0,
    });
    const back = (
      await reverse({ ...base, reverses: { ...taken, type: 'deduction' }, source: source() })
    ).entry;
    expect(back).to.include({ type: 'reversal', points: 25, spendableDelta: 10, meritDelta: 25 });
    const refund = (
      await reverse({ ...base, reverses: { type: 'redemption', points: 30 }, source: source() })
    ).entry;
    expect(refund).to.include({ points: 30, spendableDelta: 30, meritDelta: 0 });
    const cut = (await adjust({ ...base, points: -100, source: source() })).entry;
    expect(cut).to.include({ points: -100, spendableDelta: -40, meritDelta: -100 });
    for (const e of [spent, taken, back, refund, cut])
      expect(ENTRY_RULES[e.type].holds(e)).to.equal(true);
    expect(await getAccount(h.id)).to.include({ spendable: 0, merit: -60, entryCount: 6 });
    expect(await verifyChain(h.id)).to.equal(undefined);
  });

  it('a verb refuses a request that breaks its rule, and writes nothing', async () => {
    const h = await makeHousehold(villageId);
    const base = { householdId: h.id, source: source() };
    await award({ ...base, points: 50 });
    const before = await countAll();
    const headBefore = await getAccount(h.id);
    const bad: [string, () => Promise<unknown>][] = [
      ['award of 0', () => award({ ...base, points: 0, source: source() })],
      [
        'award below 0 (a deduction in disguise)',
        () => award({ ...base, points: -5, source: source() }),
      ],
      [
        'deduction of a negative magnitude',
        () => deduct({ ...base, points: -5, source: source() }),
      ],
      [
        'redemption of a negative magnitude',
        () => redeem({ ...base, points: -5, source: source() }),
      ],
      ['fractional redemption', () => redeem({ ...base, points: 1.5, source: source() })],
      ['adjustment of 0', () => adjust({ ...base, points: 0, source: source() })],
      [
        'reversal of a "deduction" that took less merit than its points',
        () =>
          reverse({
            ...base,
            reverses: { type: 'deduction', points: -10, spendableDelta: -10, meritDelta: -4 },
            source: source(),
          }),
      ],
      [
        'reversal of a "deduction" that took more spendable than its points',
        () =>
          reverse({
            ...base,
            reverses: { type: 'deduction', points: -10, spendableDelta: -20, meritDelta: -10 },
            source: source(),
          }),
      ],
      [
        'reversal of a negative redemption',
        () => reverse({ ...base, reverses: { type: 'redemption', points: -3 }, source: source() }),
      ],
    ];
    for (const [what, post] of bad)
      expect(await refusal(post), what).to.be.instanceOf(AssertionError);
    await expectNothingStored(before);
    expect(await getAccount(h.id)).to.deep.equal(headBefore);
  });

  it('postEntry › asserts each type’s rule for a direct caller, before writing anything', async () => {
    const h = await makeHousehold(villageId);
    await award({ householdId: h.id, points: 50, source: source() });
    const before = await countAll();
    const entry = (over: Partial<PostEntryInput>): PostEntryInput => ({
      householdId: h.id,
      type: 'award',
      points: 10,
      spendableDelta: 10,
      meritDelta: 10,
      source: source(),
      ...over,
    });
    const bad: [string, PostEntryInput][] = [
      ['an award that leaves merit alone', entry({ meritDelta: 0 })],
      [
        'a redemption that lowers merit',
        entry({ type: 'redemption', points: -5, spendableDelta: -5, meritDelta: -5 }),
      ],
      [
        'a deduction that takes merit short',
        entry({ type: 'deduction', points: -10, spendableDelta: -10, meritDelta: -5 }),
      ],
      [
        'a deduction that would raise spendable',
        entry({ type: 'deduction', points: -10, spendableDelta: 3, meritDelta: -10 }),
      ],
      [
        'an adjustment that moves one balance only',
        entry({ type: 'adjustment', points: 7, spendableDelta: 7, meritDelta: 0 }),
      ],
      [
        'a reversal that lowers a balance',
        entry({ type: 'reversal', points: -5, spendableDelta: -5, meritDelta: 0 }),
      ],
      [
        'a redemption that asks to be clamped',
        entry({
          type: 'redemption',
          points: -5,
          spendableDelta: -5,
          meritDelta: 0,
          shortfall: 'clamp',
        }),
      ],
      [
        'a deduction that asks to be refused',
        entry({
          type: 'deduction',
          points: -5,
          spendableDelta: -5,
          meritDelta: -5,
          shortfall: 'reject',
        }),
      ],
    ];
    for (const [what, input] of bad)
      expect(await refusal(() => postEntry(input)), what).to.be.instanceOf(AssertionError);
    await expectNothingStored(before);
  });
});
