/** Reading a household's credit look-ups. Recording them belongs to the credit module. */
import { Inquiry, type InquiryDoc } from './inquiries.model';

/** Most recent look-ups a listing returns. */
const INQUIRIES_LIST_MAX = 1000;

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
