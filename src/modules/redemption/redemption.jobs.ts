/**
 * The redemption recovery sweeper. Nothing is enqueued per redemption: the durable record of
 * work left half-done is the data itself (keys still pending, reversal work markers), so Redis
 * forgetting a job loses nothing. The worker runs the sweep every RECOVERY_EVERY_MS; each run is
 * idempotent and safe beside live requests and beside another worker's run.
 */
import type { JobDefinition } from '../../platform/queues';
import { RECOVERY_AGE_MS, recoverRedemptions, type RecoveryReport } from './redemption.service';

export const REDEMPTION_RECOVERY_QUEUE = 'redemption-recovery';
/** How often the sweep runs: a stuck redemption is settled within RECOVERY_AGE_MS + this. */
export const RECOVERY_EVERY_MS = 30_000;

/** One sweep: finishes or undoes redemptions and reversals older than the recovery age. */
export async function runRedemptionRecovery(
  onError?: (err: unknown, ref: { redemptionId: string }) => void,
): Promise<RecoveryReport> {
  return recoverRedemptions(RECOVERY_AGE_MS, onError);
}

/** The worker's job definition (workers/registry.ts). */
export function redemptionRecoveryJob(): JobDefinition<unknown> {
  return {
    queue: REDEMPTION_RECOVERY_QUEUE,
    everyMs: RECOVERY_EVERY_MS,
    async process(_data, { log }) {
      const report = await runRedemptionRecovery((err, ref) =>
        log.error({ err, ...ref }, 'redemption not recovered this time'),
      );
      if (report.keys || report.reversals || report.errors)
        log.info(report, 'redemption recovery sweep');
      if (report.errors)
        throw new Error(`redemption recovery: ${report.errors} record(s) failed; retrying`);
      return report;
    },
  };
}
