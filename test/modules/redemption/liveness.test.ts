/**
 * Recovery takes over only work whose request is really dead (liveness.ts): a request that
 * waits behind others of the same card, or works slowly in another process, is never rolled back
 * while it lives, however old its in-flight marker; a request whose process was SIGKILLed is
 * still recovered once its process's lease lapses.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import {
  IN_FLIGHT_WAIT_MS,
  RECOVERY_AGE_MS,
  recoverRedemptions,
  type RedeemStep,
} from '../../../src/modules/redemption/redemption.service';
import { RedemptionLease } from '../../../src/modules/redemption/inflight.model';
import {
  entriesOf,
  expectBooksAgree,
  makeScene,
  newKey,
  redeemVia,
  type Scene,
  verifyTouchedChains,
} from './scene';
import { redemptionTuning } from '../../../src/platform/faults';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sweeps recovery with `ageMs` again and again until stopped; returns how many sweeps ran. */
function sweepContinuously(ageMs: number) {
  let running = true;
  const errors: unknown[] = [];
  const done = (async () => {
    let runs = 0;
    while (running) {
      const report = await recoverRedemptions(ageMs, (err) => errors.push(err));
      runs++;
      if (report.errors) break;
      await sleep(25);
    }
    return runs;
  })();
  return {
    errors,
    stop: async () => {
      running = false;
      return done;
    },
  };
}

/** Entries recovery leaves when it rolls a redemption back. */
const voidEntries = (entries: Record<string, unknown>[]) =>
  entries.filter((e) => e.type === 'redemption' && e.points === 0);

function runChild(
  s: Scene,
  opts: { holdAfter: RedeemStep; holdMs: number; staleAfterMs: number; die: boolean },
  redemptions: { key: string; cardNo: string; items: { sku: string; qty: number }[] }[],
) {
  const t = s.terminals[0]!;
  const p = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join(__dirname, 'liveness.child.ts')],
    {
      cwd: path.resolve(__dirname, '../../..'),
      env: {
        ...process.env,
        MSL_CHILD_URI: ctx().mongoUri,
        MSL_CHILD_DB: ctx().config.mongodbDb,
        MSL_TERMINAL_ID: t.id,
        MSL_STORE_ID: s.storeId,
        MSL_STALE_AFTER_MS: String(opts.staleAfterMs),
        MSL_HOLD_AFTER: opts.holdAfter,
        MSL_HOLD_MS: String(opts.holdMs),
        MSL_DIE: opts.die ? '1' : '0',
        MSL_REDEMPTIONS: JSON.stringify(redemptions),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    out: string;
    err: string;
  }>((resolve) => p.on('exit', (code, signal) => resolve({ code, signal, out, err })));
}

describe('redemption recovery takes over only dead requests', () => {
  afterEach(() => {
    redemptionTuning.staleAfterMs = RECOVERY_AGE_MS;
    redemptionTuning.inFlightWaitMs = IN_FLIGHT_WAIT_MS;
  });
  afterEach(verifyTouchedChains);

  it('100 concurrent redemptions on one card with recovery sweeping at a 300 ms age → each is 201 or insufficient_points, no "interrupted", no void entry, the chain verifies', async function () {
    this.timeout(300_000);
    const s = await makeScene({ points: 600, items: [{ sku: 'SOAP', points: 10, stock: 1000 }] });
    const h = s.households[0]!;
    // Requests queued behind each other on one card wait far longer than this age.
    redemptionTuning.staleAfterMs = 300;
    const sweeper = sweepContinuously(300);
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        redeemVia(s.terminals[0]!, newKey(), {
          cardNo: h.cardNo,
          items: [{ sku: 'SOAP', qty: 1 }],
        }),
      ),
    );
    const sweeps = await sweeper.stop();
    expect(sweeper.errors).to.deep.equal([]);
    expect(sweeps).to.be.greaterThan(0);
    const ok = results.filter((r) => r.status === 201);
    const refused = results.filter(
      (r) => r.status === 409 && r.body.code === 'insufficient_points',
    );
    const other = results.filter((r) => !ok.includes(r) && !refused.includes(r));
    expect(
      other.map((r) => r.text),
      'nothing but 201 and insufficient_points',
    ).to.deep.equal([]);
    expect(ok).to.have.length(60);
    expect(refused).to.have.length(40);
    expect(voidEntries(await entriesOf(s, h.id))).to.deep.equal([]);
    await expectBooksAgree(s, { points: { [h.id]: 600 }, stock: { SOAP: 1000 } });
  });

  it('requests working slowly in another process (4 s after "recorded") are left alone by sweeps at a 1.5 s age: all five are 201, no void entry', async function () {
    this.timeout(120_000);
    const s = await makeScene({
      points: 100,
      households: 5,
      items: [{ sku: 'RICE', points: 20, stock: 10 }],
    });
    const list = s.households.map((h) => ({
      key: newKey(),
      cardNo: h.cardNo,
      items: [{ sku: 'RICE', qty: 1 }],
    }));
    const sweeper = sweepContinuously(1500);
    const end = await runChild(
      s,
      { holdAfter: 'recorded', holdMs: 4000, staleAfterMs: 1500, die: false },
      list,
    );
    await sweeper.stop();
    expect(sweeper.errors).to.deep.equal([]);
    expect(end.code, end.err).to.equal(0);
    expect(JSON.parse(end.out)).to.deep.equal(list.map(() => ({ status: 201 })));
    for (const h of s.households) expect(voidEntries(await entriesOf(s, h.id))).to.deep.equal([]);
    const { live } = await expectBooksAgree(s, {
      points: Object.fromEntries(s.households.map((h) => [h.id, 100])),
      stock: { RICE: 10 },
    });
    expect(live).to.have.length(5);
  });

  it('requests of a SIGKILLed process are recovered by sweeps at a 1.5 s age once its lease lapses; the retries then redeem once each', async function () {
    this.timeout(120_000);
    const s = await makeScene({
      points: 100,
      households: 3,
      items: [{ sku: 'RICE', points: 20, stock: 10 }],
    });
    const list = s.households.map((h) => ({
      key: newKey(),
      cardNo: h.cardNo,
      items: [{ sku: 'RICE', qty: 1 }],
    }));
    const end = await runChild(
      s,
      { holdAfter: 'stockTaken', holdMs: 500, staleAfterMs: 1500, die: true },
      list,
    );
    expect(end.signal, end.err).to.equal('SIGKILL');
    // The sweeps run until every marker is gone (bounded: the lease lapses 1.5 s after the kill).
    let recovered = 0;
    for (let i = 0; i < 200 && recovered < 3; i++) {
      const report = await recoverRedemptions(1500);
      expect(report.errors).to.equal(0);
      recovered += report.keys;
      await sleep(100);
    }
    expect(recovered).to.equal(3);
    await expectBooksAgree(s, {
      points: Object.fromEntries(s.households.map((h) => [h.id, 100])),
      stock: { RICE: 10 },
    });
    for (const r of list) {
      const res = await redeemVia(s.terminals[0]!, r.key, { cardNo: r.cardNo, items: r.items });
      expect(res.status, res.text).to.equal(201);
    }
    const { live } = await expectBooksAgree(s, {
      points: Object.fromEntries(s.households.map((h) => [h.id, 100])),
      stock: { RICE: 10 },
    });
    expect(live).to.have.length(3);
  });

  it('a sweep deletes the leases of processes gone for a day and keeps recent ones', async () => {
    const gone = `gone-${newKey()}`;
    const recent = `recent-${newKey()}`;
    await RedemptionLease.create([
      { _id: gone, renewedAt: new Date(Date.now() - 25 * 3_600_000), redemptionIds: [] },
      { _id: recent, renewedAt: new Date(Date.now() - 60_000), redemptionIds: [] },
    ]);
    await recoverRedemptions(RECOVERY_AGE_MS);
    expect(await RedemptionLease.exists({ _id: gone })).to.equal(null);
    expect(await RedemptionLease.exists({ _id: recent })).to.not.equal(null);
  });
});
