/**
 * The catalogue of a points supermarket and its stock.
 *
 * - `store_items`: `_id` is `<storeId>:<sku>`, so (storeId, sku) is unique (a retried create never
 *   makes a twin) and a basket is priced by `_id` look-ups (FerretDB 1.x scans the collection
 *   for any other filter). An item holds its name and points price only, not its stock.
 * - `stock_movements`: stock is the head of an append-only chain of movements per item
 *   (platform/append-chain.ts): `_id` = `<itemId>#<seq>` arbitrates races, so a take that
 *   would leave stock below 0 is refused against the true head, never granted twice; and
 *   (sourceType, sourceId) unique makes every take, give-back or restock happen once however
 *   often it is retried. A conditional `$inc` would not do: on FerretDB 1.x it is not atomic.
 */
import mongoose, { Schema } from 'mongoose';
import { invalidatesConfig } from '../../platform/config-cache';
import { chainIndexes, chainLinkFields, type ChainLink } from '../../platform/append-chain';

export interface ItemDoc {
  /** `<storeId>:<sku>` */
  _id: string;
  storeId: string;
  sku: string;
  name: string;
  /** Points price of one unit. */
  points: number;
  createdAt: Date;
  updatedAt: Date;
}

const itemSchema = new Schema<ItemDoc>(
  {
    _id: { type: String, required: true },
    storeId: { type: String, required: true },
    sku: { type: String, required: true },
    name: { type: String, required: true },
    points: { type: Number, required: true },
  },
  { collection: 'store_items', timestamps: true, versionKey: false, strict: 'throw' },
);
// A store's catalogue is listed by storeId (a scan on FerretDB; an index on MongoDB).
itemSchema.index({ storeId: 1 }, { name: 'store' });
// Cached configuration (platform/config-cache.ts): every write makes every process re-read it.
invalidatesConfig(itemSchema);
export const Item = mongoose.model<ItemDoc>('StoreItem', itemSchema);

/**
 * Why stock moved. `take`/`give` are a redemption's reservation and its give-back (on failure or
 * reversal); `void` is a zero take written by recovery to fence off a take that has not happened
 * yet (see redemption.service.ts).
 */
export const MOVEMENT_KINDS = ['initial', 'restock', 'take', 'give', 'void'] as const;
export type MovementKind = (typeof MOVEMENT_KINDS)[number];

export interface StockMovementDoc extends ChainLink {
  /** chain = the item id. */
  kind: MovementKind;
  delta: number;
  stockAfter: number;
  reason?: string;
}

const movementSchema = new Schema<StockMovementDoc>(
  {
    ...chainLinkFields,
    kind: { type: String, required: true, enum: MOVEMENT_KINDS },
    delta: { type: Number, required: true },
    stockAfter: { type: Number, required: true },
    reason: { type: String },
  },
  { collection: 'stock_movements', versionKey: false, strict: 'throw' },
);
chainIndexes(movementSchema);
export const StockMovement = mongoose.model<StockMovementDoc>('StockMovement', movementSchema);
