/**
 * Group commit (platform/group-commit.ts) of a redemption's bookkeeping inserts: the documents
 * that concurrent requests insert into one collection in the same turn go to the database as one
 * unordered insertMany. Each is still refused alone by its unique `_id`, so a claim, a record or
 * a settled event is decided exactly as by a lone insert (a duplicate key stays a duplicate key),
 * and each request goes on only once the reply acknowledges its own document. One request alone
 * sends one insert, as before; under load, fewer commands per redemption.
 *
 * In-flight markers go further: the markers handed in during one turn are ONE document (a batch,
 * `redemption_inflight_batches`), and that document is deleted once every request in it has
 * ended. A marker is no unique decision (its redemption id is fresh), only what recovery reads to
 * find work under way, so nothing is lost by writing them together: each request still goes on
 * only once the document naming it is written, and recovery takes up each marker of a batch on its
 * own (recovery.ts). On FerretDB-SQLite a delete costs about 0.4 ms a document however batched,
 * so one delete per batch instead of one per redemption is most of what a marker cost.
 *
 * Invariants:
 * - M1 a request's marker is durable before the request records or takes anything (the claim
 *   step waits for it, as before).
 * - M2 a batch document is deleted only when every marker in it has been forgotten in this
 *   process (its request ended, or recovery here finished it), or by recovery once none of its
 *   markers is alive (every one taken up): never while a request it names may still be working.
 *   Recovery removes from a batch the markers it took up while others in it are still alive.
 * - M3 a marker this process does not hold (another process's, or the one-document form written
 *   before batches) is forgotten by deleting `redemption_inflight` by its id, as before.
 */
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { Types } from 'mongoose';
import { GroupCommit, modelInserts } from '../../platform/group-commit';
import { OWNER_ID } from './liveness';
import { Inflight, InflightBatch, type InflightBatchDoc, type InflightDoc } from './inflight.model';
import { Redemption, RedemptionEvent, RedemptionKey } from './redemption.model';

export const claimInserts = modelInserts(RedemptionKey);
export const recordInserts = modelInserts(Redemption);
export const eventInserts = modelInserts(RedemptionEvent);

interface Marker {
  redemptionId: string;
  keyId: string;
  createdAt: Date;
}

/** The batch document of each marker this process wrote and has not forgotten (M2). */
const batchOf = new Map<string, string>();
/** Markers not yet forgotten, per batch document of this process. */
const unforgotten = new Map<string, number>();

const markerBatches = new GroupCommit<Marker>(async (markers) => {
  const doc: InflightBatchDoc = {
    _id: new Types.ObjectId().toHexString(),
    owner: OWNER_ID,
    createdAt: markers.reduce((t, m) => (m.createdAt < t ? m.createdAt : t), markers[0]!.createdAt),
    markers: markers.map(({ redemptionId, keyId }) => ({ redemptionId, keyId })),
  };
  await (InflightBatch.collection as unknown as Collection<InflightBatchDoc>).insertOne(doc);
  unforgotten.set(doc._id, markers.length);
  for (const m of markers) batchOf.set(m.redemptionId, doc._id);
});

/** Writes a request's in-flight marker with the others handed in this turn, as one document (M1). */
export const insertMarker = (marker: Marker): Promise<void> => markerBatches.insert(marker);

/** Whether this process wrote the marker and has not forgotten it: its request's tail may be undone. */
export const holdsMarker = (redemptionId: string): boolean => batchOf.has(redemptionId);

const markerDeletes = new GroupCommit<AnyBulkWriteOperation<InflightDoc>>(async (deletes) => {
  await (Inflight.collection as unknown as Collection<InflightDoc>).bulkWrite(deletes, {
    ordered: false,
  });
});

/**
 * Batch documents' deletes, as one unordered bulkWrite. Deferrable (write-lane.ts W5): nothing
 * waits for a batch to go (its requests have ended, and recovery reads only batches older than
 * its age), so under load they give way to requests' writes and go together.
 */
const batchDeletes = new GroupCommit<AnyBulkWriteOperation<InflightBatchDoc>>(
  async (deletes) => {
    await (InflightBatch.collection as unknown as Collection<InflightBatchDoc>).bulkWrite(deletes, {
      ordered: false,
    });
  },
  { deferrable: true },
);

/** Deletes a batch document (once every marker in it is forgotten, or by recovery: M2). */
export async function deleteMarkerBatch(batchId: string): Promise<void> {
  unforgotten.delete(batchId);
  await batchDeletes.insert({ deleteOne: { filter: { _id: batchId } } });
}

/**
 * Forgets a marker: its batch document goes once every marker in it is forgotten (M2); one this
 * process does not hold is deleted in the one-document form by its id (M3).
 */
export async function deleteMarker(redemptionId: string): Promise<void> {
  const batchId = batchOf.get(redemptionId);
  if (batchId === undefined) {
    await markerDeletes.insert({ deleteOne: { filter: { _id: redemptionId } } });
    return;
  }
  batchOf.delete(redemptionId);
  const left = (unforgotten.get(batchId) ?? 1) - 1;
  if (left > 0) {
    unforgotten.set(batchId, left);
    return;
  }
  await deleteMarkerBatch(batchId);
}
