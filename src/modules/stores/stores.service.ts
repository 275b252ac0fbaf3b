/**
 * Stores and terminals. A terminal's secret is generated here, returned once, and kept only as
 * a scrypt hash; revoking a terminal makes its tokens useless at once (principals are loaded
 * on every request).
 */
import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { hashSecret } from '../../platform/auth';
import { DomainError, notFound } from '../../platform/errors';
import { Village } from '../villages/villages.model';
import { Store, Terminal, type StoreDoc } from './stores.model';

export interface StoreView {
  id: string;
  name: string;
  villageIds: string[];
  createdAt: string;
}

const toStoreView = (s: StoreDoc): StoreView => ({ id: s._id.toHexString(), name: s.name, villageIds: s.villageIds, createdAt: s.createdAt.toISOString() });

/** Checks that every village id exists; throws validation_failed naming the first that does not. */
export async function assertVillagesExist(villageIds: string[]): Promise<void> {
  const unique = [...new Set(villageIds)];
  const found = await Village.countDocuments({ _id: { $in: unique.map((v) => new Types.ObjectId(v)) } });
  if (found !== unique.length) {
    throw new DomainError('validation_failed', 'Some villages do not exist.', { errors: [{ path: 'villageIds', message: 'unknown village id' }] });
  }
}

export async function createStore(input: { name: string; villageIds: string[] }): Promise<StoreView> {
  await assertVillagesExist(input.villageIds);
  const [doc] = await Store.create([{ name: input.name, villageIds: [...new Set(input.villageIds)] }]);
  return toStoreView(doc!.toObject());
}

export async function findStore(storeId: string): Promise<StoreDoc | undefined> {
  if (!Types.ObjectId.isValid(storeId)) return undefined;
  return (await Store.findById(storeId).lean<StoreDoc>()) ?? undefined;
}

/** Creates a terminal for a store; the secret in the result is never shown again. */
export async function createTerminal(storeId: string, kdfLog2N: number): Promise<{ id: string; clientId: string; clientSecret: string; storeId: string }> {
  if (!(await findStore(storeId))) throw notFound('store');
  const clientId = `term_${randomBytes(9).toString('hex')}`;
  const clientSecret = randomBytes(32).toString('base64url');
  const [doc] = await Terminal.create([{ clientId, secretHash: await hashSecret(clientSecret, kdfLog2N), storeId }]);
  return { id: doc!._id.toHexString(), clientId, clientSecret, storeId };
}
