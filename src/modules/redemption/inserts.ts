/**
 * Group commit (platform/group-commit.ts) of a redemption's bookkeeping inserts: the documents
 * that concurrent requests insert into one collection in the same turn go to the database as one
 * unordered insertMany. Each is still refused alone by its unique `_id`, so a claim, a record or
 * a settled event is decided exactly as by a lone insert (a duplicate key stays a duplicate key),
 * and each request goes on only once the reply acknowledges its own document. One request alone
 * sends one insert, as before; under load, fewer commands per redemption.
 */
import { modelInserts } from '../../platform/group-commit';
import { Inflight, Redemption, RedemptionEvent, RedemptionKey } from './redemption.model';

export const markerInserts = modelInserts(Inflight);
export const claimInserts = modelInserts(RedemptionKey);
export const recordInserts = modelInserts(Redemption);
export const eventInserts = modelInserts(RedemptionEvent);
