/**
 * Ledger posting: entries per second when many writers hit one household (all serialised by
 * the (householdId, seq) lock) versus spread over many households, and the cost of a full
 * chain verification. Reported as ratios from one run.
 */
import { performance } from 'node:perf_hooks';
import { postEntry, verifyChain } from '../../src/modules/ledger/ledger.service';
import { makeHousehold, makeVillage } from '../../test/support/factories';
import type { Bench } from './registry';

const POSTS = 400;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const award = (householdId: string, i: number, tag: string) =>
  postEntry({
    householdId,
    type: 'adjustment',
    points: 1,
    spendableDelta: 1,
    meritDelta: 1,
    shortfall: 'clamp',
    source: { type: 'bench', id: `${tag}-${householdId}-${i}` },
  });

export const ledgerBench: Bench = {
  name: 'ledger',
  async run() {
    const v = await makeVillage();
    const one = await makeHousehold(v.id);
    const many = await Promise.all(Array.from({ length: 40 }, () => makeHousehold(v.id)));
    const seqMs = await timeIt(async () => {
      for (let i = 0; i < POSTS; i++) await award(one.id, i, 'seq');
    });
    const hot = await makeHousehold(v.id);
    const hotMs = await timeIt(() =>
      Promise.all(Array.from({ length: POSTS }, (_, i) => award(hot.id, i, 'hot'))),
    );
    const spreadMs = await timeIt(() =>
      Promise.all(
        Array.from({ length: POSTS }, (_, i) => award(many[i % many.length]!.id, i, 'spread')),
      ),
    );
    const verifyMs = await timeIt(() => verifyChain(hot.id));
    const rate = (ms: number) => Math.round((POSTS / ms) * 1000);
    return [
      `| case | ${POSTS} posts | entries/s | vs sequential |`,
      '|---|---|---|---|',
      `| one household, one writer after another | ${seqMs.toFixed(0)} ms | ${rate(seqMs)} | 1.00 |`,
      `| one household, ${POSTS} concurrent writers | ${hotMs.toFixed(0)} ms | ${rate(hotMs)} | ${(seqMs / hotMs).toFixed(2)} |`,
      `| 40 households, ${POSTS} concurrent writers | ${spreadMs.toFixed(0)} ms | ${rate(spreadMs)} | ${(seqMs / spreadMs).toFixed(2)} |`,
      `| verify one ${POSTS}-entry chain | ${verifyMs.toFixed(0)} ms | ${rate(verifyMs)} | ${(seqMs / verifyMs).toFixed(2)} |`,
    ];
  },
};
