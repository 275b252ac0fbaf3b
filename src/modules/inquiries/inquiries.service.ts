/**
 * A household's credit look-ups (查询记录): recorded by the credit module for every officer
 * call, refused ones too, and for every household an export includes; read by the household,
 * its clerk and the county office. Append-only: a look-up is never edited or deleted.
 */
import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { isDuplicateKeyError } from '../../platform/errors';
import { Inquiry, type InquiryDoc } from './inquiries.model';

/** Most recent look-ups a listing returns. */
const INQUIRIES_LIST_MAX = 1000;

export interface NewInquiry {
  householdId: string;
  officerId: string;
  cooperativeId: string;
  purpose: string;
  /** `ok`, or the error code the officer got (consent_required, not_found, rate_limited, …), or `exported`. */
  result: string;
  at: Date;
}

export async function listInquiries(householdId: string) {
  const docs = await Inquiry.find({ householdId }).sort({ at: -1 }).limit(INQUIRIES_LIST_MAX).lean<InquiryDoc[]>();
  return docs.map((d) => ({
    id: d._id.toHexString(),
    officerId: d.officerId,
    cooperativeId: d.cooperativeId,
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
export async function recordInquiriesOnce(items: { key: string; inquiry: NewInquiry }[]): Promise<void> {
  if (!items.length) return;
  const docs = items.map(({ key, inquiry }) => ({ _id: new Types.ObjectId(createHash('sha256').update(key).digest('hex').slice(0, 24)), ...inquiry }));
  try {
    await Inquiry.insertMany(docs, { ordered: false });
  } catch (err) {
    const writeErrors = (err as { writeErrors?: unknown[] }).writeErrors;
    if (isDuplicateKeyError(err) && (!writeErrors || writeErrors.every((e) => isDuplicateKeyError((e as { err?: unknown }).err ?? e)))) return;
    throw err;
  }
}
