import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import {
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
  type Scene,
  verifyTouchedChains,
} from './scene';

/** Runs kill.child.ts and resolves with how it ended (a SIGKILL is what the tests want). */
function runAndKill(
  s: Scene,
  killAfter: RedeemStep,
  redemptions: { key: string; cardNo: string; items: { sku: string; qty: number }[] }[],
) {
  const t = s.terminals[0]!;
  const p = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join(__dirname, 'kill.child.ts')],
    {
      cwd: path.resolve(__dirname, '../../..'),
      env: {
        ...process.env,
        MSL_CHILD_URI: ctx().mongoUri,
        MSL_CHILD_DB: ctx().config.mongodbDb,
        MSL_TERMINAL_ID: t.id,
        MSL_STORE_ID: s.storeId,
        MSL_KILL_AFTER: killAfter,
        MSL_REDEMPTIONS: JSON.stringify(redemptions),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>(
    (resolve) => p.on('exit', (code, signal) => resolve({ code, signal, err })),
  );
}

describe('redemption when the API process is killed (SIGKILL)', () => {
  afterEach(verifyTouchedChains);

  it('killed after the ledger insert but before the reply → the retry with the same key returns the 201, with one entry', async function () {
    this.timeout(120_000);
    const s = await makeScene({ points: 100, items: [{ sku: 'RICE', points: 20, stock: 10 }] });
    const h = s.households[0]!;
    const key = newKey();
    const body = { cardNo: h.cardNo, items: [{ sku: 'RICE', qty: 2 }] };
    const end = await runAndKill(s, 'ledgerPosted', [{ key, ...body }]);
    expect(end.signal, end.err).to.equal('SIGKILL');
    // The worker's sweep (here run at once instead of after RECOVERY_AGE_MS) finishes it.
    expect((await recoverRedemptions(0)).errors).to.equal(0);
    const retry = await redeemVia(s.terminals[0]!, key, body);
    expect(retry.status, retry.text).to.equal(201);
    expect(retry.body).to.include({ points: 40, spendableAfter: 60 });
    expect((await redeemVia(s.terminals[0]!, key, body)).text).to.equal(retry.text);
    const entries = await entriesOf(s, h.id);
    expect(entries.filter((e) => e.type === 'redemption')).to.have.length(1);
    expect(await account(s, h.id)).to.include({ spendable: 60, merit: 100 });
    await expectBooksAgree(s, { points: { [h.id]: 100 }, stock: { RICE: 10 } });
  });

  for (const step of ['recorded', 'stockTaken', 'ledgerPosted'] as RedeemStep[]) {
    it(`killed after "${step}" with five redemptions in flight → after recovery and retries every key spent exactly once`, async function () {
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
      const end = await runAndKill(s, step, list);
      expect(end.signal, end.err).to.equal('SIGKILL');
      expect((await recoverRedemptions(0)).errors).to.equal(0);
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
      expect(live).to.have.length(5);
      for (const h of s.households) expect((await account(s, h.id)).spendable).to.equal(80);
    });
  }
});
