/**
 * What the API shows of the levels: a township station with its villages. Kept apart from
 * levels.service.ts because it reads the villages (which themselves place villages through
 * levels.service.ts), so neither service imports the other in a circle.
 */
import { notFound, validationError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { findVillage, storedVillageIdsOfTownship } from '../villages/villages.service';
import { findCounty, findTownship, listCounties, listTownshipDocs } from './levels.service';
import type { TownshipDoc } from './levels.model';
import type { z } from '../../platform/validation';
import type { townshipSchema } from './levels.schemas';

export type TownshipView = z.infer<typeof townshipSchema>;

async function toTownshipView(t: TownshipDoc): Promise<TownshipView> {
  return {
    id: t._id,
    name: t.name,
    county: t.county,
    countyId: t.countyId,
    villageIds: await storedVillageIdsOfTownship(t._id),
  };
}

/** A township station: the county office any, a township user its own; else `not_found`. */
export async function getTownship(p: Principal, townshipId: string): Promise<TownshipView> {
  if (p.role !== 'admin' && p.townshipId !== townshipId) throw notFound('township');
  const t = await findTownship(townshipId);
  if (!t) throw notFound('township');
  return toTownshipView(t);
}

/** The townships in reach: all for the county office, its own for a township user. */
export async function listTownships(p: Principal): Promise<TownshipView[]> {
  const docs =
    p.role === 'admin'
      ? await listTownshipDocs()
      : await listTownshipDocs({ ids: p.townshipId ? [p.townshipId] : [] });
  return Promise.all(docs.map(toTownshipView));
}

/**
 * The county a caller works in: a village's people their village's, a township station its
 * own, the county office the one it names (or the only one). Another county than the caller's
 * is `not_found`.
 */
export async function resolveCounty(p: Principal, requested?: string): Promise<string> {
  let own: string | undefined;
  if (p.role === 'admin') {
    if (requested) {
      if (!(await findCounty(requested))) throw notFound('county');
      return requested;
    }
    const counties = await listCounties();
    if (counties.length === 1) return counties[0]!._id;
    throw validationError([
      {
        path: 'countyId',
        message: counties.length ? 'several counties: name one' : 'no county exists yet',
      },
    ]);
  }
  if (p.role === 'township')
    own = p.townshipId ? (await findTownship(p.townshipId))?.countyId : undefined;
  else if (p.villageId) own = (await findVillage(p.villageId))?.countyId;
  if (!own || (requested && requested !== own)) throw notFound('county');
  return own;
}
