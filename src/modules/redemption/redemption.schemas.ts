import { problemSchema } from '../../platform/http';
import { id, longText, obj, queryInt, z } from '../../platform/validation';
import { CARD_NO_RE } from '../households/households.schemas';
import { sku } from '../stores/stores.schemas';
import { BATCH_SIZE_MAX } from './redemption.service';

/** Lines per basket and units per line: a counter sale, not a wholesale order. */
export const LINES_MAX = 50;
export const QTY_MAX = 999;

export const PIN_RE = /^\d{4,6}$/;
const pin = () => z.string().regex(PIN_RE, '4–6 digits');
const cardNo = () => z.string().regex(CARD_NO_RE, '4–32 letters, digits or -');
const basketItems = () =>
  z
    .array(obj({ sku: sku(), qty: z.number().int().min(1).max(QTY_MAX) }))
    .min(1)
    .max(LINES_MAX);
/** An Idempotency-Key as the header takes it: 1–128 visible ASCII characters. */
const key = () => z.string().regex(/^[\x21-\x7e]{1,128}$/, '1–128 visible ASCII characters');

export const redeemBody = obj({ cardNo: cardNo(), items: basketItems(), pin: pin().optional() });

export const batchBody = obj({
  redemptions: z
    .array(
      obj({
        key: key(),
        offlineAt: z.string().datetime({ offset: true }),
        cardNo: cardNo(),
        items: basketItems(),
        pin: pin().optional(),
      }),
    )
    .min(1)
    .max(BATCH_SIZE_MAX),
});

export const idempotencyHeaderRequired = z.object({
  'idempotency-key': key(),
});

export const idParams = obj({ id: id() });
export const flagParams = obj({ id: id(), flagId: id() });

export const listQuery = obj({
  storeId: id().optional(),
  householdId: id().optional(),
  before: id().optional(),
  limit: queryInt(1, 200).optional(),
});

export const flagsQuery = obj({
  status: z.enum(['open', 'all']).optional(),
  before: id().optional(),
  limit: queryInt(1, 200).optional(),
});

export const resolveFlagBody = obj({ note: longText(500) });
export const setPinBody = obj({ pin: pin() });

export const lineSchema = z.object({
  sku: z.string(),
  name: z.string(),
  qty: z.number().int(),
  pointsEach: z.number().int(),
  points: z.number().int(),
});
const storeRef = z.object({ id: z.string(), name: z.string() });

export const redemptionSchema = z
  .object({
    id: z.string(),
    householdId: z.string(),
    points: z.number().int(),
    spendableAfter: z.number().int(),
    items: z.array(lineSchema),
    receiptNo: z.string(),
    store: storeRef,
    terminalId: z.string(),
    cardNo: z.string(),
    time: z.string(),
    offline: z.boolean(),
  })
  .openapi('Redemption');

export const redemptionRecordSchema = redemptionSchema
  .omit({ spendableAfter: true })
  .extend({
    status: z.enum(['pending', 'confirmed', 'failed', 'reversed']),
    spendableAfter: z.number().int().nullable(),
    failure: z.object({ code: z.string(), detail: z.string() }).nullable(),
    reversal: z.object({ at: z.string(), spendableAfter: z.number().int() }).nullable(),
    createdAt: z.string(),
  })
  .openapi('RedemptionRecord');

/** A reversal: the redemption's own fields (picked, not listed twice), under its id and time. */
export const reversalSchema = z
  .object({
    redemptionId: z.string(),
    ...redemptionSchema.pick({
      householdId: true,
      points: true,
      spendableAfter: true,
      items: true,
      receiptNo: true,
      store: true,
    }).shape,
    reversedAt: z.string(),
  })
  .openapi('RedemptionReversal');

export const batchResultSchema = z
  .object({
    results: z.array(
      z.object({
        key: z.string(),
        /** redeemed: 201; flagged: could not be charged, listed for the store manager; retry: send it again later; rejected: fix the entry. */
        outcome: z.enum(['redeemed', 'flagged', 'retry', 'rejected']),
        status: z.number().int(),
        /** The redemption (201) or the problem document, as the single request would answer. */
        body: z.union([redemptionSchema, problemSchema]),
      }),
    ),
  })
  .openapi('RedemptionBatchResult');

export const flagSchema = z
  .object({
    id: z.string(),
    storeId: z.string(),
    terminalId: z.string(),
    key: z.string(),
    redemptionId: z.string().nullable(),
    householdId: z.string().nullable(),
    cardNo: z.string(),
    items: z.array(z.object({ sku: z.string(), qty: z.number().int() })),
    points: z.number().int().nullable(),
    offlineAt: z.string(),
    code: z.string(),
    detail: z.string(),
    createdAt: z.string(),
    resolution: z.object({ at: z.string(), by: z.string(), note: z.string() }).nullable(),
  })
  .openapi('RedemptionFlag');

export const pinStatusSchema = z
  .object({ householdId: z.string(), pinSet: z.boolean(), lockedUntil: z.string().nullable() })
  .openapi('CardPinStatus');

export const cardParams = obj({ cardNo: cardNo() });
export const cardSchema = z
  .object({
    cardNo: z.string(),
    householdId: z.string(),
    headMasked: z
      .string()
      .openapi({ description: 'Head of household, first and last character only (张*明)' }),
    villageName: z.string(),
    spendable: z.number().int(),
    pinSet: z.boolean(),
    lockedUntil: z.string().nullable(),
    /** The village's daily redemption limit at this store, if it sets one. */
    dailyLimit: z.number().int().nullable(),
  })
  .openapi('CounterCard');

export const dayReportQuery = obj({
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD (Asia/Shanghai)')
    .optional(),
});
export const dayReportSchema = z
  .object({
    storeId: z.string(),
    storeName: z.string(),
    /** Calendar day in Asia/Shanghai. */
    day: z.string(),
    sales: z.object({ count: z.number().int(), points: z.number().int() }),
    reversed: z.object({ count: z.number().int(), points: z.number().int() }),
    refused: z.number().int(),
    /** Per item: units and points sold (reversals excluded), with the current stock. */
    items: z.array(
      z.object({
        sku: z.string(),
        name: z.string(),
        qtySold: z.number().int(),
        pointsSold: z.number().int(),
        stock: z.number().int(),
      }),
    ),
    redemptions: z.array(
      z.object({
        id: z.string(),
        receiptNo: z.string(),
        time: z.string(),
        cardNo: z.string(),
        points: z.number().int(),
        status: z.enum(['pending', 'confirmed', 'failed', 'reversed']),
        failureCode: z.string().nullable(),
      }),
    ),
  })
  .openapi('StoreDayReport');
