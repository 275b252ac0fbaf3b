/**
 * Test-only fault injection, in one registry. Production code calls a hook at a fixed point
 * between two steps (`ledgerFaults.afterInsert?.(entry)`); a test assigns the hook and throws
 * from it to simulate a crash there, then deletes it (or calls `resetFaults()`). Nothing in
 * production assigns a hook or a tuning value: every hook is undefined and every tuning value
 * falls back to the module's constant.
 *
 * The hooks' argument types come from the modules (type-only imports: no runtime dependency of
 * the platform on a module).
 */
import type { EntryView } from '../modules/ledger/ledger.service';
import type { RedeemStep } from '../modules/redemption/redemption.service';

/** Ledger: `afterInsert`: after an entry is inserted and before the account cache is updated. */
export const ledgerFaults: {
  afterInsert?: (entry: EntryView) => void | Promise<void>;
  /** Ledger: the documents of one group-commit batch, just before they are sent (may alter one). */
  inBatch?: (docs: Record<string, unknown>[]) => void;
  /** Ledger: the documents of one ordered batch of runs (run-commit.ts), just before they are sent. */
  inRun?: (docs: Record<string, unknown>[]) => void;
  /** Ledger: after an ordered batch of runs was written; throwing loses its reply (RC3). */
  afterRun?: (docs: Record<string, unknown>[]) => void | Promise<void>;
} = {};

/** Redemption: after each step of a redemption or reversal (may be async, to hold a step). */
export const redemptionFaults: {
  after?: (step: RedeemStep, redemptionId: string) => void | Promise<void>;
} = {};

/**
 * Redemption tunables tests lower to exercise recovery without waiting; unset, the module's
 * RECOVERY_AGE_MS and IN_FLIGHT_WAIT_MS apply.
 */
export const redemptionTuning: { staleAfterMs?: number; inFlightWaitMs?: number } = {};

/** Submissions: between the steps of a council vote, a decision, a posting and a cap claim. */
export const councilFaults: {
  afterVote?: (submissionId: string) => void;
  afterDecision?: (submissionId: string) => void;
  afterPostEntries?: (submissionId: string) => void;
  afterCapClaims?: (submissionId: string) => void;
} = {};

/** Service orders: after a rating, after hours are recorded, after the hours are filed. */
export const orderFaults: {
  afterRated?: (orderId: string) => void;
  afterHoursRecorded?: (orderId: string) => void;
  afterFiled?: (orderId: string, volunteerId: string) => void;
} = {};

/** Notifications: between the due entry and the message, and between the steps of a hand-over (claimed, sent). */
export const notifyFaults: {
  afterDueEntry?: (notificationId: string) => void | Promise<void>;
  afterClaim?: (notificationId: string) => void;
  afterSend?: (notificationId: string) => void;
} = {};

/** Credit consents: after a consent's record is inserted, before its chain's head hint is written. */
export const consentFaults: {
  afterInsert?: (consentId: string) => void;
} = {};

/** Clears every hook and tuning value (a test's afterEach). */
export function resetFaults(): void {
  for (const registry of [
    ledgerFaults,
    redemptionFaults,
    redemptionTuning,
    councilFaults,
    orderFaults,
    notifyFaults,
    consentFaults,
  ] as Record<string, unknown>[])
    for (const k of Object.keys(registry)) delete registry[k];
}
