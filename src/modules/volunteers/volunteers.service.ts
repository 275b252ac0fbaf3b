/**
 * The volunteer register (志愿服务信息管理) and each volunteer's hours record.
 *
 * Invariants:
 * - V1 one volunteer per person: the keyed hash of the ID number is unique (index); the full
 *   number is never stored, returned or logged (id-number.ts).
 * - V2 a volunteer's hours are an append-only, hash-chained record: one link per rated service
 *   order (unique source), so an order's hours count exactly once, and `total` is the newest
 *   link's running total.
 * - V3 a volunteer is registered in reach of the registrant: a clerk in their village, a
 *   township station in its villages or at township level, the county office anywhere.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Types } from 'mongoose';
import { AppendChain } from '../../platform/append-chain';
import { DomainError, isDuplicateKeyError, notFound, validationError } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { findHousehold } from '../households/households.service';
import { findCounty, findTownship } from '../levels/levels.service';
import { findVillage } from '../villages/villages.service';
import { maskIdNumber, normaliseIdNumber, type IdNumberHasher } from './id-number';
import {
  Volunteer,
  VolunteerHours,
  VolunteerMilestone,
  type HoursLinkDoc,
  type MilestoneDoc,
  type VolunteerDoc,
} from './volunteers.model';
import type { z } from '../../platform/validation';
import type { hoursItemSchema, milestoneSchema, volunteerSchema } from './volunteers.schemas';

/** Hours at which a volunteer is commended (志愿服务时长 表彰), each once. */
export const MILESTONE_HOURS = [100, 300, 1000] as const;
const ZERO_HASH = '0'.repeat(64);
/** Links read for one hours record page. */
export const HOURS_PAGE_MAX = 500;

const hoursChain = new AppendChain<HoursLinkDoc>(VolunteerHours, 'volunteer-hours');

export type VolunteerView = z.infer<typeof volunteerSchema>;

function toView(v: VolunteerDoc, hours: number): VolunteerView {
  const view: VolunteerView = {
    id: v._id.toHexString(),
    name: v.name,
    idNumberMasked: v.idNumberMasked,
    hours,
    createdAt: v.createdAt.toISOString(),
  };
  for (const k of ['householdId', 'villageId', 'townshipId', 'countyId', 'phone'] as const)
    if (v[k]) view[k] = v[k];
  return view;
}

export async function findVolunteer(volunteerId: string): Promise<VolunteerDoc | undefined> {
  if (!Types.ObjectId.isValid(volunteerId)) return undefined;
  return (await Volunteer.findById(volunteerId).lean<VolunteerDoc>()) ?? undefined;
}

/** A volunteer's total hours: the newest link of the record (V2). */
export async function hoursOf(volunteerId: string): Promise<number> {
  return (await hoursChain.head(volunteerId))?.totalAfter ?? 0;
}

export interface NewVolunteer {
  name: string;
  idNumber: string;
  householdId?: string;
  phone?: string;
  /** An outside volunteer's village (default: the clerk's own). */
  villageId?: string;
  /** A county-level outside volunteer registered by the county office. */
  countyId?: string;
}

/** Where a new volunteer belongs, checked against the registrant's reach (V3). */
async function placeVolunteer(
  p: Principal,
  input: NewVolunteer,
): Promise<Pick<VolunteerDoc, 'householdId' | 'villageId' | 'townshipId' | 'countyId'>> {
  if (input.householdId) {
    const h = await findHousehold(input.householdId);
    if (!h || !reachesVillage(p, h.villageId))
      throw validationError([{ path: 'householdId', message: 'no such household' }]);
    const village = (await findVillage(h.villageId))!;
    return {
      householdId: input.householdId,
      villageId: h.villageId,
      townshipId: village.townshipId,
      countyId: village.countyId,
    };
  }
  const villageId = input.villageId ?? (p.role === 'clerk' ? p.villageId : undefined);
  if (villageId) {
    const village = reachesVillage(p, villageId) ? await findVillage(villageId) : undefined;
    if (!village) throw validationError([{ path: 'villageId', message: 'no such village' }]);
    return { villageId, townshipId: village.townshipId, countyId: village.countyId };
  }
  if (p.role === 'township') {
    const t = await findTownship(p.townshipId!);
    return { townshipId: p.townshipId, countyId: t?.countyId };
  }
  if (!input.countyId || !(await findCounty(input.countyId))) {
    throw validationError([
      {
        path: 'countyId',
        message:
          'a volunteer from outside any village needs the county (countyId) or a village (villageId)',
      },
    ]);
  }
  return { countyId: input.countyId };
}

/** Registers a volunteer by real name; a person already registered is a `conflict` (V1). */
export async function registerVolunteer(
  p: Principal,
  input: NewVolunteer,
  hasher: IdNumberHasher,
): Promise<VolunteerView> {
  const idNumber = normaliseIdNumber(input.idNumber);
  if (!idNumber)
    throw validationError([
      { path: 'idNumber', message: 'not a valid 18-character resident ID number' },
    ]);
  const place = await placeVolunteer(p, input);
  const doc: Record<string, unknown> = {
    name: input.name,
    idHash: hasher.hash(idNumber),
    idNumberMasked: maskIdNumber(idNumber),
    createdBy: p.id,
  };
  for (const [k, v] of Object.entries({ ...place, phone: input.phone }))
    if (v !== undefined) doc[k] = v;
  try {
    const [created] = await Volunteer.create([doc]);
    return toView(created!.toObject(), 0);
  } catch (err) {
    if (isDuplicateKeyError(err))
      throw new DomainError(
        'volunteer_already_registered',
        'This person is already registered as a volunteer.',
      );
    throw err;
  }
}

/** Whether a principal may read a volunteer's record. */
export function canSeeVolunteer(p: Principal, v: VolunteerDoc): boolean {
  if (p.volunteerId && p.volunteerId === v._id.toHexString()) return true;
  switch (p.role) {
    case 'admin':
      return true;
    case 'township':
      return Boolean(v.townshipId) && v.townshipId === p.townshipId;
    case 'clerk':
    case 'council':
    case 'supervisor':
      return Boolean(v.villageId) && v.villageId === p.villageId;
    case 'household':
      return Boolean(v.householdId) && v.householdId === p.householdId;
    case 'officer':
    case 'terminal':
      return false;
  }
}

/** A volunteer the principal may see, else `not_found`. */
export async function volunteerInReach(p: Principal, volunteerId: string): Promise<VolunteerDoc> {
  const v = await findVolunteer(volunteerId);
  if (!v || !canSeeVolunteer(p, v)) throw notFound('volunteer');
  return v;
}

export async function getVolunteer(p: Principal, volunteerId: string): Promise<VolunteerView> {
  const v = await volunteerInReach(p, volunteerId);
  return toView(v, await hoursOf(volunteerId));
}

/** A village's or township's register, a page at a time in id order (a scan on FerretDB-SQLite). */
export async function listVolunteers(
  p: Principal,
  q: { villageId?: string; after?: string; limit?: number },
): Promise<{ items: VolunteerView[]; next: string | null }> {
  const filter: Record<string, unknown> = {};
  if (q.villageId) {
    if (!reachesVillage(p, q.villageId)) throw notFound('village');
    filter.villageId = q.villageId;
  } else if (p.role === 'township') {
    filter.townshipId = p.townshipId;
  } else if (p.role !== 'admin') {
    filter.villageId = p.villageId;
  }
  if (q.after) filter._id = { $gt: new Types.ObjectId(q.after) };
  const limit = q.limit ?? 100;
  const docs = await Volunteer.find(filter)
    .sort({ _id: 1 })
    .limit(limit + 1)
    .lean<VolunteerDoc[]>();
  const items = await Promise.all(
    docs.slice(0, limit).map(async (d) => toView(d, await hoursOf(d._id.toHexString()))),
  );
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

/** The hash of an hours link: SHA-256 of the RFC 8785 JSON of its content with the volunteer id. */
export function hoursLinkHash(l: {
  volunteerId: string;
  seq: number;
  orderId: string;
  hours: number;
  date: string;
  totalAfter: number;
  prevHash: string;
}): string {
  return createHash('sha256')
    .update(
      canonicalize({
        volunteerId: l.volunteerId,
        seq: l.seq,
        orderId: l.orderId,
        hours: l.hours,
        date: l.date,
        totalAfter: l.totalAfter,
        prevHash: l.prevHash,
      })!,
    )
    .digest('hex');
}

/** V2: adds an order's hours to a volunteer's record, once per order; returns the link. */
export async function recordHours(input: {
  volunteerId: string;
  orderId: string;
  hours: number;
  date: string;
}): Promise<HoursLinkDoc> {
  const { link } = await hoursChain.append(
    input.volunteerId,
    { type: 'service-order', id: `${input.orderId}:${input.volunteerId}` },
    (head) => {
      const seq = (head?.seq ?? 0) + 1;
      const prevHash = head?.hash ?? ZERO_HASH;
      const totalAfter = (head?.totalAfter ?? 0) + input.hours;
      const hash = hoursLinkHash({
        volunteerId: input.volunteerId,
        seq,
        orderId: input.orderId,
        hours: input.hours,
        date: input.date,
        totalAfter,
        prevHash,
      });
      return {
        orderId: input.orderId,
        hours: input.hours,
        date: input.date,
        totalAfter,
        prevHash,
        hash,
      };
    },
  );
  return link;
}

export type HoursItem = z.infer<typeof hoursItemSchema>;

export type MilestoneView = z.infer<typeof milestoneSchema>;

/** The hours record (志愿服务时长) of a volunteer in reach: every order with its hours, verifiable. */
export async function getHours(
  p: Principal,
  volunteerId: string,
  q: { after?: number; limit?: number } = {},
) {
  await volunteerInReach(p, volunteerId);
  const page = await hoursChain.list(volunteerId, q.after ?? 0, q.limit ?? HOURS_PAGE_MAX);
  const items: HoursItem[] = page.items.map((l) => ({
    seq: l.seq,
    orderId: l.orderId,
    hours: l.hours,
    date: l.date,
    totalAfter: l.totalAfter,
    prevHash: l.prevHash,
    hash: l.hash,
  }));
  const milestones = (
    await Promise.all(
      MILESTONE_HOURS.map((h) =>
        VolunteerMilestone.findById(`${volunteerId}:${h}`).lean<MilestoneDoc>(),
      ),
    )
  )
    .filter((m): m is MilestoneDoc => Boolean(m))
    .map((m) => ({
      hours: m.hours,
      reachedAt: m.reachedAt.toISOString(),
      orderId: m.orderId,
      submissionId: m.submissionId ?? null,
      ...(m.skipped ? { skipped: m.skipped } : {}),
    }));
  return { volunteerId, total: await hoursOf(volunteerId), items, next: page.next, milestones };
}

/** Milestones reached but not yet recorded, given the newest total. */
export async function pendingMilestones(volunteerId: string, total: number): Promise<number[]> {
  const reached = MILESTONE_HOURS.filter((h) => total >= h);
  const done = await Promise.all(
    reached.map((h) => VolunteerMilestone.exists({ _id: `${volunteerId}:${h}` })),
  );
  return reached.filter((_, i) => !done[i]);
}

/** Records a reached milestone once, with its commendation's outcome (first writer wins). */
export async function recordMilestone(m: Omit<MilestoneDoc, '_id'>): Promise<void> {
  try {
    await VolunteerMilestone.create([{ ...m, _id: `${m.volunteerId}:${m.hours}` }]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}
