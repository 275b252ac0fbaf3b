/** Cooperatives and their service area (the villages whose households they may look up). */
import { Types } from 'mongoose';
import { notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { assertVillagesExist } from '../stores/stores.service';
import { Cooperative, type CooperativeDoc } from './cooperatives.model';

export interface CooperativeView {
  id: string;
  name: string;
  villageIds: string[];
  createdAt: string;
}

const toView = (c: CooperativeDoc): CooperativeView => ({ id: c._id.toHexString(), name: c.name, villageIds: c.villageIds, createdAt: c.createdAt.toISOString() });

export async function createCooperative(input: { name: string; villageIds: string[] }): Promise<CooperativeView> {
  await assertVillagesExist(input.villageIds);
  const [doc] = await Cooperative.create([{ name: input.name, villageIds: [...new Set(input.villageIds)] }]);
  return toView(doc!.toObject());
}

export async function findCooperative(cooperativeId: string): Promise<CooperativeDoc | undefined> {
  if (!Types.ObjectId.isValid(cooperativeId)) return undefined;
  return (await Cooperative.findById(cooperativeId).lean<CooperativeDoc>()) ?? undefined;
}

/** A cooperative and its service area: the county office, or one of its own officers (else 404). */
export async function getCooperative(p: Principal, cooperativeId: string): Promise<CooperativeView> {
  const c = await findCooperative(cooperativeId);
  if (!c || (p.role !== 'admin' && !(p.role === 'officer' && p.cooperativeId === cooperativeId))) throw notFound('cooperative');
  return toView(c);
}
