import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { IN_FLIGHT_WAIT_MS } from '../../../src/modules/redemption/redemption.service';
import {
  account,
  entriesOf,
  expectBooksAgree,
  fund,
  makeScene,
  newKey,
  redeemVia,
  stockOfSku,
  verifyTouchedChains,
} from './scene';
import { redemptionFaults, redemptionTuning } from '../../../src/platform/faults';

/** A budget by work: a base plus a share per request sent at once (the machine may be busy). */
const budgetFor = (requests: number) => 60_000 + requests * 1_500;

describe('POST /v1/redemptions under races', () => {
  afterEach(verifyTouchedChains);
  // Duplicates of a key wait for the first request's answer up to the in-flight wait (8 s), then
  // answer `conflict`. Twenty at once on a loaded 2-CPU machine can queue longer than that, so
  // these tests, which assert that every duplicate gets the first answer, wait as long as the
  // test may run; the 8 s give-up has its own test (recovery.test.ts).
  before(() => {
    redemptionTuning.inFlightWaitMs = budgetFor(100);
  });
  after(() => {
    redemptionTuning.inFlightWaitMs = IN_FLIGHT_WAIT_MS;
  });

  it('100 concurrent redemptions of 10 points against 500, from 4 terminals → exactly 50 succeed, 50 insufficient_points, spendable 0, merit unchanged, the chain verifies', async function () {
    this.timeout(budgetFor(100));
    const s = await makeScene({
      points: 500,
      terminals: 4,
      items: [{ sku: 'SOAP', points: 10, stock: 1000 }],
    });
    const h = s.households[0]!;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        redeemVia(s.terminals[i % 4]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'SOAP', qty: 1 }],
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter(
      (r) => r.status === 409 && r.body.code === 'insufficient_points',
    );
    expect(
      ok.length,
      results
        .filter((r) => r.status !== 201 && r.status !== 409)
        .map((r) => r.text)
        .join('\n'),
    ).to.equal(50);
    expect(refused.length).to.equal(50);
    expect(await account(s, h.id)).to.include({ spendable: 0, merit: 500, entryCount: 51 });
    expect(
      new Set(ok.map((r) => r.body.spendableAfter)).size,
      'every success saw its own balance',
    ).to.equal(50);
    expect(await stockOfSku(s, 'SOAP')).to.equal(950);
    await expectBooksAgree(s, { points: { [h.id]: 500 }, stock: { SOAP: 1000 } });
  });

  it('a duplicate sent while the first request holds after settling a refusal waits for its give-backs, then replays the same 409 (the answer is stored on the settled event)', async function () {
    this.timeout(budgetFor(2));
    const s = await makeScene({ points: 5 });
    const t = s.terminals[0]!;
    const key = newKey();
    const body = { cardNo: s.households[0]!.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    let reached!: () => void;
    const atSettled = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    redemptionFaults.after = async (step) => {
      if (step !== 'settled') return;
      reached();
      await gate;
    };
    try {
      const first = redeemVia(t, key, body).then((r) => r);
      await atSettled;
      let duplicateAnswered = false;
      const duplicate = redeemVia(t, key, body).then((r) => {
        duplicateAnswered = true;
        return r;
      });
      // Give the duplicate time to find the claim and poll; it must not answer before the tail.
      await new Promise((r) => setTimeout(r, 500));
      expect(duplicateAnswered, 'answered before the give-backs').to.equal(false);
      release();
      const [a, b] = await Promise.all([first, duplicate]);
      expect(a.status).to.equal(409);
      expect(a.body.code).to.equal('insufficient_points');
      expect(b.status).to.equal(409);
      expect(b.text).to.equal(a.text);
    } finally {
      delete redemptionFaults.after;
      release();
    }
    expect(await stockOfSku(s, 'RICE')).to.equal(1000);
    const again = await redeemVia(t, key, body);
    expect(again.status).to.equal(409);
    await expectBooksAgree(s, { points: { [s.households[0]!.id]: 5 }, stock: { RICE: 1000 } });
  });

  it('20 concurrent requests with one key → one spend, every response identical in status and body; the key with another body → 422', async function () {
    this.timeout(budgetFor(20));
    const s = await makeScene({ points: 100 });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 3 }] };
    const results = await Promise.all(Array.from({ length: 20 }, () => redeemVia(t, key, body)));
    for (const r of results) {
      expect(r.status).to.equal(201);
      expect(r.text).to.equal(results[0]!.text);
    }
    expect(await account(s, h.id)).to.include({ spendable: 70, entryCount: 2 });
    expect(await stockOfSku(s, 'RICE')).to.equal(997);
    const other = await redeemVia(t, key, { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 4 }] });
    expect(other.status).to.equal(422);
    expect(other.body.code).to.equal('idempotency_key_reused');
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 1000 } });
  });

  it('20 concurrent requests with one key that is refused → all get the same stored 409', async function () {
    this.timeout(budgetFor(20));
    const s = await makeScene({ points: 5 });
    const key = newKey();
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        redeemVia(s.terminals[0]!, key, {
          cardNo: s.households[0]!.cardNo,
          items: [{ sku: 'RICE', qty: 1 }],
        }),
      ),
    );
    for (const r of results) {
      expect(r.status).to.equal(409);
      expect(r.text).to.equal(results[0]!.text);
    }
    expect(results[0]!.body.code).to.equal('insufficient_points');
  });

  it('stock 5, ten buyers at once → 5 succeed, 5 out_of_stock, and those 5 spend nothing', async () => {
    const s = await makeScene({
      points: 100,
      households: 10,
      terminals: 3,
      items: [{ sku: 'OIL', name: '食用油', points: 30, stock: 5 }],
    });
    const results = await Promise.all(
      s.households.map((h, i) =>
        redeemVia(s.terminals[i % 3]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'OIL', qty: 1 }],
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 409 && r.body.code === 'out_of_stock');
    expect(ok.length).to.equal(5);
    expect(refused.length).to.equal(5);
    expect(await stockOfSku(s, 'OIL')).to.equal(0);
    for (const [i, h] of s.households.entries()) {
      const acc = await account(s, h.id);
      if (results[i]!.status === 201) expect(acc).to.include({ spendable: 70, entryCount: 2 });
      else
        expect(acc, 'a refused buyer spends nothing').to.include({ spendable: 100, entryCount: 1 });
    }
    await expectBooksAgree(s, {
      points: Object.fromEntries(s.households.map((h) => [h.id, 100])),
      stock: { OIL: 5 },
    });
  });

  it('a first try refused with insufficient_points, then a top-up, then a replay of the same key and body → the same 409; a new key then succeeds', async () => {
    const s = await makeScene({ points: 5 });
    const t = s.terminals[0]!;
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 1 }] };
    const first = await redeemVia(t, key, body);
    expect(first.status).to.equal(409);
    expect(first.body.code).to.equal('insufficient_points');
    await fund(h.id, 100);
    const replay = await redeemVia(t, key, body);
    expect(replay.status).to.equal(409);
    expect(replay.text).to.equal(first.text);
    expect(replay.headers['content-type']).to.match(/application\/problem\+json/);
    const fresh = await redeemVia(t, newKey(), body);
    expect(fresh.status).to.equal(201);
    expect(fresh.body.spendableAfter).to.equal(95);
    await entriesOf(s, h.id);
  });

  it('one redemption reversed ten times at once → points and stock come back once; every answer is the same 201', async function () {
    this.timeout(budgetFor(10));
    const s = await makeScene({ points: 100, terminals: 2 });
    const h = s.households[0]!;
    const red = await redeemVia(s.terminals[0]!, newKey(), {
      cardNo: h.cardNo,
      items: [{ sku: 'RICE', qty: 4 }],
    });
    expect(red.status).to.equal(201);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        http()
          .post(`/v1/redemptions/${red.body.id}/reversal`)
          .set(s.terminals[i % 2]!.auth),
      ),
    );
    for (const r of results) {
      expect(r.status, r.text).to.equal(201);
      expect(r.text).to.equal(results[0]!.text);
    }
    expect(results[0]!.body).to.include({
      redemptionId: red.body.id,
      points: 40,
      spendableAfter: 100,
    });
    expect(await account(s, h.id)).to.include({ spendable: 100, merit: 100, entryCount: 3 });
    expect(await stockOfSku(s, 'RICE')).to.equal(1000);
    const entries = await entriesOf(s, h.id);
    expect(entries.filter((e) => e.type === 'reversal')).to.have.length(1);
    const rec = await http().get(`/v1/redemptions/${red.body.id}`).set(s.terminals[1]!.auth);
    expect(rec.body.status).to.equal('reversed');
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 1000 } });
  });

  it('a daily limit of 30 with ten 10-point redemptions at once from two counters → exactly 3 go through', async () => {
    const s = await makeScene({ points: 1000, terminals: 2, dailyLimit: 30 });
    const h = s.households[0]!;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        redeemVia(s.terminals[i % 2]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'RICE', qty: 1 }],
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).to.have.length(3);
    const refused = results.filter((r) => r.status === 409);
    expect(refused).to.have.length(7);
    for (const r of refused) expect(r.body).to.include({ code: 'daily_limit_exceeded', limit: 30 });
    expect((await account(s, h.id)).spendable).to.equal(970);
    await expectBooksAgree(s, { points: { [h.id]: 1000 }, stock: { RICE: 1000 } });
  });
});
