/**
 * Carrying out a recorded redemption (R2, R3): take the day's allowance, take each line's stock,
 * post the ledger entry, settle; after a refusal give back what was taken. The steps recovery
 * and reversal share (settle, finish a settled redemption, give back takes) live here too.
 */
import assert from 'node:assert/strict';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { cutText } from '../../platform/text';
import { redeem } from '../ledger/ledger.service';
import { fenceStockTake, giveBackStock, takeStock, type TakeResult } from '../stores/items.service';
import { fenceAllowance, giveBackAllowance, takeAllowance, tracksAllowance } from './allowance';
import { flagOffline } from './flags.service';
import { completeKey, dropKey, releaseOwnClaim } from './keys';
import {
  RedemptionEvent,
  type RedemptionEventDoc,
  type RedemptionLine,
  type StoredResponse,
} from './redemption.model';
import { findEvent, idOf, responseOf, type FullRedemption } from './redemption.views';
import { ABANDONED, abandonedError, REFUSALS, stepDone } from './steps';

/**
 * How a redemption's takes are given back: after a refusal (only what was taken), in recovery's
 * roll-back (first fence every take, since the request may still be running), or in a reversal
 * (every take surely happened: find it even if a crash left its source pointer unwritten).
 */
type GiveBackMode = 'refused' | 'rollBack' | 'reversal';
const GIVE_BACK_REASON: Record<GiveBackMode, string> = {
  refused: '兑换未成，退回库存',
  rollBack: '兑换中断，退回库存',
  reversal: '撤销兑换，退回库存',
};

/** Gives back whatever the redemption took (stock per line, allowance), each once. */
export async function giveBackTakes(r: FullRedemption, mode: GiveBackMode): Promise<void> {
  const rid = idOf(r);
  for (const line of r.lines) {
    if (mode === 'rollBack') await fenceStockTake(line.itemId, rid);
    await giveBackStock(line.itemId, rid, GIVE_BACK_REASON[mode], mode === 'reversal');
  }
  if (tracksAllowance(r)) {
    if (mode === 'rollBack') await fenceAllowance(r);
    await giveBackAllowance(r, mode === 'reversal');
  }
}

/**
 * Inserts the settled event, or returns the one already there: the first decision wins. The
 * event carries the response the key replays (a pure function of the redemption and the event),
 * except for `abandoned`, which is not an outcome: its key is dropped.
 */
export async function settle(
  r: FullRedemption,
  event: Omit<RedemptionEventDoc, '_id' | 'redemptionId' | 'stage' | 'at' | 'response'>,
): Promise<RedemptionEventDoc> {
  const rid = idOf(r);
  const doc: RedemptionEventDoc = {
    ...event,
    _id: `${rid}:settled`,
    redemptionId: rid,
    stage: 'settled',
    at: new Date(),
  };
  if (event.code !== ABANDONED) doc.response = responseOf(r, doc);
  try {
    await RedemptionEvent.create([doc]);
    return doc;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return (await findEvent(rid, 'settled'))!;
  }
}

/** Longest reason of a redemption entry, in code points; a long basket ends in “…”. */
export const REDEMPTION_REASON_MAX = 200;

/** The entry's reason, from the item names: cut between whole characters (platform/text.ts T2). */
export function redemptionReason(r: Pick<FullRedemption, 'lines'>): string {
  const text = `积分兑换：${r.lines.map((l) => `${l.name}×${l.qty}`).join('、')}`;
  return cutText(text, REDEMPTION_REASON_MAX);
}

/** Finishes a settled redemption: give-backs for a refusal, flag if offline, stored response. */
export async function finishSettled(
  r: FullRedemption,
  settled: RedemptionEventDoc,
  byRequest = false,
): Promise<StoredResponse> {
  const response = responseOf(r, settled);
  if (settled.status === 'failed') {
    await giveBackTakes(r, 'refused');
    await stepDone('compensated', idOf(r));
    if (r.offlineAt) {
      await flagOffline({
        storeId: r.storeId,
        terminalId: r.terminalId,
        key: r.key,
        cardNo: r.cardNo,
        items: r.lines.map((l) => ({ sku: l.sku, qty: l.qty })),
        offlineAt: r.offlineAt,
        code: settled.code!,
        detail: settled.detail ?? '',
        redemptionId: idOf(r),
        householdId: r.householdId,
        points: r.points,
      });
    }
  }
  if (byRequest) await releaseOwnClaim(r.claimId, idOf(r), settled, response);
  else await completeKey(r.claimId, idOf(r), response);
  return response;
}

/** Recovery's roll-back tail: fence and give back every take, then drop the key. */
export async function rollBack(r: FullRedemption): Promise<void> {
  await giveBackTakes(r, 'rollBack');
  await dropKey(r.claimId, idOf(r));
}

/** A take came back voided: recovery rolled this redemption back while the request was stuck. */
async function onVoided(r: FullRedemption): Promise<never> {
  await giveBackTakes(r, 'rollBack');
  throw abandonedError();
}

/** Takes one line's stock; `out_of_stock` names the line. */
async function takeLine(rid: string, line: RedemptionLine): Promise<TakeResult> {
  try {
    return await takeStock(line.itemId, rid, line.qty);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'out_of_stock') {
      throw new DomainError('out_of_stock', `Not enough stock of ${line.sku} (${line.name}).`, {
        ...err.details,
        sku: line.sku,
      });
    }
    throw err;
  }
}

/**
 * Takes the allowance and the stock and posts the entry, then settles confirmed. Throws a
 * refusal (insufficient_points, out_of_stock, daily_limit_exceeded) for carryOut to settle.
 */
async function takeAndPost(r: FullRedemption): Promise<RedemptionEventDoc> {
  const rid = idOf(r);
  if (tracksAllowance(r)) {
    if ((await takeAllowance(r)).state === 'voided') return await onVoided(r);
    await stepDone('allowanceTaken', rid);
  }
  for (const line of r.lines) {
    if ((await takeLine(rid, line)).state === 'voided') return await onVoided(r);
  }
  await stepDone('stockTaken', rid);
  const { entry } = await redeem({
    householdId: r.householdId,
    points: r.points,
    source: { type: 'redemption', id: rid },
    reason: redemptionReason(r),
  });
  if (entry.spendableDelta === 0) return await onVoided(r);
  await stepDone('ledgerPosted', rid);
  const settled = await settle(r, {
    status: 'confirmed',
    entrySeq: entry.seq,
    spendableAfter: entry.spendableAfter,
    by: 'request',
  });
  // Recovery never fails a redemption whose ledger entry exists (it rolls those forward).
  assert.equal(settled.status, 'confirmed', 'R2: a posted redemption is confirmed');
  return settled;
}

/** The request's path through the state machine, after its redemption is recorded. */
export async function carryOut(r: FullRedemption): Promise<StoredResponse> {
  const rid = idOf(r);
  let settled: RedemptionEventDoc;
  try {
    settled = await takeAndPost(r);
  } catch (err) {
    if (!(err instanceof DomainError) || !REFUSALS.includes(err.code)) throw err;
    const { retryAfterS: _r, ...details } = err.details;
    settled = await settle(r, {
      status: 'failed',
      code: err.code,
      detail: err.message,
      details,
      by: 'request',
    });
    assert.equal(settled.status, 'failed', 'R2: a refused redemption never confirms');
    if (settled.code === ABANDONED) return onVoided(r);
  }
  await stepDone('settled', rid);
  return finishSettled(r, settled, true);
}
