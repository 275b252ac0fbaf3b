/**
 * Recovery (R6): finishes or undoes the redemptions and reversals a crash left half-done, taking
 * over only requests that are not alive (liveness.ts). How each case is decided is described in
 * redemption.service.ts.
 */
import { Types } from 'mongoose';
import { isDuplicateKeyError } from '../../platform/errors';
import { redeem } from '../ledger/ledger.service';
import { finishSettled, rollBack, settle } from './carry-out';
import { deleteMarkerBatch, holdsMarker } from './inserts';
import { dropKey, forgetMarker } from './keys';
import { isLive, OWNER_ID, pruneLeases, RECOVERY_AGE_MS } from './liveness';
import { Inflight, InflightBatch, type InflightBatchDoc, type InflightDoc } from './inflight.model';
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

/** Recovers the redemptions whose in-flight markers are older than the cutoff and not alive. */
async function recoverMarkers(
  cutoff: Date,
  olderThanMs: number,
  report: RecoveryReport,
  onError: OnError,
): Promise<void> {
  let afterId = '';
  for (;;) {
    // The in-flight collection holds only work under way, so this scan stays small.
    const markers = await Inflight.find({ createdAt: { $lte: cutoff }, _id: { $gt: afterId } })
      .sort({ _id: 1 })
      .limit(RECOVERY_BATCH)
      .lean<InflightDoc[]>();
    for (const m of markers) {
      try {
        if (await isLive(m, olderThanMs)) {
          report.live++;
          continue;
        }
        await recoverInflight(m);
        report.keys++;
      } catch (err) {
        report.errors++;
        onError(err, { redemptionId: m._id });
      }
    }
    if (markers.length < RECOVERY_BATCH) break;
    afterId = markers[markers.length - 1]!._id;
  }
  await recoverMarkerBatches(cutoff, olderThanMs, report, onError);
}

/**
 * Takes up each marker of the batch documents older than the cutoff on its own, as a lone
 * marker (inserts.ts). A marker of this process that it has forgotten belongs to a request
 * that ended: nothing to do. A batch is deleted once none of its markers is alive and each was
 * taken up (M2); one with a live request stays for a later run.
 */
async function recoverMarkerBatches(
  cutoff: Date,
  olderThanMs: number,
  report: RecoveryReport,
  onError: OnError,
): Promise<void> {
  let afterId = '';
  for (;;) {
    const batches = await InflightBatch.find({ createdAt: { $lte: cutoff }, _id: { $gt: afterId } })
      .sort({ _id: 1 })
      .limit(RECOVERY_BATCH)
      .lean<InflightBatchDoc[]>();
    for (const b of batches) {
      let ended = true;
      for (const { redemptionId, keyId } of b.markers) {
        if (b.owner === OWNER_ID && !holdsMarker(redemptionId)) continue;
        const marker = { _id: redemptionId, keyId, owner: b.owner, createdAt: b.createdAt };
        try {
          if (await isLive(marker, olderThanMs)) {
            report.live++;
            ended = false;
            continue;
          }
          await recoverInflight(marker);
          report.keys++;
        } catch (err) {
          ended = false;
          report.errors++;
          onError(err, { redemptionId });
        }
      }
      try {
        if (ended) await deleteMarkerBatch(b._id);
      } catch (err) {
        report.errors++;
        onError(err, { redemptionId: b.markers[0]?.redemptionId ?? b._id });
      }
    }
    if (batches.length < RECOVERY_BATCH) break;
    afterId = batches[batches.length - 1]!._id;
  }
}

/** Finishes the reversals whose work markers are older than the cutoff. */
async function recoverReversals(
  cutoff: Date,
  report: RecoveryReport,
  onError: OnError,
): Promise<void> {
  let afterWork = '';
  for (;;) {
    const work = await RedemptionWork.find({ createdAt: { $lte: cutoff }, _id: { $gt: afterWork } })
      .sort({ _id: 1 })
      .limit(RECOVERY_BATCH)
      .lean();
    for (const w of work) {
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
    if (work.length < RECOVERY_BATCH) break;
    afterWork = work[work.length - 1]!._id;
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
