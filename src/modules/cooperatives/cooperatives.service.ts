/** Cooperatives and their service area (the villages whose households they may look up). */
import { Types } from 'mongoose';
import { ConfigCache } from '../../platform/config-cache';
import { notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { assertVillagesExist } from '../stores/stores.service';
import { findVillage } from '../villages/villages.service';
import { Cooperative, type CooperativeDoc } from './cooperatives.model';
import type { z } from '../../platform/validation';
import type { cooperativeSchema } from './cooperatives.schemas';

export type CooperativeView = z.infer<typeof cooperativeSchema>;

const toView = (c: CooperativeDoc): CooperativeView => ({
  id: c._id.toHexString(),
  name: c.name,
  villageIds: c.villageIds,
  createdAt: c.createdAt.toISOString(),
});

export async function createCooperative(input: {
  name: string;
  villageIds: string[];
}): Promise<CooperativeView> {
  await assertVillagesExist(input.villageIds);
  const [doc] = await Cooperative.create([
    { name: input.name, villageIds: [...new Set(input.villageIds)] },
  ]);
  return toView(doc!.toObject());
}

/** Cooperatives by id, cached (platform/config-cache.ts: any change to one is seen at once). */
const cachedCooperatives = new ConfigCache<CooperativeDoc>('cooperatives');

export async function findCooperative(cooperativeId: string): Promise<CooperativeDoc | undefined> {
  if (!Types.ObjectId.isValid(cooperativeId)) return undefined;
  return cachedCooperatives.get(
    cooperativeId,
    async () => (await Cooperative.findById(cooperativeId).lean<CooperativeDoc>()) ?? undefined,
  );
}

/** A cooperative and its service area, with the villages' names: the county office, or one of its own officers (else 404). */
export async function getCooperative(
  p: Principal,
  cooperativeId: string,
): Promise<CooperativeView & { villages: { id: string; name: string }[] }> {
  const c = await findCooperative(cooperativeId);
  if (!c || (p.role !== 'admin' && !(p.role === 'officer' && p.cooperativeId === cooperativeId)))
    throw notFound('cooperative');
  const villages = await Promise.all(
    c.villageIds.map(async (id) => ({ id, name: (await findVillage(id))?.name ?? '' })),
  );
  return { ...toView(c), villages };
}

/** Cooperatives read at most: a county has a handful, a city a few hundred. */
const COOPERATIVES_LIST_MAX = 5000;

/**
 * The cooperatives a principal may see: all (admin), its own (officer), or those serving its
 * village (a household choosing whom to consent to, a clerk recording a paper form, a council).
 */
export async function listCooperatives(p: Principal): Promise<CooperativeView[]> {
  if (p.role === 'officer') {
    const own = p.cooperativeId ? await findCooperative(p.cooperativeId) : undefined;
    return own ? [toView(own)] : [];
  }
  const docs = await Cooperative.find({})
    .sort({ _id: 1 })
    .limit(COOPERATIVES_LIST_MAX)
    .lean<CooperativeDoc[]>();
  const visible =
    p.role === 'admin'
      ? docs
      : docs.filter((c) => p.villageId !== undefined && c.villageIds.includes(p.villageId));
  return visible.map(toView);
}
