import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import {
  IN_FLIGHT_WAIT_MS,
  RECOVERY_AGE_MS,
  recoverRedemptions,
  type RedeemStep,
} from '../../../src/modules/redemption/redemption.service';
import {
  account,
  entriesOf,
  expectBooksAgree,
  makeScene,
  newKey,
  redeemVia,
  redemptionsOf,
  stockOfSku,
  verifyTouchedChains,
} from './scene';
import { redemptionFaults, redemptionTuning } from '../../../src/platform/faults';

/** Makes the request die right after `step` (for any redemption): a crash between two steps. */
function crashAfter(step: RedeemStep): void {
  redemptionFaults.after = (s) => {
    if (s === step) throw new Error(`injected crash after ${step}`);
  };
}

const BASKET = [
  { sku: 'RICE', qty: 2 },
  { sku: 'SOAP', qty: 1 },
];
/** 2 × 20 + 1 × 5 */
const BASKET_POINTS = 45;

async function crashScene() {
  // The daily limit is exactly one basket, so an allowance not given back would show.
  return makeScene({
    points: 100,
    dailyLimit: BASKET_POINTS,
    items: [
      { sku: 'RICE', name: '大米', points: 20, stock: 10 },
      { sku: 'SOAP', name: '肥皂', points: 5, stock: 10 },
    ],
  });
}

describe('redemption recovery after a crash', () => {
  afterEach(() => {
    delete redemptionFaults.after;
    redemptionTuning.staleAfterMs = RECOVERY_AGE_MS;
    redemptionTuning.inFlightWaitMs = IN_FLIGHT_WAIT_MS;
  });
  afterEach(verifyTouchedChains);

  const rolledBack: RedeemStep[] = ['claimed', 'recorded', 'allowanceTaken', 'stockTaken'];
  const rolledForward: RedeemStep[] = ['ledgerPosted', 'settled'];

  for (const step of [...rolledBack, ...rolledForward]) {
    const forward = rolledForward.includes(step);
    it(`a crash after "${step}" → recovery ${forward ? 'finishes it' : 'undoes it'}; points, stock, allowance and records agree; the retry with the same key ${forward ? 'gets the same 201' : 'redeems once'}`, async () => {
      const s = await crashScene();
      const t = s.terminals[0]!;
      const h = s.households[0]!;
      const key = newKey();
      const body = { cardNo: h.cardNo, items: BASKET };
      crashAfter(step);
      const crashed = await redeemVia(t, key, body);
      expect(crashed.status).to.equal(500);
      delete redemptionFaults.after;

      // While the dead request's key is young, a duplicate is told the first is in flight;
      // once settled (the commit point) with its request over, the duplicate finishes the tail
      // itself, as recovery would, and is answered at once.
      redemptionTuning.inFlightWaitMs = 100;
      const settledFirst = step === 'settled';
      const duplicate = await redeemVia(t, key, body);
      if (settledFirst) {
        expect(duplicate.status, duplicate.text).to.equal(201);
      } else {
        expect(duplicate.status).to.equal(409);
        expect(duplicate.body.code).to.equal('conflict');
      }

      const report = await recoverRedemptions(0);
      expect(report.errors).to.equal(0);
      expect(report.keys).to.equal(settledFirst ? 0 : 1);
      const afterRecovery = await expectBooksAgree(s, {
        points: { [h.id]: 100 },
        stock: { RICE: 10, SOAP: 10 },
      });
      if (forward) {
        expect(afterRecovery.live).to.have.length(1);
        expect(await account(s, h.id)).to.include({ spendable: 55, merit: 100 });
      } else {
        expect(afterRecovery.live).to.have.length(0);
        expect(await account(s, h.id)).to.include({ spendable: 100, merit: 100 });
        expect(await stockOfSku(s, 'RICE')).to.equal(10);
        for (const r of afterRecovery.records)
          expect(r).to.include({ status: 'failed' }).and.have.deep.property('failure', {
            code: 'abandoned',
            detail: 'Interrupted; rolled back by recovery.',
          });
      }

      const retry = await redeemVia(t, key, body);
      expect(retry.status, retry.text).to.equal(201);
      const again = await redeemVia(t, key, body);
      expect(again.text).to.equal(retry.text);
      if (settledFirst) expect(duplicate.text).to.equal(retry.text);
      if (forward) expect(retry.body.id).to.equal(afterRecovery.live[0]!.id);
      expect(retry.body).to.include({ points: BASKET_POINTS, spendableAfter: 55 });

      const final = await expectBooksAgree(s, {
        points: { [h.id]: 100 },
        stock: { RICE: 10, SOAP: 10 },
      });
      expect(final.live).to.have.length(1);
      const charged = (await entriesOf(s, h.id)).filter(
        (e) => e.type === 'redemption' && e.points !== 0,
      );
      expect(charged, 'exactly one charging entry').to.have.length(1);
      // The day's allowance was used once: one more item is over the limit.
      const more = await redeemVia(t, newKey(), {
        cardNo: h.cardNo,
        items: [{ sku: 'SOAP', qty: 1 }],
      });
      expect(more.status).to.equal(409);
      expect(more.body).to.include({ code: 'daily_limit_exceeded', usedToday: BASKET_POINTS });
    });
  }

  for (const step of ['settled', 'compensated'] as RedeemStep[]) {
    it(`a refused redemption that crashes after "${step}" → recovery gives everything back and stores the refusal; the retry replays that 409`, async () => {
      const s = await makeScene({ points: 30, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
      const t = s.terminals[0]!;
      const h = s.households[0]!;
      const key = newKey();
      const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 2 }] };
      crashAfter(step);
      expect((await redeemVia(t, key, body)).status).to.equal(500);
      delete redemptionFaults.after;
      expect((await recoverRedemptions(0)).errors).to.equal(0);
      expect(await stockOfSku(s, 'RICE')).to.equal(10);
      const retry = await redeemVia(t, key, body);
      expect(retry.status).to.equal(409);
      expect(retry.body.code).to.equal('insufficient_points');
      expect((await redeemVia(t, key, body)).text).to.equal(retry.text);
      await expectBooksAgree(s, { points: { [h.id]: 30 }, stock: { RICE: 10 } });
    });
  }

  it('a retry after the recovery age recovers the dead request itself: the API killed after the ledger insert → the retry returns the 201 with one entry', async () => {
    const s = await crashScene();
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: BASKET };
    crashAfter('ledgerPosted');
    expect((await redeemVia(t, key, body)).status).to.equal(500);
    delete redemptionFaults.after;
    redemptionTuning.staleAfterMs = 0; // as if RECOVERY_AGE_MS had passed
    const retry = await redeemVia(t, key, body);
    expect(retry.status, retry.text).to.equal(201);
    expect((await redeemVia(t, key, body)).text).to.equal(retry.text);
    const entries = await entriesOf(s, h.id);
    expect(entries.filter((e) => e.type === 'redemption')).to.have.length(1);
    expect(await account(s, h.id)).to.include({ spendable: 55 });
  });

  for (const step of ['reversalPosted', 'reversalReturned'] as RedeemStep[]) {
    it(`a reversal that crashes after "${step}" → recovery finishes it: points and stock back once`, async () => {
      const s = await crashScene();
      const t = s.terminals[0]!;
      const h = s.households[0]!;
      const red = await redeemVia(t, newKey(), { cardNo: h.cardNo, items: BASKET });
      expect(red.status).to.equal(201);
      crashAfter(step);
      expect(
        (await http().post(`/v1/redemptions/${red.body.id}/reversal`).set(t.auth)).status,
      ).to.equal(500);
      delete redemptionFaults.after;
      const report = await recoverRedemptions(0);
      expect(report).to.include({ reversals: 1, errors: 0 });
      expect(await account(s, h.id)).to.include({ spendable: 100, merit: 100 });
      expect(await stockOfSku(s, 'RICE')).to.equal(10);
      const again = await http().post(`/v1/redemptions/${red.body.id}/reversal`).set(t.auth);
      expect(again.status).to.equal(201);
      expect(again.body.spendableAfter).to.equal(100);
      await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10, SOAP: 10 } });
      // The allowance came back with the reversal: a full basket fits again today.
      expect((await redeemVia(t, newKey(), { cardNo: h.cardNo, items: BASKET })).status).to.equal(
        201,
      );
    });
  }

  it('recovery running flat out beside live requests never breaks the books (every request is "stale" at once)', async () => {
    const s = await makeScene({
      points: 200,
      households: 2,
      terminals: 2,
      items: [{ sku: 'RICE', points: 10, stock: 15 }],
    });
    redemptionTuning.staleAfterMs = 0;
    redemptionTuning.inFlightWaitMs = 2000;
    let sweeping = true;
    const sweeper = (async () => {
      let runs = 0;
      while (sweeping) {
        await recoverRedemptions(0);
        runs++;
      }
      return runs;
    })();
    const keys = Array.from({ length: 8 }, () => newKey());
    const requests = Array.from({ length: 40 }, (_, i) => {
      const h = s.households[i % 2]!;
      const key = `${keys[i % 8]!}-${i % 2}`;
      return redeemVia(s.terminals[i % 2]!, key, {
        cardNo: h.cardNo,
        items: [{ sku: 'RICE', qty: 1 }],
      });
    });
    const results = await Promise.all(requests);
    sweeping = false;
    expect(await sweeper).to.be.greaterThan(0);
    for (const r of results) expect([201, 409], r.text).to.include(r.status);
    await recoverRedemptions(0);
    const { live } = await expectBooksAgree(s, {
      points: Object.fromEntries(s.households.map((h) => [h.id, 200])),
      stock: { RICE: 15 },
    });
    // Each (terminal, key) spent at most once.
    expect(live.length).to.be.at.most(16);
    const records = await redemptionsOf(s);
    expect(records.every((r) => r.status !== 'pending')).to.equal(true);
  });
});
