/**
 * The supervision team (监督运营): a village role that reads the village's points, submissions,
 * and the stock and sales of the stores serving it; objects to submissions in notice (in the
 * submissions module); flags sales and stock movements for the township station; and reads the
 * concentration report (人情分). It writes no points anywhere.
 *
 * Invariants:
 * - X1 a flag names a sale or stock movement that exists in a store serving the supervisor's
 *   village; it is never edited, and resolved once by the township station (or county office).
 * - X2 kinship links join households of one village only.
 */
import { Types } from 'mongoose';
import { clock, isCalendarDate, todayUtc } from '../../platform/clock';
import {
  DomainError,
  forbidden,
  isDuplicateKeyError,
  notFound,
  validationError,
} from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { findHousehold, householdInReach } from '../households/households.service';
import { redemptionInReach } from '../redemption/redemption.views';
import { listMovements, storeInReach } from '../stores/items.service';
import { listAwardApprovals } from '../submissions/submissions.approvals';
import { listCouncilMembers } from '../users/users.service';
import { findVillage, orderPolicyOf, villageInReach } from '../villages/villages.service';
import { concentrationOf, LIFT } from './concentration';
import {
  HouseholdKinship,
  OversightFlag,
  OversightFlagResolution,
  type FlagResolutionDoc,
  type KinshipDoc,
  type OversightFlagDoc,
} from './oversight.model';
import type { z } from '../../platform/validation';
import type { flagSchema, kinshipSchema, reportSchema } from './oversight.schemas';

/** Linked households per household: parents, children and siblings who set up their own. */
export const RELATED_MAX = 30;
/** Kinship records of one village read for a report. */
const KINSHIP_MAX = 100_000;
const DAY_MS = 24 * 3600_000;

// ---------------------------------------------------------------------------------------------
// Kinship (roster data for the report)

export type KinshipView = z.infer<typeof kinshipSchema>;

const toKinshipView = (householdId: string, k: KinshipDoc | null): KinshipView => ({
  householdId,
  lineage: k?.lineage ?? null,
  relatedHouseholdIds: k ? [...k.relatedHouseholdIds] : [],
  updatedAt: k ? k.updatedAt.toISOString() : null,
});

const KINSHIP_READERS = ['admin', 'township', 'clerk', 'supervisor'];

export async function getKinship(p: Principal, householdId: string): Promise<KinshipView> {
  await householdInReach(p, householdId);
  if (!KINSHIP_READERS.includes(p.role)) throw forbidden();
  return toKinshipView(
    householdId,
    await HouseholdKinship.findById(householdId).lean<KinshipDoc>(),
  );
}

/** The clerk records what the roster says of a household's relatives (X2). */
export async function setKinship(
  p: Principal,
  householdId: string,
  input: { lineage?: string | null; relatedHouseholdIds?: string[] },
): Promise<KinshipView> {
  const h = await householdInReach(p, householdId);
  if (p.role !== 'admin' && p.role !== 'clerk')
    throw forbidden('The village clerk keeps the roster.');
  const related = [...new Set(input.relatedHouseholdIds ?? [])];
  const others = await Promise.all(related.map((id) => findHousehold(id)));
  others.forEach((o, i) => {
    if (!o || o.villageId !== h.villageId || related[i] === householdId)
      throw validationError([
        { path: `relatedHouseholdIds.${i}`, message: 'not another household of this village' },
      ]);
  });
  const current = await HouseholdKinship.findById(householdId).lean<KinshipDoc>();
  const lineage = input.lineage === undefined ? current?.lineage : (input.lineage ?? undefined);
  const set: Record<string, unknown> = {
    villageId: h.villageId,
    relatedHouseholdIds: input.relatedHouseholdIds ? related : (current?.relatedHouseholdIds ?? []),
    updatedBy: p.id,
    updatedAt: clock.now(),
  };
  const update: Record<string, unknown> = { $set: set };
  if (lineage) set.lineage = lineage;
  else update.$unset = { lineage: 1 };
  await HouseholdKinship.updateOne({ _id: householdId }, update, { upsert: true });
  return toKinshipView(
    householdId,
    await HouseholdKinship.findById(householdId).lean<KinshipDoc>(),
  );
}

// ---------------------------------------------------------------------------------------------
// The concentration report (人情分)

export type ConcentrationReport = z.infer<typeof reportSchema>;

export async function concentrationReport(
  p: Principal,
  villageId: string,
  q: { from?: string; to?: string },
): Promise<ConcentrationReport> {
  const village = await villageInReach(p, villageId);
  if (!['admin', 'township', 'supervisor'].includes(p.role)) throw forbidden();
  const to = q.to ?? todayUtc();
  const from =
    q.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - 365 * DAY_MS).toISOString().slice(0, 10);
  if (!isCalendarDate(from) || !isCalendarDate(to) || from > to)
    throw validationError([{ path: 'from', message: 'from must be a date on or before to' }]);
  const policy = orderPolicyOf(village);
  const members = await listCouncilMembers(villageId);
  const approvals = await listAwardApprovals(
    villageId,
    from,
    to,
    members.map((m) => m.id),
  );
  const kinshipDocs = await HouseholdKinship.find({ villageId })
    .limit(KINSHIP_MAX)
    .lean<KinshipDoc[]>();
  const kinship = new Map(
    kinshipDocs.map((k) => [
      k._id,
      { lineage: k.lineage, relatedHouseholdIds: k.relatedHouseholdIds },
    ]),
  );
  const rows = concentrationOf({
    members: members.map((m) => ({
      id: m.id,
      ...(m.householdId ? { householdId: m.householdId } : {}),
    })),
    approvals,
    kinship,
    threshold: policy.concentrationThreshold,
    minApprovals: policy.concentrationMinApprovals,
  });
  const names = new Map(members.map((m) => [m.id, m.username]));
  return {
    villageId,
    from,
    to,
    threshold: policy.concentrationThreshold,
    minApprovals: policy.concentrationMinApprovals,
    lift: LIFT,
    members: rows.map((r) => ({ ...r, username: names.get(r.memberId) ?? '' })),
    flagged: rows.filter((r) => r.flagged).length,
  };
}

// ---------------------------------------------------------------------------------------------
// Flags on sales and stock movements

export interface NewFlag {
  target:
    | { type: 'redemption'; redemptionId: string }
    | { type: 'stock_movement'; storeId: string; sku: string; seq: number };
  reason: string;
}

export type FlagView = z.infer<typeof flagSchema>;

function toFlagView(f: OversightFlagDoc, r: FlagResolutionDoc | null): FlagView {
  return {
    id: f._id.toHexString(),
    villageId: f.villageId,
    townshipId: f.townshipId ?? null,
    target:
      f.targetType === 'redemption'
        ? { type: 'redemption', storeId: f.storeId, redemptionId: f.redemptionId! }
        : { type: 'stock_movement', storeId: f.storeId, sku: f.sku!, seq: f.seq! },
    reason: f.reason,
    by: f.by,
    createdAt: f.createdAt.toISOString(),
    resolution: r ? { note: r.note, by: r.by, at: r.at.toISOString() } : null,
  };
}

/** X1: a supervisor flags a sale or stock movement of a store serving their village. */
export async function createFlag(p: Principal, input: NewFlag): Promise<FlagView> {
  if (p.role !== 'supervisor' || !p.villageId)
    throw forbidden('Supervisors (监督运营) flag sales and stock movements.');
  const doc: Record<string, unknown> = {
    villageId: p.villageId,
    targetType: input.target.type,
    reason: input.reason,
    by: p.id,
  };
  if (input.target.type === 'redemption') {
    const r = await redemptionInReach(p, input.target.redemptionId);
    Object.assign(doc, { storeId: r.storeId, redemptionId: input.target.redemptionId });
  } else {
    const { storeId, sku, seq } = input.target;
    await storeInReach(p, storeId);
    const page = await listMovements(p, storeId, sku, seq - 1, 1);
    if (page.items[0]?.seq !== seq) throw notFound('stock movement');
    Object.assign(doc, { storeId, sku, seq });
  }
  const townshipId = (await findVillage(p.villageId))?.townshipId;
  if (townshipId) doc.townshipId = townshipId;
  const [created] = await OversightFlag.create([doc]);
  return toFlagView(created!.toObject(), null);
}

function canSeeFlag(p: Principal, f: OversightFlagDoc): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'township') return Boolean(f.townshipId) && f.townshipId === p.townshipId;
  if (p.role === 'supervisor') return f.villageId === p.villageId;
  return false;
}

/** Flags in reach, newest first: the township's list of its villages', a supervisor's own village's. */
export async function listFlags(
  p: Principal,
  q: { status?: 'open' | 'all'; villageId?: string; before?: string; limit?: number },
) {
  const filter: Record<string, unknown> = {};
  if (q.villageId) {
    if (!reachesVillage(p, q.villageId)) throw notFound('village');
    filter.villageId = q.villageId;
  }
  if (p.role === 'township') filter.townshipId = p.townshipId;
  if (p.role === 'supervisor') filter.villageId = p.villageId;
  if (q.before) filter._id = { $lt: new Types.ObjectId(q.before) };
  const limit = q.limit ?? 50;
  const open = (q.status ?? 'open') === 'open';
  const items: FlagView[] = [];
  let cursor = filter;
  // Resolutions live apart (flags are never edited), so an open list filters after reading.
  for (let pass = 0; pass < 20 && items.length <= limit; pass++) {
    const docs = await OversightFlag.find(cursor)
      .sort({ _id: -1 })
      .limit(limit + 1)
      .lean<OversightFlagDoc[]>();
    for (const f of docs) {
      const r = await OversightFlagResolution.findById(
        f._id.toHexString(),
      ).lean<FlagResolutionDoc>();
      if (!open || !r) items.push(toFlagView(f, r));
    }
    if (docs.length <= limit) break;
    cursor = { ...filter, _id: { $lt: docs[docs.length - 1]!._id } };
  }
  const page = items.slice(0, limit);
  return { items: page, next: items.length > limit ? page[page.length - 1]!.id : null };
}

/** X1: the township station (or county office) resolves a flag once. */
export async function resolveFlag(
  p: Principal,
  flagId: string,
  input: { note: string },
): Promise<FlagView> {
  const f = Types.ObjectId.isValid(flagId)
    ? await OversightFlag.findById(flagId).lean<OversightFlagDoc>()
    : null;
  if (!f || !canSeeFlag(p, f)) throw notFound('flag');
  if (p.role !== 'admin' && p.role !== 'township')
    throw forbidden('The township station resolves flags.');
  try {
    await OversightFlagResolution.create([
      { _id: flagId, note: input.note, by: p.id, byRole: p.role, at: clock.now() },
    ]);
  } catch (err) {
    if (isDuplicateKeyError(err))
      throw new DomainError('flag_already_resolved', 'This flag has already been resolved.');
    throw err;
  }
  return toFlagView(f, await OversightFlagResolution.findById(flagId).lean<FlagResolutionDoc>());
}
