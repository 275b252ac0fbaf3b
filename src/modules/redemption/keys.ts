/**
 * The end of an Idempotency-Key claim (R1): completed with the response every replay answers,
 * or dropped so the key's next generation may be claimed; either way the in-flight marker goes.
 * A claim document belongs to one attempt alone, so an update by `_id` never touches another's.
 */
import assert from 'node:assert/strict';
import { inBackground } from '../../platform/background';
import { busyStats, isBusyError } from '../../platform/busy';
import { deleteMarker } from './inserts';
import { RedemptionKey, type RedemptionKeyDoc, type StoredResponse } from './redemption.model';

/**
 * Stores the response on the claim of the request that holds it, then forgets the marker. The
 * claim is pending, or recovery (having wrongly taken the request for dead) rolled the same
 * settled redemption forward and stored this very response. A roll-back or a drop never lets the
 * request get here (its takes or its ledger source are voided, or the settled event is
 * `abandoned`), so no look first.
 */
export async function completeOwnClaim(
  claimId: string,
  redemptionId: string,
  response: StoredResponse,
): Promise<void> {
  await RedemptionKey.updateOne(
    { _id: claimId },
    { $set: { status: 'done', response, completedAt: new Date() } },
  );
  await forgetMarker(redemptionId);
}

/**
 * Ends the request's own claim once its redemption is settled and its tail done: the settled
 * event holds the response (the claim is answered from it, redemption.model.ts), so only the
 * in-flight marker goes. A settled event without a response (written before responses were put
 * on it: `settledStoresResponse` false) has its claim completed as before.
 */
export async function releaseOwnClaim(
  claimId: string,
  redemptionId: string,
  settledStoresResponse: boolean,
  response: StoredResponse,
): Promise<void> {
  if (!settledStoresResponse) return completeOwnClaim(claimId, redemptionId, response);
  // The request is answered without waiting: a retry of the key that finds the marker still
  // there once this request is over finishes the tail itself (idempotency.ts), as recovery would.
  inBackground('in-flight marker', () => forgetMarker(redemptionId));
}

/**
 * Completes a settled redemption's claim with its response (deterministic: any writer agrees),
 * then forgets the in-flight marker (recovery: only a pending claim is completed).
 */
export async function completeKey(
  claimId: string,
  redemptionId: string,
  response: StoredResponse,
): Promise<void> {
  const doc = await RedemptionKey.findById(claimId).lean<RedemptionKeyDoc>();
  if (doc && doc.status === 'pending') {
    assert.equal(doc.redemptionId, redemptionId);
    await RedemptionKey.updateOne(
      { _id: doc._id },
      { $set: { status: 'done', response, completedAt: new Date() } },
    );
  }
  await forgetMarker(redemptionId);
}

/**
 * Ends an attempt that spent nothing (refused before it began, or rolled back by recovery): its
 * claim is marked dropped, so a retry with the key claims the next generation and starts afresh.
 */
export async function dropKey(claimId: string, redemptionId: string): Promise<void> {
  const doc = await RedemptionKey.findById(claimId).lean<RedemptionKeyDoc>();
  if (doc && doc.status === 'pending') {
    assert.equal(doc.redemptionId, redemptionId);
    await RedemptionKey.updateOne(
      { _id: doc._id },
      { $set: { status: 'dropped', completedAt: new Date() } },
    );
  }
  await forgetMarker(redemptionId);
}

/**
 * Forgets a request's in-flight marker. A marker the database stays too busy to delete (through
 * every retry, platform/busy.ts) is left behind and counted: its request is over, so a retry of
 * its key finishes its tail at once (idempotency.ts), and recovery takes it up once it is old
 * enough.
 */
export async function forgetMarker(redemptionId: string): Promise<void> {
  try {
    await deleteMarker(redemptionId);
  } catch (err) {
    if (!isBusyError(err)) throw err;
    busyStats.leftUndone++;
  }
}
