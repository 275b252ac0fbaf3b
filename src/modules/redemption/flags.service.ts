/**
 * Flags: offline redemptions that could not be charged when the counter came back online (the
 * goods had already gone). They are never dropped: each is stored once per (terminal, key) and
 * listed for the store manager until resolved.
 *
 * Invariants:
 * - F1 one flag per (terminalId, key) (unique index): re-uploading a batch never doubles a flag.
 * - F2 a flag is resolved once: the resolution's `_id` is the flag's id (an insert arbitrates);
 *   a second resolution is a `conflict`. The flag's `resolvedAt` is only a listing hint.
 */
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError, isDuplicateKeyError, notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { findStore } from '../stores/stores.service';
import { FlagResolution, RedemptionFlag, type RedemptionFlagDoc } from './redemption.model';
import type { z } from '../../platform/validation';
import type { flagSchema } from './redemption.schemas';

/** The refusal of an offline redemption is flagged for the store manager (never dropped). */
export async function flagOffline(input: {
  storeId: string;
  terminalId: string;
  key: string;
  cardNo: string;
  items: { sku: string; qty: number }[];
  offlineAt: Date;
  code: string;
  detail: string;
  redemptionId?: string;
  householdId?: string;
  points?: number;
}): Promise<void> {
  try {
    await RedemptionFlag.create([{ ...input, createdAt: new Date() }]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // flagged already (a retry or recovery)
  }
}

export type FlagView = z.infer<typeof flagSchema>;

function toFlagView(
  f: RedemptionFlagDoc,
  resolution: { at: Date; by: string; note: string } | undefined,
): FlagView {
  return {
    id: f._id.toHexString(),
    storeId: f.storeId,
    terminalId: f.terminalId,
    key: f.key,
    redemptionId: f.redemptionId ?? null,
    householdId: f.householdId ?? null,
    cardNo: f.cardNo,
    items: f.items.map((i) => ({ sku: i.sku, qty: i.qty })),
    points: f.points ?? null,
    offlineAt: f.offlineAt.toISOString(),
    code: f.code,
    detail: f.detail,
    createdAt: f.createdAt.toISOString(),
    resolution: resolution
      ? { at: resolution.at.toISOString(), by: resolution.by, note: resolution.note }
      : null,
  };
}

function assertStoreReach(p: Principal, storeId: string): void {
  if (p.role !== 'admin' && p.storeId !== storeId) throw notFound('store');
}

/** Flagged offline redemptions of a store, newest first; `open` leaves out resolved ones. */
export async function listFlags(
  p: Principal,
  storeId: string,
  q: { status?: 'open' | 'all'; before?: string; limit?: number },
) {
  assertStoreReach(p, storeId);
  if (!(await findStore(storeId))) throw notFound('store');
  const limit = q.limit ?? 50;
  const filter: Record<string, unknown> = { storeId };
  if (q.before) filter._id = { $lt: new Types.ObjectId(q.before) };
  if ((q.status ?? 'open') === 'open') filter.resolvedAt = { $exists: false };
  const docs = await RedemptionFlag.find(filter)
    .sort({ _id: -1 })
    .limit(limit + 1)
    .lean<RedemptionFlagDoc[]>();
  const page = docs.slice(0, limit);
  const resolutions = await FlagResolution.find({
    _id: { $in: page.map((f) => f._id.toHexString()) },
  }).lean();
  const byId = new Map(resolutions.map((r) => [r._id, r]));
  const items = page.map((f) => toFlagView(f, byId.get(f._id.toHexString())));
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

/**
 * Records how the store manager settled a flag (e.g. the household paid later, goods returned).
 * Once per flag: the resolution's _id is the flag's id; a second is a `conflict`.
 */
export async function resolveFlag(
  p: Principal,
  storeId: string,
  flagId: string,
  note: string,
): Promise<FlagView> {
  assertStoreReach(p, storeId);
  const flag = Types.ObjectId.isValid(flagId)
    ? await RedemptionFlag.findById(flagId).lean<RedemptionFlagDoc>()
    : null;
  if (!flag || flag.storeId !== storeId) throw notFound('flag');
  const at = clock.now();
  let conflict = false;
  try {
    await FlagResolution.create([{ _id: flagId, storeId, by: p.id, note, at }]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    conflict = true;
  }
  const resolution = (await FlagResolution.findById(flagId).lean())!;
  // The listing hint follows the resolution record (also repairing a crash between the two).
  if (!flag.resolvedAt)
    await RedemptionFlag.updateOne({ _id: flag._id }, { $set: { resolvedAt: resolution.at } });
  if (conflict) throw new DomainError('flag_already_resolved', 'This flag is already resolved.');
  return toFlagView(flag, resolution);
}
