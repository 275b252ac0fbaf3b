/**
 * Recovery (R6): finishes or undoes the redemptions and reversals a crash left half-done, taking
 * over only requests that are not alive (liveness.ts). How each case is decided is described in
 * redemption.service.ts.
 */
import { Types, type Model } from 'mongoose';
import { isDuplicateKeyError } from '../../platform/errors';
import { redeem } from '../ledger/ledger.service';
import { finishSettled, rollBack, settle } from './carry-out';
import { deleteMarkerBatch, holdsMarker } from './inserts';
import { dropKey, forgetMarker } from './keys';
import { isLive, OWNER_ID, pruneLeases, RECOVERY_AGE_MS } from './liveness';
import { Inflight, InflightBatch, type InflightDoc } from './inflight.model';
import {
  Redemption,
  RedemptionKey,
  RedemptionWork,
  type RedemptionDoc,
  type RedemptionKeyDoc,
} from './redemption.model';
import { finishReversal } from './reversal';
import { findEvent, idOf, isFull } from './redemption.views';
import { ABANDONED } from './steps';

/** Records recovery reads per batch. */
const RECOVERY_BATCH = 100;
const VOID_REASON = '兑换中断，未扣积分';

/** Takes one redemption from wherever it stopped to its end (see the module doc). */
export async function recoverRedemption(
  redemptionId: string,
): Promise<'confirmed' | 'failed' | 'abandoned' | 'missing'> {
  const r = await Redemption.findById(redemptionId).lean<RedemptionDoc>();
  if (!isFull(r)) return 'missing';
  const rid = idOf(r);
  let settled = await findEvent(rid, 'settled');
  if (!settled) {
    // The commit point: whichever of the real entry and this void holds the source decides.
    const { entry } = await redeem({
      householdId: r.householdId,
      points: 0,
      source: { type: 'redemption', id: rid },
      reason: VOID_REASON,
    });
    settled =
      entry.spendableDelta !== 0
        ? await settle(r, {
            status: 'confirmed',
            entrySeq: entry.seq,
            spendableAfter: entry.spendableAfter,
            by: 'recovery',
          })
        : await settle(r, {
            status: 'failed',
            code: ABANDONED,
            detail: 'Interrupted; rolled back by recovery.',
            by: 'recovery',
          });
  }
  if (settled.status === 'failed' && settled.code === ABANDONED) {
    await rollBack(r);
    return 'abandoned';
  }
  await finishSettled(r, settled);
  return settled.status === 'confirmed' ? 'confirmed' : 'failed';
}

/**
 * Blocks a redemption id whose request may be dead or stuck before recording it: afterwards
 * that request can never record it. Returns the redemption if it was recorded first.
 */
async function tombstone(redemptionId: string, claimId: string): Promise<RedemptionDoc | null> {
  try {
    await Redemption.create([
      {
        _id: new Types.ObjectId(redemptionId),
        tombstone: true,
        storeId: '-',
        terminalId: '-',
        key: '-',
        claimId,
        createdAt: new Date(),
      },
    ]);
    return null;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const r = await Redemption.findById(redemptionId).lean<RedemptionDoc>();
    return r && !r.tombstone ? r : null;
  }
}

/** Recovers one pending key (see the module doc). */
export async function recoverClaim(claim: RedemptionKeyDoc): Promise<void> {
  if (claim.status !== 'pending') return;
  const r =
    (await Redemption.findById(claim.redemptionId).lean<RedemptionDoc>()) ??
    (await tombstone(claim.redemptionId, claim._id));
  if (!isFull(r)) {
    await dropKey(claim._id, claim.redemptionId);
    return;
  }
  await recoverRedemption(claim.redemptionId);
}

/** Recovers the work an in-flight marker names (see the module doc). */
async function recoverInflight(marker: InflightDoc): Promise<void> {
  const claim = await RedemptionKey.findById(marker.keyId).lean<RedemptionKeyDoc>();
  if (claim && claim.redemptionId === marker._id && claim.status === 'pending')
    return recoverClaim(claim);
  // The claim is done or dropped (a crash came after that and before the marker's deletion),
  // or this attempt's claim was never written (lost the insert, or the request is dead or stuck
  // just before it): fence the id so it can never be recorded, finish this redemption's own tail
  // if it has one, and forget the marker.
  const r =
    (await Redemption.findById(marker._id).lean<RedemptionDoc>()) ??
    (await tombstone(marker._id, marker.keyId));
  if (isFull(r)) await recoverRedemption(marker._id);
  await forgetMarker(marker._id);
}

export interface RecoveryReport {
  keys: number;
  reversals: number;
  errors: number;
  /** Markers old enough but left alone: their requests are alive (waiting or working). */
  live: number;
}

type OnError = (err: unknown, ref: { redemptionId: string }) => void;

/**
 * The documents of a collection of work under way created before the cutoff, in `_id` order, a
 * page at a time. Such a collection holds only work under way, so the scan stays small.
 */
async function* olderThan<T extends { _id: string }>(
  model: Model<T>,
  cutoff: Date,
): AsyncGenerator<T> {
  let afterId = '';
  for (;;) {
    const page = await model
      .find({ createdAt: { $lte: cutoff }, _id: { $gt: afterId } } as object)
      .sort({ _id: 1 })
      .limit(RECOVERY_BATCH)
      .lean<T[]>();
    yield* page;
    if (page.length < RECOVERY_BATCH) return;
    afterId = page[page.length - 1]!._id;
  }
}

/** Takes up one marker, unless its request is alive. True when it was recovered. */
async function takeUp(
  marker: InflightDoc,
  olderThanMs: number,
  report: RecoveryReport,
  onError: OnError,
): Promise<boolean> {
  try {
    if (await isLive(marker, olderThanMs)) {
      report.live++;
      return false;
    }
    await recoverInflight(marker);
    report.keys++;
    return true;
  } catch (err) {
    report.errors++;
    onError(err, { redemptionId: marker._id });
    return false;
  }
}

/**
 * Recovers the redemptions whose in-flight markers are older than the cutoff and not alive: the
 * markers in batches (inserts.ts), each taken up on its own, and those written one per document
 * before batches. A marker of this process that it has forgotten belongs to a request that
 * ended: nothing to do. Another process's batch may name requests that ended beside the one that
 * did not (a batch goes only when all have): those are taken up too, finding their tails done
 * (each step idempotent), and counted in `keys`. A batch is deleted once every marker in it has
 * ended or been recovered (M2); one with a live request stays for a later run, without the
 * markers taken up now (an update in place, off the requests' path; two runs at once may both
 * take one up, which is idempotent).
 */
async function recoverMarkers(
  cutoff: Date,
  olderThanMs: number,
  report: RecoveryReport,
  onError: OnError,
): Promise<void> {
  for await (const b of olderThan(InflightBatch, cutoff)) {
    const left = [];
    for (const m of b.markers) {
      if (b.owner === OWNER_ID && !holdsMarker(m.redemptionId)) continue;
      const marker = {
        _id: m.redemptionId,
        keyId: m.keyId,
        owner: b.owner,
        createdAt: b.createdAt,
      };
      if (!(await takeUp(marker, olderThanMs, report, onError))) left.push(m);
    }
    try {
      // What was taken up leaves the batch, so a later run does not take it up again.
      if (!left.length) await deleteMarkerBatch(b._id);
      else if (left.length < b.markers.length)
        await InflightBatch.updateOne({ _id: b._id }, { $set: { markers: left } });
    } catch (err) {
      report.errors++;
      onError(err, { redemptionId: b.markers[0]?.redemptionId ?? b._id });
    }
  }
  for await (const m of olderThan(Inflight, cutoff)) await takeUp(m, olderThanMs, report, onError);
}

/** Finishes the reversals whose work markers are older than the cutoff. */
async function recoverReversals(
  cutoff: Date,
  report: RecoveryReport,
  onError: OnError,
): Promise<void> {
  for await (const w of olderThan(RedemptionWork, cutoff)) {
    try {
      const r = await Redemption.findById(w.redemptionId).lean<RedemptionDoc>();
      const settled = isFull(r) ? await findEvent(idOf(r), 'settled') : null;
      if (isFull(r)) await finishReversal(r, 'recovery', settled?.takes);
      else await RedemptionWork.deleteOne({ _id: w._id });
      report.reversals++;
    } catch (err) {
      report.errors++;
      onError(err, { redemptionId: w.redemptionId });
    }
  }
}

/**
 * Finishes or undoes every redemption and reversal left half-done for longer than
 * `olderThanMs` (the worker calls it every ~30 s with RECOVERY_AGE_MS). Safe to run anywhere,
 * any number of times, concurrently with live requests: every step it takes is idempotent and
 * fenced. Reads in bounded batches; one record's failure does not stop the others.
 */
export async function recoverRedemptions(
  olderThanMs: number = RECOVERY_AGE_MS,
  /** Told of each record that could not be recovered this time (the next run tries again). */
  onError: OnError = () => undefined,
): Promise<RecoveryReport> {
  const cutoff = new Date(Date.now() - olderThanMs);
  const report: RecoveryReport = { keys: 0, reversals: 0, errors: 0, live: 0 };
  await recoverMarkers(cutoff, olderThanMs, report, onError);
  await recoverReversals(cutoff, report, onError);
  await pruneLeases();
  return report;
}
