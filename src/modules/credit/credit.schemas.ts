/** Request and response schemas of the credit reference (also the OpenAPI source). */
import { id, line, obj, z } from '../../platform/validation';
import { EXPORT_VILLAGES_MAX } from './credit.exports';
import { HISTORY_MONTHS_MAX } from './credit.service';

/** References a cooperative or a village office writes on paper: no spaces, quotes or formulas. */
const reference = () =>
  z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9_./-]{0,63}$/,
      'letters, digits and _ . / - (1–64, starting with a letter or digit)',
    );
/** An ISO-8601 instant with a zone, or a date (00:00 UTC). */
const instant = () =>
  z
    .string()
    .max(40)
    .regex(
      /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/,
      'a date (YYYY-MM-DD) or an ISO-8601 time with a zone',
    );

export const idParams = obj({ id: id() });

export const createConsentBody = obj({
  householdId: id(),
  cooperativeId: id(),
  expiresAt: instant(),
  /** Reference of the signed paper form (clerk only). */
  formRef: reference().optional(),
  /** The cooperative's own customer number for the household, carried into exports. */
  customerRef: reference().optional(),
  /** Defaults to 农户信用评级及授信参考. */
  purpose: line(200).optional(),
});

export const consentSchema = z
  .object({
    id: z.string(),
    householdId: z.string(),
    cooperativeId: z.string(),
    recipient: z.string(),
    purpose: z.string(),
    fields: z.array(z.string()),
    grantedAt: z.string(),
    expiresAt: z.string(),
    customerRef: z.string().optional(),
    method: z.enum(['household', 'paper_form']),
    formRef: z.string().optional(),
    recordedBy: z.string(),
    status: z.enum(['active', 'expired', 'revoked', 'superseded']),
    revokedAt: z.string().optional(),
  })
  .openapi('Consent');

export const listConsentsQuery = obj({ householdId: id() });

export const lookupQuery = obj({
  /** Date or instant the score is as of (default: a few seconds ago). */
  asOf: line(40).optional(),
  /** Why the officer looks (required for officers; recorded in the inquiry). */
  purpose: line(400).optional(),
  modelVersion: line(40).optional(),
});

export const reasonSchema = z.object({
  code: z.string(),
  text: z.string(),
  impact: z.number().int(),
});
export const creditSchema = z
  .object({
    householdId: z.string(),
    score: z.number().int().min(0).max(1000),
    grade: z.enum(['优秀', '良好', '中等', '一般', '较差']),
    reasons: z.array(reasonSchema),
    asOf: z.string(),
    modelVersion: z.string(),
  })
  .openapi('CreditReference');

export const createExportBody = obj({
  villageIds: z.array(id()).min(1).max(EXPORT_VILLAGES_MAX),
  asOf: instant().optional(),
});

export const exportStatusSchema = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'running', 'done', 'failed']),
    progress: z.number().int().min(0).max(100),
    rows: z.number().int().optional(),
    villageIds: z.array(z.string()),
    asOf: z.string(),
    modelVersion: z.string(),
    createdAt: z.string(),
    error: z.string().optional(),
  })
  .openapi('CreditExport');

export const manifestSchema = z
  .object({
    exportId: z.string(),
    cooperativeId: z.string(),
    villageIds: z.array(z.string()),
    sha256: z.string(),
    rows: z.number().int(),
    asOf: z.string(),
    modelVersion: z.string(),
    keyId: z.string(),
    algorithm: z.literal('Ed25519'),
    signature: z.string(),
  })
  .openapi('CreditExportManifest');

export const jwksSchema = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal('OKP'),
        crv: z.literal('Ed25519'),
        x: z.string(),
        kid: z.string(),
        use: z.literal('sig'),
        alg: z.literal('EdDSA'),
      }),
    ),
  })
  .openapi('Jwks');

export const historyQuery = obj({
  /** Why the officer looks (required for officers; recorded in the inquiry). */
  purpose: z.string().max(400).optional(),
  months: z
    .string()
    .regex(/^\d{1,2}$/, 'a whole number of months')
    .transform(Number)
    .pipe(z.number().int().min(2).max(HISTORY_MONTHS_MAX))
    .optional(),
});

export const historySchema = z
  .object({
    householdId: z.string(),
    modelVersion: z.string(),
    points: z.array(
      z.object({ month: z.string(), asOf: z.string(), score: z.number().int(), grade: z.string() }),
    ),
  })
  .openapi('CreditHistory');

export const officerSearchQuery = obj({ q: line(32).optional() });
export const consentingHouseholdSchema = z
  .object({
    householdId: z.string(),
    cardNo: z.string(),
    headMasked: z.string(),
    villageId: z.string(),
    villageName: z.string(),
    consentId: z.string(),
    consentExpiresAt: z.string(),
  })
  .openapi('ConsentingHousehold');
