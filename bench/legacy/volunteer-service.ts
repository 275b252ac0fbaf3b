/**
 * The volunteer service: the whole loop per order (order → dispatch → accept → complete → rate,
 * which records hours and files the submissions), the cost of a township user's requests as its
 * township grows (its villages are loaded with the principal: a scan on FerretDB-SQLite), the
 * monthly ranking of a county, and the concentration report of a village. Reported from one run.
 */
import { performance } from 'node:perf_hooks';
import { makeUser, makeVillage, http } from '../../test/support/factories';
import { fullLoop, makeServiceScene } from '../../test/modules/service-orders/scene';
import { computeRanking } from '../../src/modules/rankings/rankings.service';
import type { Bench } from './registry';

const ORDERS = 30;

async function timeIt<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
}

export const volunteerServiceBench: Bench = {
  name: 'volunteer-service',
  async run() {
    const s = await makeServiceScene({ quorum: 2, noticePeriod: 'P1D' });
    const [loopMs] = await timeIt(async () => {
      for (let i = 0; i < ORDERS; i++) await fullLoop(s, [2, 1, 1]);
    });
    const lines = [
      '| case | time |',
      '|---|---|',
      `| one order through the whole loop (5 requests, 2 submissions filed), mean of ${ORDERS} | ${(loopMs / ORDERS).toFixed(0)} ms |`,
    ];

    // A township user's request: its villages are read with the principal.
    for (const villages of [10, 200]) {
      const township = `bench-${villages}-${Date.now()}`;
      const first = await makeVillage({ county: s.county, township });
      for (let i = 1; i < villages; i++) await makeVillage({ county: s.county, township });
      const user = await makeUser('township', { townshipId: first.townshipId! });
      await http().get('/v1/me').set(user.auth);
      const [ms] = await timeIt(async () => {
        for (let i = 0; i < 20; i++) await http().get('/v1/me').set(user.auth);
      });
      lines.push(
        `| GET /v1/me as a township of ${villages} villages, mean of 20 | ${(ms / 20).toFixed(1)} ms |`,
      );
    }
    const period = new Date().toISOString().slice(0, 7);
    for (const level of ['village', 'township', 'team'] as const) {
      const [ms, items] = await timeIt(() => computeRanking(s.countyId, period, level));
      lines.push(
        `| ranking of the county's ${items.length} ${level} units for the month (${ORDERS} rated orders) | ${ms.toFixed(0)} ms |`,
      );
    }
    const [reportMs, report] = await timeIt(() =>
      http().get(`/v1/villages/${s.villageId}/concentration`).set(s.supervisor.auth),
    );
    lines.push(
      `| concentration report of the village (${report.body.members.length} council members, ${ORDERS * 2} submissions) | ${reportMs.toFixed(0)} ms |`,
    );
    return lines;
  },
};
