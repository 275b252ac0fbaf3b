/**
 * A second process for the "API killed" tests: connects to the test run's database, starts the
 * redemptions it is given all at once (as a terminal of the parent's store), and SIGKILLs itself
 * the first time any of them finishes step MSL_KILL_AFTER — no catch, no finally, no reply.
 *
 * Input (environment): MSL_CHILD_URI, MSL_CHILD_DB, MSL_TERMINAL_ID, MSL_STORE_ID,
 * MSL_KILL_AFTER, MSL_REDEMPTIONS (JSON [{key, cardNo, items}]). Never exits normally.
 */
import { connectDb } from '../../../src/platform/db';
import { redeem, type RedeemStep } from '../../../src/modules/redemption/redemption.service';
import { redemptionFaults } from '../../../src/platform/faults';

async function main(): Promise<void> {
  const env = process.env;
  await connectDb(env.MSL_CHILD_URI!, env.MSL_CHILD_DB!);
  const killAfter = env.MSL_KILL_AFTER as RedeemStep;
  redemptionFaults.after = (step) => {
    if (step === killAfter) process.kill(process.pid, 'SIGKILL');
  };
  const principal = {
    id: env.MSL_TERMINAL_ID!,
    kind: 'terminal' as const,
    role: 'terminal' as const,
    storeId: env.MSL_STORE_ID!,
  };
  const list = JSON.parse(env.MSL_REDEMPTIONS!) as {
    key: string;
    cardNo: string;
    items: { sku: string; qty: number }[];
  }[];
  await Promise.all(list.map((r) => redeem(principal, r)));
  // Reaching here means the step never came: say so, the parent fails the test.
  process.stdout.write('not killed\n');
  process.exit(3);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
