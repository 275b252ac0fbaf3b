/**
 * Redemption at the points supermarket (公益超市): a terminal takes points for goods, once,
 * however often it retries, and without multi-document transactions.
 *
 * Invariants (tested in test/modules/redemption):
 * - R1 one Idempotency-Key (per terminal) spends at most once. The key's claim is inserted
 *   first, its `_id` (terminal, key, generation) being the lock; only the winner works. A
 *   duplicate replays the stored response (same status, same body), waits for it while the
 *   first is in flight, or gets `conflict` after IN_FLIGHT_WAIT_MS; the same key with another
 *   body is `idempotency_key_reused`. Refusals (`insufficient_points`, `out_of_stock`,
 *   `daily_limit_exceeded`) are stored and replayed like successes. Keys are kept forever.
 * - R2 points and goods agree: a redemption is `confirmed` exactly when its ledger entry exists
 *   (source `redemption`:id), and then every line's stock take exists; it is `failed` only when
 *   no such entry exists or ever can, and then every take is given back.
 * - R3 stock never below 0, spendable never below 0, the daily limit never exceeded: each is the
 *   head of an append-only chain whose unique (chain, seq) arbitrates races (the ledger's own
 *   chain for points; platform/append-chain.ts for stock and the daily allowance). Every
 *   redemption adds to its day's allowance chain, limit or not, so a limit set mid-day counts
 *   the day's spending from its start.
 * - R4 a terminal reaches only its own store's redemptions (others: `not_found`) and redeems
 *   only cards of villages its store serves (others: `not_found`, so that a card's existence
 *   elsewhere is not revealed).
 * - R5 a reversal (same store, same Asia/Shanghai day) returns points and stock once, however
 *   many arrive at once: its ledger entry's source is (`reversal`, id) and each give-back is
 *   source-unique.
 * - R6 recovery takes over only requests that are not alive (liveness.ts): under load a request
 *   waits, it is not rolled back.
 *
 * The state machine. Every step is an insert guarded by a unique key, so it is idempotent; a
 * crash can stop between any two steps, and recovery (`recoverRedemptions`) takes it from there.
 *
 *   in-flight marker ┬─► record redemption ─► take allowance ┬─► post ledger entry
 *   claim key ───────┘   (basket, prices)     take stock ──────┘   (insufficient?)
 *   (pending)                                 (the day's limit?          │
 *   (side by side)                             per line: out_of_stock?;  ▼
 *                                              side by side)   settled=confirmed (201 and the
 *                                                              takes' ids on it) ─► marker gone
 *   any refusal ─► settled=failed(code, 409 stored on it) ─► give back takes ─► [flag if offline] ─► marker gone
 *   refused before the record (card, items, PIN) ─► key dropped (nothing stored; the key may be reused)
 *
 * A claim is answered from its settled event's stored response once its request is over: at once
 * when this process ran it and forgot its marker (the request's last step), else after finishing
 * the tail as recovery would (the request ran in another process, or was cut short). The key
 * itself is completed in place only then, by recovery and by an offline refusal before the record.
 * In-flight markers are written in batches, one document per turn (inserts.ts), deleted when
 * every request in the batch has ended; recovery takes up each marker of a batch on its own.
 * The takes write no source pointer: the request records their link ids on its settled event
 * (confirmed or refused), and give-backs read them by `_id`; recovery, which does not know them,
 * finds a take through the source index (its fence's refused insert, or a scan by source).
 *
 *   Reversal: work marker ─► post `reversal` entry ─► give back takes ─► reversed event ─► marker gone
 *
 * Recovery, for an in-flight marker older than RECOVERY_AGE_MS whose request is not alive
 * (liveness.ts: each marker names its owner process, which vouches for the requests it is still
 * working on through a lease it renews; a request queued behind others of the same card is alive
 * however long it waits; a crashed request, SIGKILLed or thrown, is not):
 * - no redemption record: write a tombstone under its id (so the request, should it wake, can
 *   never record it) and drop the key: nothing was taken; a retry with the key starts afresh.
 * - recorded, not settled: post a zero `void` entry under the redemption's ledger source. The
 *   ledger's unique source makes this the commit point: if the real entry is there already, the
 *   void returns it and the redemption rolls FORWARD (settled=confirmed, 201 stored). Otherwise
 *   the void now holds the source, the real entry can never be posted, and the redemption rolls
 *   BACK: settled=failed(`abandoned`), every take fenced with a zero `void` take (so a stuck
 *   request waking up can take nothing more), what was taken given back, and the key dropped so
 *   the terminal's retry runs afresh. The household sees a 0-point entry 「兑换中断，未扣积分」:
 *   the price of deciding without a transaction, and an honest one.
 * - settled: finish the tail (give-backs for a refusal, flag, stored response).
 * - a claim whose marker never landed (the two are inserted side by side) has nothing recorded
 *   or taken under it; the key's next retry recovers it as above once its owner (named on the
 *   claim too) no longer holds it.
 * A request that finds one of its takes voided knows recovery rolled it back and answers 409
 * `conflict` (send it again). Reversals in progress are finished from their work markers.
 *
 * Where each step lives: idempotency.ts (the key's claim, replay and wait), keys.ts (the key's
 * completion or drop), pricing.ts (the card, the basket's prices, the offline time: reads only,
 * begun beside the claim; then the PIN, once the claim is won),
 * allowance.ts (the day's allowance chain), carry-out.ts (allowance, stock, ledger entry,
 * settling, give-backs), reversal.ts, recovery.ts, liveness.ts. This file is the public surface.
 */
import assert from 'node:assert/strict';
import { DomainError, isDuplicateKeyError, statusOf } from '../../platform/errors';
import { problemBody } from '../../platform/http';
import type { Principal } from '../../platform/principal';
import { Types } from 'mongoose';
import { carryOut } from './carry-out';
import { flagOffline } from './flags.service';
import { claimKey, fingerprintOf } from './idempotency';
import { recordInserts } from './inserts';
import { completeOwnClaim, dropKey } from './keys';
import { releaseRequest } from './liveness';
import { priceBasket, readBasket, type BasketRead } from './pricing';
import { type RedemptionDoc, type RedemptionKeyDoc, type StoredResponse } from './redemption.model';
import { isFull, type FullRedemption } from './redemption.views';
import {
  abandonedError,
  counterOf,
  stepDone,
  type BasketInput,
  type Counter,
  type RedeemInput,
} from './steps';
import type { z } from '../../platform/validation';
import type { batchResultSchema } from './redemption.schemas';

export { IN_FLIGHT_WAIT_MS, RECOVERY_AGE_MS } from './liveness';
export { REDEMPTION_REASON_MAX, redemptionReason } from './carry-out';
export { fingerprintOf } from './idempotency';
export { householdOfCard, OFFLINE_AGE_MAX_MS, OFFLINE_SKEW_MS } from './pricing';
export { recoverRedemption, recoverRedemptions, type RecoveryReport } from './recovery';
export { reverseRedemption } from './reversal';
export type { BasketInput, RedeemInput, RedeemStep } from './steps';

/**
 * Redeems a basket for a card at the calling terminal's store, once per Idempotency-Key (R1).
 * Returns the response to send (a 201 view, or a stored 409 refusal, the same on every replay).
 * Throws, storing nothing, for what is refused before anything is taken: unknown card or one of
 * a village the store does not serve (`not_found`), unknown items, PIN problems — except for an
 * offline upload, whose refusals are stored and flagged since the goods have already gone.
 */
export async function redeem(p: Principal, input: RedeemInput): Promise<StoredResponse> {
  const counter = counterOf(p);
  // The basket's reads go beside the claim's writes (pricing.ts); their outcome counts only for
  // the request that wins the claim.
  const read = readBasket(counter, input);
  read.catch(() => undefined);
  const claimed = await claimKey(counter, input.key, fingerprintOf(input));
  if ('replay' in claimed) return claimed.replay;
  const claim = claimed.claim;
  try {
    return await redeemClaimed(counter, input, claim, read);
  } finally {
    // Returned or thrown: this request no longer vouches for its marker (liveness.ts L1).
    releaseRequest(claim.redemptionId);
  }
}

/**
 * An offline upload refused before anything was taken: the goods have gone, so the refusal is
 * stored under the key (replayed like any outcome) and flagged for the store manager.
 */
async function storeOfflineRefusal(
  counter: Counter,
  input: RedeemInput & { offlineAt: Date },
  claim: RedemptionKeyDoc,
  err: DomainError,
): Promise<StoredResponse> {
  const { retryAfterS: _r, ...details } = err.details;
  const response: StoredResponse = {
    status: statusOf(err.code),
    body: problemBody(err.reason, err.message, details),
  };
  await flagOffline({
    storeId: counter.storeId,
    terminalId: counter.terminalId,
    key: input.key,
    cardNo: input.cardNo,
    items: input.items,
    offlineAt: input.offlineAt,
    code: err.code,
    detail: err.message,
  });
  await completeOwnClaim(claim._id, claim.redemptionId, response);
  return response;
}

/** The work under a claim this request won (redeem's body). */
async function redeemClaimed(
  counter: Counter,
  input: RedeemInput,
  claim: RedemptionKeyDoc,
  read: Promise<BasketRead>,
): Promise<StoredResponse> {
  const rid = claim.redemptionId;
  await stepDone('claimed', rid);

  let basket: Omit<FullRedemption, '_id'>;
  try {
    basket = await priceBasket(read, input, claim._id);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (input.offlineAt)
      return storeOfflineRefusal(counter, { ...input, offlineAt: input.offlineAt }, claim, err);
    // Nothing was taken and nothing recorded: free the key so a corrected retry may use it.
    await dropKey(claim._id, rid);
    throw err;
  }

  let r: RedemptionDoc;
  try {
    // What was inserted is what is stored: no read back.
    r = await recordInserts.insert({ _id: new Types.ObjectId(rid), ...basket });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    // Recovery wrote a tombstone: this request was given up for dead. Free the key for a retry.
    await dropKey(claim._id, rid);
    throw abandonedError();
  }
  assert.ok(isFull(r));
  await stepDone('recorded', rid);
  return carryOut(r);
}

export interface BatchEntry extends BasketInput {
  key: string;
  offlineAt: Date;
}

export type BatchResult = z.infer<typeof batchResultSchema>['results'][number];

/** Batch size of an offline upload: a counter offline for a day makes tens, not thousands. */
export const BATCH_SIZE_MAX = 200;

/**
 * Uploads redemptions a terminal made offline, in the order they happened (offline time, then
 * position), each under its own key. One that can no longer be covered is stored as refused and
 * flagged, never dropped; the ledger keeps every balance at 0 or above (R3).
 */
export async function redeemBatch(p: Principal, entries: BatchEntry[]): Promise<BatchResult[]> {
  counterOf(p);
  const order = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.offlineAt.getTime() - b.e.offlineAt.getTime() || a.i - b.i);
  const results = new Array<BatchResult>(entries.length);
  for (const { e, i } of order) {
    try {
      const response = await redeem(p, e);
      results[i] = {
        key: e.key,
        outcome: response.status === 201 ? 'redeemed' : 'flagged',
        status: response.status,
        body: response.body,
      };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const { retryAfterS: _r, ...details } = err.details;
      const outcome = err.code === 'conflict' || err.code === 'unavailable' ? 'retry' : 'rejected';
      results[i] = {
        key: e.key,
        outcome,
        status: statusOf(err.code),
        body: problemBody(err.reason, err.message, details),
      };
    }
  }
  return results;
}
