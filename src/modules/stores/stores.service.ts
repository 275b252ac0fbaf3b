/**
 * Stores and terminals. A terminal's secret is generated here, returned once, and kept only as
 * a scrypt hash; revoking a terminal makes its tokens useless at once (principals are loaded
 * on every request). A secret can be rotated (the old one stops working for sign-in) and a
 * terminal revoked; items and stock are in items.service.ts.
 */
import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { hashSecret } from '../../platform/auth';
import { findLeanById } from '../../platform/db';
import { DomainError, notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { countStoredVillages } from '../villages/villages.service';
import { Store, Terminal, type StoreDoc, type TerminalDoc } from './stores.model';
import { ConfigCache } from '../../platform/config-cache';
import type { z } from '../../platform/validation';
import type { storeSchema, terminalSchema } from './stores.schemas';

/** A store as the API shows it: the shape `storeSchema` declares. */
export type StoreView = z.infer<typeof storeSchema>;

const toStoreView = (s: StoreDoc): StoreView => ({
  id: s._id.toHexString(),
  name: s.name,
  villageIds: s.villageIds,
  createdAt: s.createdAt.toISOString(),
});

/** Checks that every village id exists; throws validation_failed naming the first that does not. */
export async function assertVillagesExist(villageIds: string[]): Promise<void> {
  const unique = [...new Set(villageIds)];
  const found = await countStoredVillages(unique);
  if (found !== unique.length) {
    throw new DomainError('validation_failed', 'Some villages do not exist.', {
      errors: [{ path: 'villageIds', message: 'unknown village id' }],
    });
  }
}

export async function createStore(input: {
  name: string;
  villageIds: string[];
}): Promise<StoreView> {
  await assertVillagesExist(input.villageIds);
  const [doc] = await Store.create([
    { name: input.name, villageIds: [...new Set(input.villageIds)] },
  ]);
  return toStoreView(doc!.toObject());
}

/** Stores by id, cached (platform/config-cache.ts: every change is seen at once). */
const cachedStores = new ConfigCache<StoreDoc>('stores');

export async function findStore(storeId: string): Promise<StoreDoc | undefined> {
  if (!Types.ObjectId.isValid(storeId)) return undefined;
  return cachedStores.get(
    storeId,
    async () => (await findLeanById<StoreDoc>(Store, storeId)) ?? undefined,
  );
}

/** The terminal a client id belongs to (sign-in), read fresh. */
export async function findTerminalByClientId(clientId: string): Promise<TerminalDoc | undefined> {
  return (await Terminal.findOne({ clientId }).lean<TerminalDoc>()) ?? undefined;
}

/** A terminal by id, read fresh (callers cache it as they need). */
export async function findTerminalById(terminalId: string): Promise<TerminalDoc | undefined> {
  return (await findLeanById<TerminalDoc>(Terminal, terminalId)) ?? undefined;
}

/** Creates a terminal for a store; the secret in the result is never shown again. */
export async function createTerminal(
  storeId: string,
  kdfLog2N: number,
): Promise<{ id: string; clientId: string; clientSecret: string; storeId: string }> {
  if (!(await findStore(storeId))) throw notFound('store');
  const clientId = `term_${randomBytes(9).toString('hex')}`;
  const clientSecret = randomBytes(32).toString('base64url');
  const [doc] = await Terminal.create([
    { clientId, secretHash: await hashSecret(clientSecret, kdfLog2N), storeId },
  ]);
  return { id: doc!._id.toHexString(), clientId, clientSecret, storeId };
}

/** A terminal as the API shows it (never its secret): the shape `terminalSchema` declares. */
export type TerminalView = z.infer<typeof terminalSchema>;

const toTerminalView = (t: TerminalDoc): TerminalView => ({
  id: t._id.toHexString(),
  clientId: t.clientId,
  storeId: t.storeId,
  createdAt: t.createdAt.toISOString(),
  revokedAt: t.revokedAt ? t.revokedAt.toISOString() : null,
  secretRotatedAt: t.secretRotatedAt ? t.secretRotatedAt.toISOString() : null,
  tokensRevokedAt: t.tokensRevokedAt ? t.tokensRevokedAt.toISOString() : null,
});

/** Stores, by id, a page at a time (admin; `servingVillageId`: only the stores serving that village). */
export async function listStores(
  q: { after?: string; limit?: number },
  servingVillageId?: string,
): Promise<{ items: StoreView[]; next: string | null }> {
  const limit = q.limit ?? 100;
  const filter: Record<string, unknown> = q.after
    ? { _id: { $gt: new Types.ObjectId(q.after) } }
    : {};
  if (servingVillageId) filter.villageIds = servingVillageId;
  const docs = await Store.find(filter)
    .sort({ _id: 1 })
    .limit(limit + 1)
    .lean<StoreDoc[]>();
  const items = docs.slice(0, limit).map(toStoreView);
  return { items, next: docs.length > limit ? items[items.length - 1]!.id : null };
}

/**
 * Whether a principal may read a store's records: the county office any store, a terminal its
 * own, a village's supervisors (监督运营) the stores that serve their village (stock and sales).
 */
export function canReadStore(p: Principal, s: Pick<StoreDoc, '_id' | 'villageIds'>): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'terminal') return p.storeId === s._id.toHexString();
  if (p.role === 'supervisor') return Boolean(p.villageId) && s.villageIds.includes(p.villageId!);
  return false;
}

/** A store the principal may see (admin: any; terminal: its own; supervisor: serving its village), else `not_found`. */
export async function getStore(p: Principal, storeId: string): Promise<StoreView> {
  const s = await findStore(storeId);
  if (!s || !canReadStore(p, s)) throw notFound('store');
  return toStoreView(s);
}

export async function listTerminals(storeId: string): Promise<TerminalView[]> {
  if (!(await findStore(storeId))) throw notFound('store');
  const docs = await Terminal.find({ storeId }).sort({ _id: 1 }).limit(1000).lean<TerminalDoc[]>();
  return docs.map(toTerminalView);
}

async function terminalOfStore(storeId: string, terminalId: string): Promise<TerminalDoc> {
  const t = Types.ObjectId.isValid(terminalId)
    ? await Terminal.findById(terminalId).lean<TerminalDoc>()
    : null;
  if (!t || t.storeId !== storeId) throw notFound('terminal');
  return t;
}

/**
 * Replaces a terminal's secret; the new one is returned once and the old one stops working for
 * sign-in at once. Access tokens already issued stay valid until they expire (at most the token
 * lifetime, 15 minutes); revoke the terminal to cut those off as well. Two rotations at the same
 * moment both answer, and only the secret written last works: rotate from one place.
 */
export async function rotateTerminalSecret(
  storeId: string,
  terminalId: string,
  kdfLog2N: number,
): Promise<{ id: string; clientId: string; clientSecret: string; storeId: string }> {
  const t = await terminalOfStore(storeId, terminalId);
  if (t.revokedAt)
    throw new DomainError('terminal_revoked', 'This terminal is revoked; register a new one.');
  const clientSecret = randomBytes(32).toString('base64url');
  await Terminal.updateOne(
    { _id: t._id },
    { $set: { secretHash: await hashSecret(clientSecret, kdfLog2N), secretRotatedAt: new Date() } },
  );
  return { id: t._id.toHexString(), clientId: t.clientId, clientSecret, storeId };
}

/**
 * Revokes a terminal: its secret and every token it holds stop working at once (principals are
 * loaded on every request). Revoking twice is harmless and keeps the first time.
 */
export async function revokeTerminal(storeId: string, terminalId: string): Promise<TerminalView> {
  const t = await terminalOfStore(storeId, terminalId);
  if (!t.revokedAt) await Terminal.updateOne({ _id: t._id }, { $set: { revokedAt: new Date() } });
  return toTerminalView((await Terminal.findById(t._id).lean<TerminalDoc>())!);
}

/**
 * Revokes every token the terminal holds (its next request is 401) without revoking the
 * terminal: it signs in again with its secret. After a secret leaked, rotate the secret, then
 * revoke the tokens, so nothing signed in with the old one keeps working.
 */
export async function revokeTerminalTokens(
  storeId: string,
  terminalId: string,
): Promise<TerminalView> {
  const t = await terminalOfStore(storeId, terminalId);
  await Terminal.updateOne(
    { _id: t._id },
    { $set: { tokensRevokedAt: new Date() }, $inc: { tokenVersion: 1 } },
  );
  return toTerminalView((await Terminal.findById(t._id).lean<TerminalDoc>())!);
}
