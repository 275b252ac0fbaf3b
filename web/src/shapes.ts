/**
 * The API's answers as the pages read them, derived from the service's own zod schemas (the ones
 * /openapi.json is made from), so a page cannot keep a hand copy that drifts from what a route
 * returns. Types only: every import here is `import type`, which esbuild drops, so the bundles
 * carry none of the service's code (web/tsconfig.json type-checks the schemas with the pages).
 *
 * Only schemas are imported, never the service's View interfaces (those are being turned into
 * `z.infer` of these same schemas).
 */
import type { z } from 'zod';
import type {
  consentingHouseholdSchema,
  consentSchema,
  creditSchema,
  exportStatusSchema,
  historySchema,
} from '../../src/modules/credit/credit.schemas';
import type {
  cardSchema,
  dayReportSchema,
  redemptionSchema,
} from '../../src/modules/redemption/redemption.schemas';
import type {
  accountSchema,
  entrySchema,
  householdSchema,
} from '../../src/modules/households/households.schemas';
import type { inquirySchema } from '../../src/modules/inquiries/inquiries.schemas';
import type { effectiveRuleSchema, ruleVersionSchema } from '../../src/modules/rules/rules.schemas';
import type {
  itemSchema,
  movementSchema,
  storeSchema,
} from '../../src/modules/stores/stores.schemas';
import type {
  orderListSchema,
  orderSchema,
} from '../../src/modules/service-orders/service-orders.schemas';
import type { submissionSchema } from '../../src/modules/submissions/submissions.schemas';
import type { userListItemSchema } from '../../src/modules/users/users.schemas';
import type { hoursSchema, volunteerSchema } from '../../src/modules/volunteers/volunteers.schemas';
import type { villageSchema } from '../../src/modules/villages/villages.schemas';

export type Consent = z.infer<typeof consentSchema>;
export type Household = z.infer<typeof householdSchema>;
export type Account = z.infer<typeof accountSchema>;
export type Entry = z.infer<typeof entrySchema>;
export type Inquiry = z.infer<typeof inquirySchema>;
/** A rule as it applies in a village on a day (GET /v1/rules?villageId=). */
export type Rule = z.infer<typeof effectiveRuleSchema>;
/** One version of a rule in the county's catalogue (GET /v1/rules/{code}/versions). */
export type RuleVersion = z.infer<typeof ruleVersionSchema>;
export type Store = z.infer<typeof storeSchema>;
export type StoreItem = z.infer<typeof itemSchema>;
export type StockMovement = z.infer<typeof movementSchema>;
export type Submission = z.infer<typeof submissionSchema>;
export type UserListItem = z.infer<typeof userListItemSchema>;
export type Village = z.infer<typeof villageSchema>;
/** A service order as a list shows it (GET /v1/service-orders). */
export type OrderRow = z.infer<typeof orderListSchema>['items'][number];
/** A service order read whole (GET /v1/service-orders/{id}). */
export type Order = z.infer<typeof orderSchema>;
export type Volunteer = z.infer<typeof volunteerSchema>;
/** A volunteer's hours record, a chain of links (GET /v1/volunteers/{id}/hours). */
export type Hours = z.infer<typeof hoursSchema>;
export type HoursLink = Hours['items'][number];
/** A card as the counter reads it (GET /v1/counter/cards/{cardNo}). */
export type CounterCard = z.infer<typeof cardSchema>;
export type Redemption = z.infer<typeof redemptionSchema>;
/** A store's day at the counter (日结). */
export type StoreDayReport = z.infer<typeof dayReportSchema>;
/** A household that consents to the officer's cooperative (the officer's search). */
export type ConsentingHousehold = z.infer<typeof consentingHouseholdSchema>;
export type CreditReference = z.infer<typeof creditSchema>;
export type CreditHistory = z.infer<typeof historySchema>;
export type CreditExport = z.infer<typeof exportStatusSchema>;
