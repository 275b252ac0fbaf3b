/**
 * Reversal (R5): a terminal of the same store, on the same Asia/Shanghai day, gives a confirmed
 * redemption's points and stock back, once however many requests arrive. A work marker records
 * the reversal under way, so recovery finishes one a crash left half-done.
 */
import { clock } from '../../platform/clock';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { reverse } from '../ledger/ledger.service';
import { giveBackTakes } from './carry-out';
import { shanghaiDay } from './receipt';
import {
  RedemptionEvent,
  RedemptionWork,
  type RecordedTakes,
  type RedemptionEventDoc,
} from './redemption.model';
import {
  findEvent,
  idOf,
  receiptNoOf,
  redemptionInReach,
  toReversalView,
  type FullRedemption,
  type ReversalView,
} from './redemption.views';
import { counterOf, stepDone } from './steps';

/** Posts the reversal entry, gives back the takes and records the reversal, each once. */
export async function finishReversal(
  r: FullRedemption,
  by: 'request' | 'recovery',
  /** The takes the settled event recorded (absent: each is found by its source). */
  takes: RecordedTakes | undefined,
): Promise<RedemptionEventDoc> {
  const rid = idOf(r);
  const { entry } = await reverse({
    householdId: r.householdId,
    reverses: { type: 'redemption', points: r.points },
    source: { type: 'reversal', id: rid },
    reason: `撤销兑换（凭条 ${receiptNoOf(rid)}）`,
  });
  await stepDone('reversalPosted', rid);
  await giveBackTakes(r, 'reversal', takes);
  await stepDone('reversalReturned', rid);
  let reversed: RedemptionEventDoc;
  try {
    const [doc] = await RedemptionEvent.create([
      {
        _id: `${rid}:reversed`,
        redemptionId: rid,
        stage: 'reversed',
        status: 'reversed',
        entrySeq: entry.seq,
        spendableAfter: entry.spendableAfter,
        by,
        at: new Date(),
      },
    ]);
    reversed = doc!.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    reversed = (await findEvent(rid, 'reversed'))!;
  }
  await RedemptionWork.deleteOne({ _id: `reverse:${rid}` });
  return reversed;
}

/**
 * Reverses a confirmed redemption: a `reversal` ledger entry gives the points back and the stock
 * returns, once however many requests arrive (R5). Only a terminal of the same store, on the same
 * Asia/Shanghai day as the redemption (`reversal_window_closed` after). Repeats answer the same.
 */
export async function reverseRedemption(p: Principal, redemptionId: string): Promise<ReversalView> {
  counterOf(p);
  const r = await redemptionInReach(p, redemptionId);
  const rid = idOf(r);
  const done = await findEvent(rid, 'reversed');
  if (done) return toReversalView(r, done);
  const settled = await findEvent(rid, 'settled');
  if (!settled)
    throw new DomainError('redemption_in_progress', 'This redemption is still in progress.', {
      retryAfterS: 1,
    });
  if (settled.status !== 'confirmed')
    throw new DomainError(
      'redemption_not_confirmed',
      'This redemption did not go through; there is nothing to reverse.',
    );
  const started = await RedemptionWork.exists({ _id: `reverse:${rid}` });
  if (!started && shanghaiDay(clock.now()) !== r.day) {
    throw new DomainError(
      'reversal_window_closed',
      'A redemption can be reversed only on the day it was made.',
    );
  }
  try {
    await RedemptionWork.create([
      { _id: `reverse:${rid}`, redemptionId: rid, createdAt: new Date() },
    ]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // another reversal of it is under way: do the same, idempotently
  }
  return toReversalView(r, await finishReversal(r, 'request', settled.takes));
}
