/**
 * Writes a request does not wait for (platform/background.ts), as an operator sees them on
 * /metrics: a posting starts its account-cache write after the answer, the gauge counts it,
 * and once the writes settle none is pending; a background write that fails is counted and
 * logged and fails no request. settleBackgroundWrites also waits for writes that a background
 * write itself sends.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  backgroundStats,
  inBackground,
  pendingBackgroundWrites,
  settleBackgroundWrites,
} from '../../src/platform/background';
import { expect } from '../support/expect';
import { http } from '../support/factories';
import { account, makeScene, newKey, verifyTouchedChains } from '../modules/redemption/scene';

/** The `background_writes` gauge's value for one state, read from a /metrics scrape. */
async function gauge(state: 'started' | 'failed' | 'pending'): Promise<number> {
  const res = await http().get('/metrics');
  expect(res.status).to.equal(200);
  const m = new RegExp(`^background_writes\\{state="${state}"\\} (\\d+)$`, 'm').exec(res.text);
  expect(m, `background_writes{state="${state}"} on /metrics`).to.not.equal(null);
  return Number(m![1]);
}

describe('platform: background writes', () => {
  // Also forgets the households this file touched: the list is per process, and a later file in
  // the same mocha worker would otherwise check them against its own database.
  afterEach(verifyTouchedChains);

  it('a posting answers first and writes its account cache in the background: /metrics counts it, and none is pending once settled', async () => {
    const s = await makeScene({ points: 10 });
    await settleBackgroundWrites();
    const before = await gauge('started');
    const res = await http()
      .post(`/v1/households/${s.households[0]!.id}/adjustments`)
      .set(s.admin.auth)
      .set('Idempotency-Key', newKey())
      .send({ points: 4, reason: '后台写入计数' });
    expect(res.status, res.text).to.equal(201);
    await settleBackgroundWrites();
    expect(await gauge('started')).to.be.greaterThan(before);
    expect(await gauge('pending')).to.equal(0);
    expect(await account(s, s.households[0]!.id)).to.include({ spendable: 14, merit: 14 });
  });

  it('a background write that fails is counted as failed, not thrown at anyone; settling waits for writes sent by other background writes', async () => {
    const failedBefore = await gauge('failed');
    let chained = false;
    inBackground('test: fails', () => Promise.reject(new Error('refused on purpose')));
    inBackground('test: sends another', async () => {
      await sleep(20);
      inBackground('test: sent from the background', async () => {
        await sleep(20);
        chained = true;
      });
    });
    expect(pendingBackgroundWrites()).to.be.at.least(2);
    await settleBackgroundWrites();
    expect(chained, 'the write sent from a background write was waited for').to.equal(true);
    expect(pendingBackgroundWrites()).to.equal(0);
    expect(await gauge('failed')).to.equal(failedBefore + 1);
    expect(backgroundStats.failed).to.equal(failedBefore + 1);
  });
});
