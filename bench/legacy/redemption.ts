/**
 * Redemption at the counter: redemptions per second through the HTTP API, one after another
 * versus many counters at once (one card, or many cards), duplicates of one key, and the cost
 * of recovering redemptions a crash left half-done. Reported as ratios from one run.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { postEntry } from '../../src/modules/ledger/ledger.service';
import { recoverRedemptions } from '../../src/modules/redemption/redemption.service';
import { createItem } from '../../src/modules/stores/items.service';
import {
  http,
  makeHousehold,
  makeStore,
  makeTerminal,
  makeVillage,
} from '../../test/support/factories';
import type { Bench } from './registry';
import { redemptionFaults } from '../../src/platform/faults';

const N = 100;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const key = () => `bench-${randomBytes(8).toString('hex')}`;

export const redemptionBench: Bench = {
  name: 'redemption',
  async run() {
    const v = await makeVillage();
    const store = await makeStore([v.id]);
    const terminals = await Promise.all(Array.from({ length: 4 }, () => makeTerminal(store.id)));
    await createItem(store.id, { sku: 'SOAP', name: '肥皂', points: 1, stock: 100_000 });
    const fund = async () => {
      const h = await makeHousehold(v.id);
      await postEntry({
        householdId: h.id,
        type: 'adjustment',
        points: 100_000,
        spendableDelta: 100_000,
        meritDelta: 100_000,
        shortfall: 'clamp',
        source: { type: 'bench', id: key() },
      });
      return h;
    };
    const redeem = (cardNo: string, i: number, k = key()) =>
      http()
        .post('/v1/redemptions')
        .set(terminals[i % 4]!.auth)
        .set('Idempotency-Key', k)
        .send({ cardNo, items: [{ sku: 'SOAP', qty: 1 }] });

    const one = await fund();
    const seqMs = await timeIt(async () => {
      for (let i = 0; i < N; i++) await redeem(one.cardNo, 0);
    });
    const hot = await fund();
    const hotMs = await timeIt(() =>
      Promise.all(Array.from({ length: N }, (_, i) => redeem(hot.cardNo, i))),
    );
    const many = await Promise.all(Array.from({ length: 20 }, fund));
    const spreadMs = await timeIt(() =>
      Promise.all(Array.from({ length: N }, (_, i) => redeem(many[i % 20]!.cardNo, i))),
    );
    const dup = await fund();
    const k = key();
    const dupMs = await timeIt(() =>
      Promise.all(Array.from({ length: 20 }, () => redeem(dup.cardNo, 0, k))),
    );

    const crashed = await fund();
    redemptionFaults.after = (step) => {
      if (step === 'stockTaken') throw new Error('bench crash');
    };
    for (let i = 0; i < 20; i++) await redeem(crashed.cardNo, i);
    delete redemptionFaults.after;
    const recoverMs = await timeIt(() => recoverRedemptions(0));

    const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
    return [
      '| case | redemptions | time | per second | vs sequential |',
      '|---|---|---|---|---|',
      `| one card, one counter, one after another | ${N} | ${seqMs.toFixed(0)} ms | ${rate(N, seqMs)} | 1.00 |`,
      `| one card, 4 counters, all at once | ${N} | ${hotMs.toFixed(0)} ms | ${rate(N, hotMs)} | ${(seqMs / hotMs).toFixed(2)} |`,
      `| 20 cards, 4 counters, all at once | ${N} | ${spreadMs.toFixed(0)} ms | ${rate(N, spreadMs)} | ${(seqMs / spreadMs).toFixed(2)} |`,
      `| one key sent 20 times at once (1 spend, 19 replays) | 20 | ${dupMs.toFixed(0)} ms | ${rate(20, dupMs)} | - |`,
      `| recovery sweep rolling back crashed redemptions | 20 | ${recoverMs.toFixed(0)} ms | ${rate(20, recoverMs)} | - |`,
    ];
  },
};
