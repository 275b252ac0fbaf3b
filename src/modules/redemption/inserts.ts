/**
 * Group commit (platform/group-commit.ts) of a redemption's bookkeeping inserts: the documents
 * that concurrent requests insert into one collection in the same turn go to the database as one
 * unordered insertMany. Each is still refused alone by its unique `_id`, so a claim, a record or
 * a settled event is decided exactly as by a lone insert (a duplicate key stays a duplicate key),
 * and each request goes on only once the reply acknowledges its own document. One request alone
 * sends one insert, as before; under load, fewer commands per redemption. The in-flight markers'
 * deletes go the same way, as one unordered bulkWrite (a delete by `_id` repeats safely).
 */
import type { AnyBulkWriteOperation, Collection } from 'mongodb';
import { GroupCommit, modelInserts } from '../../platform/group-commit';
import {
  Inflight,
  Redemption,
  RedemptionEvent,
  RedemptionKey,
  type InflightDoc,
} from './redemption.model';

export const markerInserts = modelInserts(Inflight);
export const claimInserts = modelInserts(RedemptionKey);
export const recordInserts = modelInserts(Redemption);
export const eventInserts = modelInserts(RedemptionEvent);

const markerDeletes = new GroupCommit<AnyBulkWriteOperation<InflightDoc>>(async (deletes) => {
  await (Inflight.collection as unknown as Collection<InflightDoc>).bulkWrite(deletes, {
    ordered: false,
  });
});

/** Deletes an in-flight marker with the other deletes of this turn. */
export const deleteMarker = (redemptionId: string): Promise<void> =>
  markerDeletes.insert({ deleteOne: { filter: { _id: redemptionId } } });
