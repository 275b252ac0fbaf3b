import { id, line, obj, queryInt, z } from '../../platform/validation';
import { MOVEMENT_KINDS } from './items.model';

/** Stock and quantities are whole units; a village store holds at most a million of anything. */
export const STOCK_MAX = 1_000_000;
/** Points price of one unit: a bag of rice is tens of points, not millions. */
export const ITEM_POINTS_MAX = 100_000;
/** An item's name, in code points (emoji sequences allowed: shops name goods as they like). */
export const ITEM_NAME_MAX = 64;

export const SKU_RE = /^[A-Za-z0-9_-]{1,32}$/;
export const sku = () => z.string().regex(SKU_RE, '1–32 letters, digits, - or _');

export const storeIdParams = obj({ id: id() });
export const terminalParams = obj({ id: id(), terminalId: id() });
export const itemParams = obj({ id: id(), sku: sku() });

export const listStoresQuery = obj({ after: id().optional(), limit: queryInt(1, 500).optional() });

export const createItemBody = obj({
  sku: sku(),
  name: line(ITEM_NAME_MAX),
  points: z.number().int().min(1).max(ITEM_POINTS_MAX),
  stock: z.number().int().min(0).max(STOCK_MAX),
});

export const patchItemBody = obj({
  name: line(ITEM_NAME_MAX).optional(),
  points: z.number().int().min(1).max(ITEM_POINTS_MAX).optional(),
}).refine((b) => b.name !== undefined || b.points !== undefined, 'give name or points');

export const restockBody = obj({
  qty: z.number().int().min(1).max(STOCK_MAX),
  reason: line(200).optional(),
});

export const movementsQuery = obj({
  after: queryInt(0, 1_000_000_000).optional(),
  limit: queryInt(1, 500).optional(),
});

export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, '1–128 visible ASCII characters')
    .optional(),
});

export const storeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    villageIds: z.array(z.string()),
    createdAt: z.string(),
  })
  .openapi('Store');

export const itemSchema = z
  .object({
    id: z.string(),
    storeId: z.string(),
    sku: z.string(),
    name: z.string(),
    points: z.number().int(),
    stock: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('StoreItem');

export const movementSchema = z
  .object({
    seq: z.number().int(),
    kind: z.enum(MOVEMENT_KINDS),
    delta: z.number().int(),
    stockAfter: z.number().int(),
    reason: z.string().optional(),
    sourceType: z.string(),
    sourceId: z.string(),
    createdAt: z.string(),
  })
  .openapi('StockMovement');

export const terminalSchema = z
  .object({
    id: z.string(),
    clientId: z.string(),
    storeId: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
    secretRotatedAt: z.string().nullable(),
    tokensRevokedAt: z.string().nullable(),
  })
  .openapi('Terminal');

export const credentialsSchema = z
  .object({ id: z.string(), clientId: z.string(), clientSecret: z.string(), storeId: z.string() })
  .openapi('TerminalCredentials');
