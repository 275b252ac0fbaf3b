/**
 * What a redemption looks like from outside: the 201 body (with the counter printer's fields),
 * the record with its status, the reversal, the receipt, and the read-only queries a terminal or
 * the county office makes. Every view is a pure function of the stored records, so that a
 * replay, recovery and a read all show the same thing.
 */
import assert from 'node:assert/strict';
import { Types } from 'mongoose';
import {
  DomainError,
  notFound,
  statusOf,
  type ErrorCode,
  type ProblemReason,
} from '../../platform/errors';
import { problemBody } from '../../platform/http';
import type { Principal } from '../../platform/principal';
import { renderReceipt } from './receipt';
import { canReadStore, findStore } from '../stores/stores.service';
import {
  Redemption,
  RedemptionEvent,
  type RedemptionDoc,
  type RedemptionEventDoc,
  type StoredResponse,
} from './redemption.model';
import type { z } from '../../platform/validation';
import type {
  lineSchema,
  redemptionRecordSchema,
  redemptionSchema,
  reversalSchema,
} from './redemption.schemas';

export type RedemptionLineView = z.infer<typeof lineSchema>;

/** The 201 body: what the contract names plus what a counter printer needs. */
export type RedemptionView = z.infer<typeof redemptionSchema>;

export type RedemptionRecordView = z.infer<typeof redemptionRecordSchema>;

export type ReversalView = z.infer<typeof reversalSchema>;

export type FullRedemption = RedemptionDoc &
  Required<
    Pick<
      RedemptionDoc,
      | 'householdId'
      | 'lines'
      | 'points'
      | 'occurredAt'
      | 'day'
      | 'storeName'
      | 'cardNo'
      | 'villageId'
    >
  >;

export const idOf = (r: RedemptionDoc) => r._id.toHexString();
export const receiptNoOf = (rid: string) => rid.toUpperCase();
export const lineViews = (r: FullRedemption): RedemptionLineView[] =>
  r.lines.map((l) => ({
    sku: l.sku,
    name: l.name,
    qty: l.qty,
    pointsEach: l.pointsEach,
    points: l.points,
  }));

export function toView(r: FullRedemption, settled: RedemptionEventDoc): RedemptionView {
  assert.equal(settled.status, 'confirmed');
  assert.ok(typeof settled.spendableAfter === 'number');
  return {
    id: idOf(r),
    householdId: r.householdId,
    points: r.points,
    spendableAfter: settled.spendableAfter,
    items: lineViews(r),
    receiptNo: receiptNoOf(idOf(r)),
    store: { id: r.storeId, name: r.storeName },
    terminalId: r.terminalId,
    cardNo: r.cardNo,
    time: r.occurredAt.toISOString(),
    offline: Boolean(r.offlineAt),
  };
}

/**
 * The response a settled event stores (its JSON text, or the nested document of an event settled
 * before the text), or undefined when it stores none (`abandoned`, or an event older still).
 */
export function storedResponseOf(
  settled: Pick<RedemptionEventDoc, 'responseText' | 'response'>,
): StoredResponse | undefined {
  if (settled.responseText !== undefined) return JSON.parse(settled.responseText) as StoredResponse;
  return settled.response;
}

/** Whether a settled event stores its response (storedResponseOf), without reading it. */
export const storesResponse = (settled: Pick<RedemptionEventDoc, 'responseText' | 'response'>) =>
  settled.responseText !== undefined || settled.response !== undefined;

/** The stored response of a settled redemption: a pure function of its records (R1). */
export function responseOf(r: FullRedemption, settled: RedemptionEventDoc): StoredResponse {
  if (settled.status === 'confirmed') return { status: 201, body: toView(r, settled) };
  // A stored refusal is one of REFUSALS, each its code's own reason.
  const code = settled.code as ErrorCode & ProblemReason;
  return {
    status: statusOf(code),
    body: problemBody(code, settled.detail ?? '', settled.details ?? {}),
  };
}

export function isFull(r: RedemptionDoc | null | undefined): r is FullRedemption {
  return Boolean(r && !r.tombstone && r.lines && r.householdId);
}

export function toReversalView(r: FullRedemption, reversed: RedemptionEventDoc): ReversalView {
  return {
    redemptionId: idOf(r),
    householdId: r.householdId,
    points: r.points,
    spendableAfter: reversed.spendableAfter!,
    items: lineViews(r),
    receiptNo: receiptNoOf(idOf(r)),
    store: { id: r.storeId, name: r.storeName },
    reversedAt: reversed.at.toISOString(),
  };
}

/** A stage's event of a redemption, by `_id`. */
export const findEvent = (rid: string, stage: 'settled' | 'reversed') =>
  RedemptionEvent.findById(`${rid}:${stage}`).lean<RedemptionEventDoc>();

/** A redemption the principal may see: a terminal only its store's, an admin any (R4). */
export async function redemptionInReach(
  p: Principal,
  redemptionId: string,
): Promise<FullRedemption> {
  const r = Types.ObjectId.isValid(redemptionId)
    ? await Redemption.findById(redemptionId).lean<RedemptionDoc>()
    : null;
  if (!isFull(r)) throw notFound('redemption');
  if (p.role === 'supervisor') {
    // A village's supervisors read the sales of the stores that serve their village.
    const store = await findStore(r.storeId);
    if (!store || !canReadStore(p, store)) throw notFound('redemption');
    return r;
  }
  if (p.role !== 'admin' && (p.role !== 'terminal' || p.storeId !== r.storeId))
    throw notFound('redemption');
  return r;
}

function recordView(
  r: FullRedemption,
  settled: RedemptionEventDoc | null,
  reversed: RedemptionEventDoc | null,
): RedemptionRecordView {
  const base = {
    id: idOf(r),
    householdId: r.householdId,
    points: r.points,
    items: lineViews(r),
    receiptNo: receiptNoOf(idOf(r)),
    store: { id: r.storeId, name: r.storeName },
    terminalId: r.terminalId,
    cardNo: r.cardNo,
    time: r.occurredAt.toISOString(),
    offline: Boolean(r.offlineAt),
    createdAt: r.createdAt.toISOString(),
  };
  const status: RedemptionRecordView['status'] = !settled
    ? 'pending'
    : settled.status === 'failed'
      ? 'failed'
      : reversed
        ? 'reversed'
        : 'confirmed';
  return {
    ...base,
    status,
    spendableAfter: settled?.status === 'confirmed' ? settled.spendableAfter! : null,
    failure:
      settled?.status === 'failed' ? { code: settled.code!, detail: settled.detail ?? '' } : null,
    reversal: reversed
      ? { at: reversed.at.toISOString(), spendableAfter: reversed.spendableAfter! }
      : null,
  };
}

export async function getRedemption(
  p: Principal,
  redemptionId: string,
): Promise<RedemptionRecordView> {
  const r = await redemptionInReach(p, redemptionId);
  const [settled, reversed] = await Promise.all([
    findEvent(idOf(r), 'settled'),
    findEvent(idOf(r), 'reversed'),
  ]);
  return recordView(r, settled, reversed);
}

/** A store's redemptions, newest first (a terminal: its own store; an admin: any store). */
export async function listRedemptions(
  p: Principal,
  q: { storeId?: string; householdId?: string; before?: string; limit?: number },
) {
  let storeId = q.storeId;
  if (p.role === 'terminal') {
    if (storeId && storeId !== p.storeId) throw notFound('store');
    storeId = p.storeId;
  }
  if (p.role === 'supervisor') {
    const store = storeId ? await findStore(storeId) : undefined;
    if (!store || !canReadStore(p, store)) throw notFound('store');
  }
  const limit = q.limit ?? 50;
  const filter: Record<string, unknown> = { tombstone: { $ne: true } };
  if (storeId) filter.storeId = storeId;
  if (q.householdId) filter.householdId = q.householdId;
  if (q.before) filter._id = { $lt: new Types.ObjectId(q.before) };
  const docs = (
    await Redemption.find(filter)
      .sort({ _id: -1 })
      .limit(limit + 1)
      .lean<RedemptionDoc[]>()
  ).filter(isFull);
  const page = docs.slice(0, limit);
  const ids = page.map(idOf);
  const events = await RedemptionEvent.find({
    _id: { $in: ids.flatMap((id) => [`${id}:settled`, `${id}:reversed`]) },
  }).lean<RedemptionEventDoc[]>();
  const byId = new Map<
    string,
    { settled: RedemptionEventDoc | null; reversed: RedemptionEventDoc | null }
  >();
  for (const id of ids) byId.set(id, { settled: null, reversed: null });
  for (const e of events) byId.get(e.redemptionId)![e.stage] = e;
  const items = page.map((r) =>
    recordView(r, byId.get(idOf(r))!.settled, byId.get(idOf(r))!.reversed),
  );
  return { items, next: docs.length > limit ? ids[ids.length - 1]! : null };
}

/** The plain-text receipt (32 columns, Chinese) of a confirmed redemption. */
export async function getReceiptText(p: Principal, redemptionId: string): Promise<string> {
  const r = await redemptionInReach(p, redemptionId);
  const [settled, reversed] = await Promise.all([
    findEvent(idOf(r), 'settled'),
    findEvent(idOf(r), 'reversed'),
  ]);
  if (!settled || settled.status !== 'confirmed')
    throw new DomainError(
      'redemption_not_confirmed',
      'Only a redemption that went through has a receipt.',
    );
  return renderReceipt({
    receiptNo: receiptNoOf(idOf(r)),
    storeName: r.storeName,
    cardNo: r.cardNo,
    terminalId: r.terminalId,
    occurredAt: r.occurredAt,
    offline: Boolean(r.offlineAt),
    items: r.lines.map((l) => ({ name: l.name, qty: l.qty, points: l.points })),
    points: r.points,
    spendableAfter: settled.spendableAfter!,
    ...(reversed ? { reversedAt: reversed.at } : {}),
  });
}
