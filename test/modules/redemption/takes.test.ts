/**
 * A redemption's takes (the day's allowance, each line's stock) are made side by side and write
 * no source pointer: the request records their link ids on its settled event, and give-backs
 * read them from there. Where no such record exists (recovery settled the redemption), the take
 * is found by its source (the unique source index, at the price of a scan).
 */
import mongoose from 'mongoose';
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { settleBackgroundWrites } from '../../../src/platform/background';
import { forgetHints } from '../../../src/platform/db';
import { configChanged } from '../../../src/platform/config-cache';
import {
  IN_FLIGHT_WAIT_MS,
  RECOVERY_AGE_MS,
  recoverRedemptions,
} from '../../../src/modules/redemption/redemption.service';
import {
  RedemptionEvent,
  type RedemptionEventDoc,
} from '../../../src/modules/redemption/redemption.model';
import { redemptionFaults, redemptionTuning } from '../../../src/platform/faults';
import {
  account,
  expectBooksAgree,
  makeScene,
  newKey,
  redeemVia,
  redemptionsOf,
  stockOfSku,
  verifyTouchedChains,
} from './scene';

const BASKET = [
  { sku: 'RICE', qty: 2 },
  { sku: 'SOAP', qty: 1 },
];
/** 2 × 20 + 1 × 5 */
const BASKET_POINTS = 45;
const ITEMS = [
  { sku: 'RICE', name: '大米', points: 20, stock: 10 },
  { sku: 'SOAP', name: '肥皂', points: 5, stock: 10 },
];

const settledOf = async (redemptionId: string) =>
  RedemptionEvent.findById(`${redemptionId}:settled`).lean<RedemptionEventDoc>();

/** The `chain_sources` pointers naming a redemption's takes (there should be none). */
async function takePointers(redemptionId: string): Promise<unknown[]> {
  const all = await mongoose.connection.db!.collection('chain_sources').find({}).toArray();
  return all.filter((p) => String(p._id).includes(`|take|${redemptionId}`));
}

describe('redemption takes: recorded on the settled event, no source pointers', () => {
  afterEach(() => {
    delete redemptionFaults.after;
    redemptionTuning.staleAfterMs = RECOVERY_AGE_MS;
    redemptionTuning.inFlightWaitMs = IN_FLIGHT_WAIT_MS;
  });
  afterEach(verifyTouchedChains);

  it('a confirmed redemption records every take (allowance and each line) and writes no pointer; its reversal gives them back from that record', async () => {
    const s = await makeScene({ points: 100, dailyLimit: BASKET_POINTS, items: ITEMS });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const red = await redeemVia(t, newKey(), { cardNo: h.cardNo, items: BASKET });
    expect(red.status, red.text).to.equal(201);
    const settled = await settledOf(red.body.id);
    expect(settled?.takes?.allowance).to.be.a('string');
    expect(settled?.takes?.stock).to.have.length(2);
    expect(settled?.takes?.stock.map((id) => id.slice(0, id.lastIndexOf('#'))).sort()).to.eql(
      [s.items.RICE!.id, s.items.SOAP!.id].sort(),
    );
    expect(await takePointers(red.body.id)).to.have.length(0);
    const rev = await http().post(`/v1/redemptions/${red.body.id}/reversal`).set(t.auth);
    expect(rev.status, rev.text).to.equal(201);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10, SOAP: 10 } });
    // The allowance came back too: a full basket fits again today.
    expect((await redeemVia(t, newKey(), { cardNo: h.cardNo, items: BASKET })).status).to.equal(
      201,
    );
  });

  it("a first redemption reads its household's ledger head and its items' stock heads while its basket is priced, not after its record, and the day's allowance head not at all", async () => {
    const s = await makeScene({ points: 100, dailyLimit: BASKET_POINTS, items: ITEMS });
    const h = s.households[0]!;
    forgetHints(); // as a freshly started process: no chain head in memory
    let recorded = false;
    redemptionFaults.after = (step) => {
      if (step === 'recorded') recorded = true;
    };
    const afterRecord: string[] = [];
    const allowanceReads: string[] = [];
    mongoose.set('debug', (collection: string, method: string, filter?: { _id?: unknown }) => {
      if (!method.startsWith('find')) return;
      if (recorded) afterRecord.push(`${collection} ${method}`);
      if (collection === 'redemption_allowance' || String(filter?._id).startsWith('allowance|'))
        allowanceReads.push(`${collection} ${JSON.stringify(filter)}`);
    });
    try {
      const red = await redeemVia(s.terminals[0]!, newKey(), { cardNo: h.cardNo, items: BASKET });
      expect(red.status, red.text).to.equal(201);
    } finally {
      mongoose.set('debug', false);
    }
    expect(recorded).to.equal(true);
    const headReads = afterRecord.filter((r) =>
      /^(ledger_accounts|ledger_entries|chain_heads|redemption_allowance|stock_movements) /.test(r),
    );
    expect(headReads, 'head reads after the record').to.deep.equal([]);
    // A day's chain this process knows nothing of is taken to be empty (its unique `_id` decides).
    expect(allowanceReads, 'allowance reads').to.deep.equal([]);
    expect((await account(s, h.id)).spendable).to.equal(100 - BASKET_POINTS);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10, SOAP: 10 } });
  });

  it("the day's spending this process does not know of (before a restart, or through another process) still counts: the guess of an empty day is refused by the chain, and the limit is decided on the chain's head", async () => {
    const s = await makeScene({ points: 100, dailyLimit: BASKET_POINTS + 10, items: ITEMS });
    const [t, h] = [s.terminals[0]!, s.households[0]!];
    const body = { cardNo: h.cardNo, items: BASKET };
    expect((await redeemVia(t, newKey(), body)).status).to.equal(201);
    forgetHints(); // as a freshly started process: the day's first take is unknown to it
    const second = await redeemVia(t, newKey(), body);
    expect(second.status, second.text).to.equal(409);
    expect(second.body).to.include({ code: 'daily_limit_exceeded', usedToday: BASKET_POINTS });
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10, SOAP: 10 } });
  });

  it("without a limit, the day's chain grows from its true head after a restart: the second take is its seq 2, the day's total both baskets", async () => {
    const s = await makeScene({ points: 100, items: ITEMS });
    const [t, h] = [s.terminals[0]!, s.households[0]!];
    const body = { cardNo: h.cardNo, items: BASKET };
    expect((await redeemVia(t, newKey(), body)).status).to.equal(201);
    forgetHints();
    const second = await redeemVia(t, newKey(), body);
    expect(second.status, second.text).to.equal(201);
    const links = await mongoose.connection
      .db!.collection<{ _id: string; seq: number; usedAfter: number }>('redemption_allowance')
      .find({})
      .toArray();
    const day = links.filter((l) => l._id.startsWith(`${h.id}:`)).sort((a, b) => a.seq - b.seq);
    expect(day.map((l) => [l.seq, l.usedAfter])).to.deep.equal([
      [1, BASKET_POINTS],
      [2, 2 * BASKET_POINTS],
    ]);
    expect((await account(s, h.id)).spendable).to.equal(100 - 2 * BASKET_POINTS);
  });

  it("a new card: its household's ledger head and PIN record are asked for on the card index's word, beside the household's own read, each once; its day's allowance is not read", async () => {
    const s = await makeScene({ points: 100, dailyLimit: BASKET_POINTS, items: ITEMS });
    const h = s.households[0]!;
    // The scene's funding wrote its account cache in the background: once it has landed, as for
    // a card funded long before (a cache still on its way is read again by the posting, rightly).
    await settleBackgroundWrites();
    forgetHints(); // no chain head in memory
    await configChanged(); // and no household, card or PIN cached: as a card this process never saw
    const sent: string[] = [];
    mongoose.set('debug', (collection: string, method: string) => {
      if (method.startsWith('find')) sent.push(collection);
    });
    try {
      const red = await redeemVia(s.terminals[0]!, newKey(), { cardNo: h.cardNo, items: BASKET });
      expect(red.status, red.text).to.equal(201);
    } finally {
      mongoose.set('debug', false);
    }
    const first = (c: string) => sent.indexOf(c);
    const count = (c: string) => sent.filter((x) => x === c).length;
    expect(first('household_cards')).to.be.at.least(0);
    // The heads are sent before the household's read (which asks Redis for the cache's epoch
    // first), not once it is answered; the PIN record, cached too, goes beside it (counted once).
    expect(
      first('ledger_accounts'),
      `ledger head before households: ${sent.join(', ')}`,
    ).to.be.lessThan(first('households'));
    expect(count('redemption_allowance'), 'the day is taken to be empty, not read').to.equal(0);
    for (const c of ['household_cards', 'households', 'ledger_accounts', 'card_pins'])
      expect(count(c), `${c}: ${sent.join(', ')}`).to.equal(1);
    expect((await account(s, h.id)).spendable).to.equal(100 - BASKET_POINTS);
  });

  it('a refusal on one take (the daily limit) gives back the takes made beside it, from the record; the replay answers the same 409', async () => {
    const s = await makeScene({ points: 100, dailyLimit: BASKET_POINTS - 1, items: ITEMS });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: BASKET };
    const refused = await redeemVia(t, key, body);
    expect(refused.status).to.equal(409);
    expect(refused.body.code).to.equal('daily_limit_exceeded');
    const [record] = await redemptionsOf(s);
    const settled = await settledOf(record!.id as string);
    expect(settled).to.include({ status: 'failed', code: 'daily_limit_exceeded' });
    // The stock was taken beside the refused allowance, and given back.
    expect(settled?.takes?.allowance).to.equal(undefined);
    expect(settled?.takes?.stock).to.have.length(2);
    expect(await stockOfSku(s, 'RICE')).to.equal(10);
    expect(await stockOfSku(s, 'SOAP')).to.equal(10);
    expect((await redeemVia(t, key, body)).text).to.equal(refused.text);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10, SOAP: 10 } });
  });

  it('out of stock on one line: the other line and the allowance, taken beside it, are given back once', async () => {
    const s = await makeScene({
      points: 100,
      dailyLimit: 100,
      items: [ITEMS[0]!, { ...ITEMS[1]!, stock: 0 }],
    });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const refused = await redeemVia(t, newKey(), { cardNo: h.cardNo, items: BASKET });
    expect(refused.status).to.equal(409);
    expect(refused.body).to.include({ code: 'out_of_stock', sku: 'SOAP' });
    expect(await stockOfSku(s, 'RICE')).to.equal(10);
    // The whole day's limit is free again: 5 × RICE (100 points) goes through.
    const full = await redeemVia(t, newKey(), {
      cardNo: h.cardNo,
      items: [{ sku: 'RICE', qty: 5 }],
    });
    expect(full.status, full.text).to.equal(201);
    expect(await account(s, h.id)).to.include({ spendable: 0 });
  });

  it('a redemption rolled forward by recovery has no recorded takes: its reversal finds them by source and gives points, stock and allowance back once', async () => {
    const s = await makeScene({ points: 100, dailyLimit: BASKET_POINTS, items: ITEMS });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: BASKET };
    redemptionFaults.after = (step) => {
      if (step === 'ledgerPosted') throw new Error('injected crash after ledgerPosted');
    };
    expect((await redeemVia(t, key, body)).status).to.equal(500);
    delete redemptionFaults.after;
    expect(await recoverRedemptions(0)).to.include({ keys: 1, errors: 0 });
    const replay = await redeemVia(t, key, body);
    expect(replay.status, replay.text).to.equal(201);
    const settled = await settledOf(replay.body.id);
    expect(settled).to.include({ status: 'confirmed', by: 'recovery' });
    expect(settled?.takes).to.equal(undefined);
    const rev = await http().post(`/v1/redemptions/${replay.body.id}/reversal`).set(t.auth);
    expect(rev.status, rev.text).to.equal(201);
    const again = await http().post(`/v1/redemptions/${replay.body.id}/reversal`).set(t.auth);
    expect(again.text).to.equal(rev.text);
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10, SOAP: 10 } });
    expect((await redeemVia(t, newKey(), body)).status).to.equal(201);
  });
});
