/**
 * A second process for the liveness tests: connects to the test run's database, starts the
 * redemptions it is given all at once (as a terminal of the parent's store) with a recovery age
 * of MSL_STALE_AFTER_MS, and after step MSL_HOLD_AFTER holds each request for MSL_HOLD_MS (a
 * request that waits or works slowly, alive). With MSL_DIE=1 it SIGKILLs itself at the end of
 * the first hold instead; otherwise it prints one JSON line of results ({status, code?} per
 * redemption) and exits 0.
 *
 * Input (environment): MSL_CHILD_URI, MSL_CHILD_DB, MSL_TERMINAL_ID, MSL_STORE_ID,
 * MSL_STALE_AFTER_MS, MSL_HOLD_AFTER, MSL_HOLD_MS, MSL_DIE, MSL_REDEMPTIONS (JSON [{key, cardNo,
 * items}]).
 */
import { connectDb, disconnectDb } from '../../../src/platform/db';
import { DomainError } from '../../../src/platform/errors';
import { redeem, type RedeemStep } from '../../../src/modules/redemption/redemption.service';
import { redemptionFaults, redemptionTuning } from '../../../src/platform/faults';

async function main(): Promise<void> {
  const env = process.env;
  await connectDb(env.MSL_CHILD_URI!, env.MSL_CHILD_DB!);
  redemptionTuning.staleAfterMs = Number(env.MSL_STALE_AFTER_MS);
  const holdAfter = env.MSL_HOLD_AFTER as RedeemStep;
  const holdMs = Number(env.MSL_HOLD_MS);
  redemptionFaults.after = async (step) => {
    if (step !== holdAfter) return;
    await new Promise((r) => setTimeout(r, holdMs));
    if (env.MSL_DIE === '1') process.kill(process.pid, 'SIGKILL');
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
  const results = await Promise.all(
    list.map((r) =>
      redeem(principal, r).then(
        (response) => ({ status: response.status }),
        (err: unknown) => {
          if (err instanceof DomainError) return { status: 0, code: err.code };
          throw err;
        },
      ),
    ),
  );
  process.stdout.write(`${JSON.stringify(results)}\n`);
  await disconnectDb();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
