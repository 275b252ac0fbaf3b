/**
 * A household's credit look-ups (查询记录): recorded by the credit module for every officer
 * call, refused ones too, and for every household an export includes; read by the household,
 * its clerk and the county office. Append-only: a look-up is never edited or deleted.
 *
 * A listing names the cooperative and the officer (their names as they are now); the household
 * is shown names only, staff also the ids.
 */
import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { isDuplicateKeyError } from '../../platform/errors';
import { findCooperative } from '../cooperatives/cooperatives.service';
import { displayNames } from '../users/users.service';
import { Inquiry, type InquiryDoc } from './inquiries.model';
import type { z } from '../../platform/validation';
import type { inquirySchema } from './inquiries.schemas';

/** Most recent look-ups a listing returns. */
const INQUIRIES_LIST_MAX = 1000;

/** A look-up to record: the stored record without its id. */
export type NewInquiry = Omit<InquiryDoc, '_id'>;

export type InquiryView = z.infer<typeof inquirySchema>;

/** Shown when an officer or cooperative record no longer exists. */
const UNKNOWN_NAME = '（未知）';

/** A household's look-ups, newest first; `withIds` adds the officers' user ids (staff). */
export async function listInquiries(
  householdId: string,
  opts: { withIds: boolean },
): Promise<InquiryView[]> {
  const docs = await Inquiry.find({ householdId })
    .sort({ at: -1 })
    .limit(INQUIRIES_LIST_MAX)
    .lean<InquiryDoc[]>();
  const officers = await displayNames(docs.map((d) => d.officerId));
  const cooperatives = new Map<string, string>();
  for (const id of new Set(docs.map((d) => d.cooperativeId)))
    cooperatives.set(id, (await findCooperative(id))?.name ?? UNKNOWN_NAME);
  return docs.map((d) => ({
    id: d._id.toHexString(),
    ...(opts.withIds ? { officerId: d.officerId } : {}),
    officerName: officers.get(d.officerId) ?? UNKNOWN_NAME,
    cooperativeId: d.cooperativeId,
    cooperativeName: cooperatives.get(d.cooperativeId) ?? UNKNOWN_NAME,
    purpose: d.purpose,
    result: d.result,
    at: d.at.toISOString(),
  }));
}

/** Records one look-up. Awaited before the answer is sent: no record, no answer. */
export async function recordInquiry(input: NewInquiry): Promise<void> {
  await Inquiry.create([input]);
}

/**
 * Records look-ups under ids derived from `key` (e.g. an export and a household), so a retried
 * batch records each look-up once: the `_id` is the lock. The batch is written without order and
 * its duplicate-key errors are the retry's already-recorded look-ups.
 */
export async function recordInquiriesOnce(
  items: { key: string; inquiry: NewInquiry }[],
): Promise<void> {
  if (!items.length) return;
  const docs = items.map(({ key, inquiry }) => ({
    _id: new Types.ObjectId(createHash('sha256').update(key).digest('hex').slice(0, 24)),
    ...inquiry,
  }));
  try {
    await Inquiry.insertMany(docs, { ordered: false });
  } catch (err) {
    const writeErrors = (err as { writeErrors?: unknown[] }).writeErrors;
    if (
      isDuplicateKeyError(err) &&
      (!writeErrors ||
        writeErrors.every((e) => isDuplicateKeyError((e as { err?: unknown }).err ?? e)))
    )
      return;
    throw err;
  }
}
