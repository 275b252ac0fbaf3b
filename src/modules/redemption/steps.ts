/**
 * What every step of a redemption shares: who is calling, the request's input, the fault hook
 * between steps (platform/faults.ts), and the outcomes a redemption stores or answers.
 * The state machine and its invariants are described in redemption.service.ts.
 */
import { redemptionFaults } from '../../platform/faults';
import { DomainError, forbidden, type ErrorCode } from '../../platform/errors';
import type { Principal } from '../../platform/principal';

export type RedeemStep =
  | 'claimed'
  | 'recorded'
  | 'allowanceTaken'
  | 'stockTaken'
  | 'ledgerPosted'
  | 'settled'
  | 'compensated'
  | 'reversalPosted'
  | 'reversalReturned';

export const stepDone = async (step: RedeemStep, redemptionId: string) => {
  await redemptionFaults.after?.(step, redemptionId);
};

/** The refusals a redemption stores and replays (R1); anything else is not an outcome. */
export const REFUSALS: readonly ErrorCode[] = [
  'insufficient_points',
  'out_of_stock',
  'daily_limit_exceeded',
];
export const ABANDONED = 'abandoned';

/** What a request answers when recovery rolled its redemption back (nothing spent; not stored). */
export function abandonedError(): DomainError {
  return new DomainError(
    'redemption_interrupted',
    'This redemption was interrupted and cancelled; nothing was spent. Send it again.',
    { retryAfterS: 1 },
  );
}

export interface Counter {
  terminalId: string;
  storeId: string;
}

export function counterOf(p: Principal): Counter {
  if (p.role !== 'terminal' || !p.storeId) throw forbidden('Only a store terminal redeems.');
  return { terminalId: p.id, storeId: p.storeId };
}

export interface BasketInput {
  cardNo: string;
  items: { sku: string; qty: number }[];
  pin?: string;
}

export interface RedeemInput extends BasketInput {
  key: string;
  /** Set for an offline upload: when the goods changed hands at the counter. */
  offlineAt?: Date;
}
