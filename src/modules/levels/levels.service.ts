/**
 * Levels: county centres and township stations as records, created on first use from the names
 * a village is created with.
 *
 * Invariants:
 * - LV1 one record per county name and per (county, township name): the `_id` is derived from the
 *   names, so concurrent placements of villages under a new township create it once.
 * - LV2 a level is never deleted or renamed; villages point at it by id.
 * - LV3 a township's list of villages only grows, by one append per village (unique source), and
 *   a village is added before it is stored, so the list holds every stored village of the
 *   township (and, after a refused create, possibly an id that was never stored: readers look
 *   villages up by id and skip those).
 */
import { createHash } from 'node:crypto';
import { clock } from '../../platform/clock';
import { isDuplicateKeyError, notFound } from '../../platform/errors';
import { AppendChain } from '../../platform/append-chain';
import {
  County,
  Township,
  TownshipVillages,
  type CountyDoc,
  type TownshipDoc,
  type TownshipVillagesLinkDoc,
} from './levels.model';

/** Counties listed at once: a city deployment has ~10. */
const COUNTIES_MAX = 1000;
/** Townships listed at once: a city has ~200. */
const TOWNSHIPS_MAX = 10_000;

/**
 * The id of a level: 24 hex digits (the API's id format) of the SHA-256 of its kind and names,
 * NUL-separated so that no two name pairs give the same input.
 */
export function levelId(kind: 'county' | 'township', ...names: string[]): string {
  return createHash('sha256')
    .update([kind, ...names].join('\u0000'))
    .digest('hex')
    .slice(0, 24);
}

async function insertOnce<T>(
  model: { create(docs: T[]): Promise<unknown> },
  doc: T,
): Promise<void> {
  try {
    await model.create([doc]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // LV1: another request created it first
  }
}

export interface Placement {
  countyId: string;
  townshipId: string;
}

/** LV1: the county and township records of these names, created if missing; idempotent. */
export async function placeLevels(township: string, county: string): Promise<Placement> {
  const countyId = levelId('county', county);
  const townshipId = levelId('township', county, township);
  if (!(await County.exists({ _id: countyId })))
    await insertOnce(County, { _id: countyId, name: county, createdAt: clock.now() });
  if (!(await Township.exists({ _id: townshipId }))) {
    await insertOnce(Township, {
      _id: townshipId,
      name: township,
      countyId,
      county,
      createdAt: clock.now(),
    });
  }
  return { countyId, townshipId };
}

export async function findTownship(townshipId: string): Promise<TownshipDoc | undefined> {
  return (await Township.findById(townshipId).lean<TownshipDoc>()) ?? undefined;
}

export async function findCounty(countyId: string): Promise<CountyDoc | undefined> {
  return (await County.findById(countyId).lean<CountyDoc>()) ?? undefined;
}

export async function requireTownship(townshipId: string): Promise<TownshipDoc> {
  const t = await findTownship(townshipId);
  if (!t) throw notFound('township');
  return t;
}

/** Townships, by county then name (a report-sized read). */
export async function listTownshipDocs(
  filter: { countyId?: string; ids?: string[] } = {},
): Promise<TownshipDoc[]> {
  if (filter.ids) {
    const docs = await Promise.all(filter.ids.map((id) => findTownship(id)));
    return docs.filter((d): d is TownshipDoc => Boolean(d));
  }
  const q = filter.countyId ? { countyId: filter.countyId } : {};
  const docs = await Township.find(q).limit(TOWNSHIPS_MAX).lean<TownshipDoc[]>();
  return docs.sort(
    (a, b) =>
      a.county.localeCompare(b.county, 'zh') ||
      a.name.localeCompare(b.name, 'zh') ||
      a._id.localeCompare(b._id),
  );
}

export async function listCounties(): Promise<CountyDoc[]> {
  const docs = await County.find({}).limit(COUNTIES_MAX).lean<CountyDoc[]>();
  return docs.sort((a, b) => a.name.localeCompare(b.name, 'zh') || a._id.localeCompare(b._id));
}

const townshipVillages = new AppendChain<TownshipVillagesLinkDoc>(
  TownshipVillages,
  'township-villages',
);

/** LV3: adds a village to its township's list, once (idempotent). */
export async function addVillageToTownship(townshipId: string, villageId: string): Promise<void> {
  await townshipVillages.append(townshipId, { type: 'village', id: villageId }, (head) => ({
    villageIds: [...(head?.villageIds ?? []), villageId],
  }));
}

/**
 * The ids of a township station's villages: the head of its list, read by primary key (this is
 * read with every request of a township user). May name a village whose create was refused.
 */
export async function villageIdsOfTownship(townshipId: string): Promise<string[]> {
  return [...((await townshipVillages.head(townshipId))?.villageIds ?? [])].sort();
}
