/**
 * The catalogue and stock of a points supermarket.
 *
 * Invariants:
 * - ST1 stock never goes below 0: every change is a movement appended to the item's chain, and a
 *   take is refused (`out_of_stock`) against the true head (append-chain C1), never against a
 *   stale read.
 * - ST2 a redemption takes an item at most once and gives it back at most once: the take's source
 *   is (`take`, redemptionId:itemId) and the give-back's (`give`, redemptionId:itemId), both
 *   unique; the give-back returns exactly what the take took. A `void` is a zero take that
 *   recovery writes to fence off a take that has not happened yet (then it never can).
 * - ST3 stock is never edited in place: restocking is a movement too, once per idempotency key.
 */
import assert from 'node:assert/strict';
import { Types } from 'mongoose';
import { AppendChain, type ChainLink } from '../../platform/append-chain';
import { findLeanById } from '../../platform/db';
import { DomainError, isDuplicateKeyError, notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { canReadStore, findStore } from './stores.service';
import {
  Item,
  StockMovement,
  type ItemDoc,
  type MovementKind,
  type StockMovementDoc,
} from './items.model';
import type { StoreDoc } from './stores.model';
import { ConfigCache } from '../../platform/config-cache';
import type { z } from '../../platform/validation';
import type { itemSchema, movementSchema } from './stores.schemas';

const stock = new AppendChain<StockMovementDoc>(StockMovement, 'stock', { groupCommit: true });

/** Items per store listed at once: a village supermarket stocks tens of goods, not thousands. */
export const ITEMS_PER_STORE_MAX = 2000;

/** An item as the API shows it: the shape `itemSchema` declares. */
export type ItemView = z.infer<typeof itemSchema>;

/** A stock movement as the API shows it: the shape `movementSchema` declares. */
export type MovementView = z.infer<typeof movementSchema>;

export const itemIdOf = (storeId: string, sku: string): string => `${storeId}:${sku}`;

const toItemView = (i: ItemDoc, stockNow: number): ItemView => ({
  id: i._id,
  storeId: i.storeId,
  sku: i.sku,
  name: i.name,
  points: i.points,
  stock: stockNow,
  createdAt: i.createdAt.toISOString(),
  updatedAt: i.updatedAt.toISOString(),
});

export function toMovementView(m: StockMovementDoc): MovementView {
  const v: MovementView = {
    seq: m.seq,
    kind: m.kind,
    delta: m.delta,
    stockAfter: m.stockAfter,
    sourceType: m.sourceType,
    sourceId: m.sourceId,
    createdAt: m.createdAt.toISOString(),
  };
  if (m.reason) v.reason = m.reason;
  return v;
}

/**
 * Loads a store the principal may see: an admin any store, a terminal only its own, a village's
 * supervisors the stores serving their village. Anything else is `not_found`, so a terminal
 * cannot learn what other stores exist.
 */
export async function storeInReach(p: Principal, storeId: string): Promise<StoreDoc> {
  if (p.role === 'terminal' && p.storeId !== storeId) throw notFound('store');
  const store = await findStore(storeId);
  if (!store || !canReadStore(p, store)) throw notFound('store');
  return store;
}

/** Current stock of an item: the head of its movement chain (0 for an empty chain). */
export async function stockOf(itemId: string): Promise<number> {
  return (await stock.head(itemId))?.stockAfter ?? 0;
}

/**
 * Reads an item's stock head into memory ahead of a take about to come (a redemption's, read
 * while its basket is priced): reads only; the chain's unique index still decides (AppendChain.warm).
 */
export const warmStock = (itemId: string): Promise<void> => stock.warm(itemId);

async function appendMovement(
  itemId: string,
  source: { type: string; id: string },
  kind: MovementKind,
  delta: number,
  reason?: string,
  opts: { fresh?: boolean; pointer?: boolean } = {},
) {
  return stock.append(
    itemId,
    source,
    (head) => {
      const before = head?.stockAfter ?? 0;
      const after = before + delta;
      if (after < 0)
        throw new DomainError('out_of_stock', 'Not enough stock.', { available: before });
      return { kind, delta, stockAfter: after, ...(reason ? { reason } : {}) };
    },
    opts,
  );
}

export interface NewItem {
  sku: string;
  name: string;
  points: number;
  stock: number;
}

/**
 * Adds an item with its opening stock. The opening stock is the item's first movement (source
 * `initial`:itemId). The same create sent again (same name, price and stock: a retry, perhaps
 * after a crash between the two inserts) finishes it and answers the item; any other create of
 * an existing sku is a `conflict`.
 */
export async function createItem(storeId: string, input: NewItem): Promise<ItemView> {
  if (!(await findStore(storeId))) throw notFound('store');
  const conflict = () =>
    new DomainError('item_sku_taken', `Item ${input.sku} already exists in this store.`);
  let item: ItemDoc;
  try {
    const [doc] = await Item.create([
      {
        _id: itemIdOf(storeId, input.sku),
        storeId,
        sku: input.sku,
        name: input.name,
        points: input.points,
      },
    ]);
    item = doc!.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const existing = await findItemBySku(storeId, input.sku);
    if (!existing || existing.name !== input.name || existing.points !== input.points)
      throw conflict();
    item = existing;
  }
  const itemId = item._id;
  const { link, created } = await appendMovement(
    itemId,
    { type: 'initial', id: itemId },
    'initial',
    input.stock,
    '开业库存',
  );
  // Another create of this sku opened it with another stock: that one won.
  if (!created && link.delta !== input.stock) throw conflict();
  return toItemView(item, await stockOf(itemId));
}

export async function findItemBySku(storeId: string, sku: string): Promise<ItemDoc | undefined> {
  return (await Item.findById(itemIdOf(storeId, sku)).lean<ItemDoc>()) ?? undefined;
}

/** Items of a store by sku, for pricing a basket (by `_id`). */
/** Items and their prices by id, cached (platform/config-cache.ts: a new price is seen at once). */
const cachedItems = new ConfigCache<ItemDoc>('store items');

export async function findItemsBySkus(
  storeId: string,
  skus: string[],
): Promise<Map<string, ItemDoc>> {
  // One cached `_id` read per item (no `$in`: FerretDB scans for anything but a lone `_id`).
  const docs = await Promise.all(
    skus.map((sku) => {
      const id = itemIdOf(storeId, sku);
      return cachedItems.get(id, async () => (await findLeanById<ItemDoc>(Item, id)) ?? undefined);
    }),
  );
  return new Map(
    docs
      .filter((d): d is ItemDoc => d !== undefined && d.storeId === storeId)
      .map((d) => [d.sku, d]),
  );
}

export async function listItems(p: Principal, storeId: string): Promise<ItemView[]> {
  await storeInReach(p, storeId);
  const docs = await Item.find({ storeId })
    .sort({ sku: 1 })
    .limit(ITEMS_PER_STORE_MAX)
    .lean<ItemDoc[]>();
  return Promise.all(docs.map(async (d) => toItemView(d, await stockOf(d._id))));
}

export async function getItem(p: Principal, storeId: string, sku: string): Promise<ItemView> {
  await storeInReach(p, storeId);
  const item = await findItemBySku(storeId, sku);
  if (!item) throw notFound('item');
  return toItemView(item, await stockOf(item._id));
}

/**
 * Changes an item's name or price. Redemptions keep the price they were made at (it is copied
 * into the redemption), so a price change never alters a past receipt.
 */
export async function updateItem(
  storeId: string,
  sku: string,
  patch: { name?: string; points?: number },
): Promise<ItemView> {
  const item = await findItemBySku(storeId, sku);
  if (!item) throw notFound('item');
  await Item.updateOne({ _id: item._id }, { $set: patch });
  const fresh = (await Item.findById(item._id).lean<ItemDoc>())!;
  return toItemView(fresh, await stockOf(fresh._id));
}

/**
 * Adds stock as a movement. With an idempotency key the same restock happens once (the key is
 * the movement's source); the key with another quantity is `idempotency_key_reused`.
 */
export async function restockItem(
  p: Principal,
  storeId: string,
  sku: string,
  input: { qty: number; reason?: string },
  idempotencyKey: string | undefined,
): Promise<{ item: ItemView; movement: MovementView }> {
  const item = await findItemBySku(storeId, sku);
  if (!item) throw notFound('item');
  const itemId = item._id;
  const sourceId = idempotencyKey
    ? `${itemId}:${p.id}:${idempotencyKey}`
    : new Types.ObjectId().toHexString();
  const { link, created } = await appendMovement(
    itemId,
    { type: 'restock', id: sourceId },
    'restock',
    input.qty,
    input.reason ?? '补货',
  );
  if (!created && (link.delta !== input.qty || (input.reason ?? '补货') !== link.reason)) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was used for a different restock.',
    );
  }
  return { item: toItemView(item, await stockOf(itemId)), movement: toMovementView(link) };
}

export async function listMovements(
  p: Principal,
  storeId: string,
  sku: string,
  after: number,
  limit: number,
) {
  await storeInReach(p, storeId);
  const item = await findItemBySku(storeId, sku);
  if (!item) throw notFound('item');
  const page = await stock.list(item._id, after, limit);
  return { items: page.items.map(toMovementView), next: page.next };
}

const takeSource = (redemptionId: string, itemId: string) => ({
  type: 'take',
  id: `${redemptionId}:${itemId}`,
});

/** A take: `taken` with its link's `_id` (a chain link, `<chain>#<seq>`), or fenced off. */
export type TakeResult = { state: 'taken'; qty: number; linkId: string } | { state: 'voided' };

/**
 * Takes `qty` units for a redemption, once (ST2). Throws `out_of_stock` (details: `available`)
 * having changed nothing. Returns `voided` when recovery has fenced this take off already: the
 * redemption was abandoned and must not go on. No source pointer is written: the redemption
 * records the take's link id (its settled event), and recovery, which may not know it, finds
 * the take through the source index (a fence's refused insert) at the price of a scan.
 */
export async function takeStock(
  itemId: string,
  redemptionId: string,
  qty: number,
): Promise<TakeResult> {
  assert.ok(Number.isSafeInteger(qty) && qty > 0);
  // The request's own take under the redemption id it claimed: nothing to look up first.
  const { link } = await appendMovement(
    itemId,
    takeSource(redemptionId, itemId),
    'take',
    -qty,
    undefined,
    { fresh: true, pointer: false },
  );
  return link.kind === 'void'
    ? { state: 'voided' }
    : { state: 'taken', qty: -link.delta, linkId: link._id };
}

/**
 * Recovery's fence: makes sure no take can happen any more for this redemption and item. Writes
 * a zero `void` take unless the take already happened; returns what is there now.
 */
export async function fenceStockTake(itemId: string, redemptionId: string): Promise<TakeResult> {
  const { link } = await stock.append(itemId, takeSource(redemptionId, itemId), (head) => ({
    kind: 'void',
    delta: 0,
    stockAfter: head?.stockAfter ?? 0,
  }));
  return link.kind === 'void'
    ? { state: 'voided' }
    : { state: 'taken', qty: -link.delta, linkId: link._id };
}

/**
 * How a give-back finds the take: `known`, the take's link id the redemption recorded (null: it
 * recorded that nothing was taken); else through the source pointer, and with `surely` (the take
 * is known to have happened, e.g. a confirmed redemption) by a scan when there is no pointer.
 */
export interface TakeLookup {
  known?: string | null;
  surely?: boolean;
}

/** The take of `source` on a chain, found as `how` says (the stock's and the allowance's). */
export async function findTake<L extends ChainLink>(
  chain: AppendChain<L>,
  source: { type: string; id: string },
  how: TakeLookup,
): Promise<L | undefined> {
  const taken =
    how.known === null
      ? undefined
      : how.known !== undefined
        ? ((await chain.byId(how.known)) ?? (await chain.findBySource(source, true)))
        : await chain.findBySource(source, how.surely ?? false);
  if (taken) assert.ok(taken.sourceType === source.type && taken.sourceId === source.id);
  return taken;
}

/** Gives back what the redemption took of this item, once (ST2); nothing when it took nothing. */
export async function giveBackStock(
  itemId: string,
  redemptionId: string,
  reason: string,
  how: TakeLookup = {},
): Promise<void> {
  const source = takeSource(redemptionId, itemId);
  const taken = await findTake(stock, source, how);
  if (!taken || taken.kind !== 'take' || taken.delta === 0) return;
  await appendMovement(
    itemId,
    { type: 'give', id: `${redemptionId}:${itemId}` },
    'give',
    -taken.delta,
    reason,
  );
}
