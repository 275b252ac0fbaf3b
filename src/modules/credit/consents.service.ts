/**
 * Consent to the credit reference (PIPL art. 23: separate consent for each recipient).
 *
 * Invariants:
 * - A consent names one cooperative (the recipient), the purpose, the fields shared and an
 *   expiry; it is given by the household itself or recorded by its village's clerk from a signed
 *   paper form (whose reference is kept). Nothing is ever edited or deleted.
 * - For a household and a cooperative, the latest consent given at or before an instant governs
 *   at that instant; it is valid when it has not expired and has no revocation at or before it.
 *   So a retried or renewed consent never leaves an older one that a revocation would miss.
 * - Revoking is a record (`_id` = consent id): a second revocation changes nothing.
 * - A household's consents to one cooperative form a chain whose end is the latest consent
 *   (consent-chain.ts), so the officer's look-up finds the governing consent and its revocation
 *   by lone `_id` reads: no scan of `credit_consents` on that path.
 * - Outside the caller's reach a consent or household is `not_found`, as if it did not exist.
 */
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError, isDuplicateKeyError, notFound, validationError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import type { z } from '../../platform/validation';
import { findCooperative } from '../cooperatives/cooperatives.service';
import { findHousehold, householdInReach } from '../households/households.service';
import type { HouseholdDoc } from '../households/households.model';
import { findVillage } from '../villages/villages.service';
import {
  Consent,
  CONSENT_FIELDS,
  ConsentRevocation,
  type ConsentDoc,
  type ConsentRevocationDoc,
} from './credit.model';
import type { consentSchema } from './credit.schemas';
import { appendConsent, chainHead } from './consent-chain';

/** What the cooperative may use the score for, unless the consent says otherwise. */
export const DEFAULT_PURPOSE = '农户信用评级及授信参考';
/** Longest consent accepted: renewals are cheap, and a forgotten consent should lapse. */
export const CONSENT_YEARS_MAX = 5;
const YEAR_MS = 365.25 * 86_400_000;

export type ConsentStatus = 'active' | 'expired' | 'revoked' | 'superseded';

/** A consent as the API shows it: the shape `consentSchema` declares. */
export type ConsentView = z.infer<typeof consentSchema>;

export interface NewConsent {
  householdId: string;
  cooperativeId: string;
  expiresAt: Date;
  formRef?: string;
  customerRef?: string;
  purpose?: string;
}

/** What validity needs of a consent (stored documents and export partitions alike). */
export interface ConsentTerms {
  id: string;
  grantedAt: number;
  expiresAt: number;
}

/** The governing consent of a set (same household and cooperative) at an instant: the latest given. */
function governing<T extends ConsentTerms>(consents: readonly T[], at: number): T | undefined {
  let best: T | undefined;
  for (const c of consents) {
    if (c.grantedAt > at) continue;
    if (!best || c.grantedAt > best.grantedAt || (c.grantedAt === best.grantedAt && c.id > best.id))
      best = c;
  }
  return best;
}

/**
 * The consent that lets the cooperative read the household at every one of `instants`, if any:
 * at each instant the governing consent must not have expired and must have no revocation at or
 * before it. Returns the governing consent at the last instant.
 */
export function consentValidAt<T extends ConsentTerms>(
  consents: readonly T[],
  revokedAt: (consentId: string) => number | undefined,
  instants: readonly number[],
): T | undefined {
  let chosen: T | undefined;
  for (const at of instants) {
    const c = governing(consents, at);
    if (!c || c.expiresAt <= at) return undefined;
    const r = revokedAt(c.id);
    if (r !== undefined && r <= at) return undefined;
    chosen = c;
  }
  return chosen;
}

const termsOf = (c: ConsentDoc): ConsentTerms => ({
  id: c._id.toHexString(),
  grantedAt: c.grantedAt.getTime(),
  expiresAt: c.expiresAt.getTime(),
});

/**
 * The latest consent this household gave the cooperative at or before `at` (valid or not): the
 * end of the pair's chain, read by `_id` (consent-chain.ts). When the clock stands before that
 * consent's grantedAt (moved back, or another machine's clock ahead), the rule itself over every
 * consent of the pair decides: a scan, but only then.
 */
async function latestConsent(
  householdId: string,
  cooperativeId: string,
  at: Date,
): Promise<ConsentTerms | undefined> {
  const head = await chainHead(householdId, cooperativeId);
  if (!head || head.grantedAt <= at.getTime()) return head;
  const all = await Consent.find({ householdId, cooperativeId }).lean<ConsentDoc[]>();
  return governing(all.map(termsOf), at.getTime());
}

/**
 * The consent that lets `cooperativeId` read this household at `at`, if any: the officer's
 * look-up asks this on every call, so it reads by lone `_id` only (the chain's end, then the
 * revocation of that consent).
 */
export async function validConsent(
  householdId: string,
  cooperativeId: string,
  at: Date,
): Promise<ConsentTerms | undefined> {
  const c = await latestConsent(householdId, cooperativeId, at);
  if (!c || c.expiresAt <= at.getTime()) return undefined;
  const rev = await ConsentRevocation.findById(c.id).lean<ConsentRevocationDoc>();
  return consentValidAt([c], () => rev?.revokedAt.getTime(), [at.getTime()]);
}

function statusOf(
  c: ConsentDoc,
  rev: ConsentRevocationDoc | undefined,
  latestId: string | undefined,
  now: Date,
): ConsentStatus {
  if (rev && rev.revokedAt.getTime() <= now.getTime()) return 'revoked';
  if (c.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (latestId && latestId !== c._id.toHexString()) return 'superseded';
  return 'active';
}

async function toViews(consents: ConsentDoc[]): Promise<ConsentView[]> {
  if (!consents.length) return [];
  const now = clock.now();
  const revs =
    consents.length === 1
      ? [
          await ConsentRevocation.findById(
            consents[0]!._id.toHexString(),
          ).lean<ConsentRevocationDoc>(),
        ]
      : await ConsentRevocation.find({
          _id: { $in: consents.map((c) => c._id.toHexString()) },
        }).lean<ConsentRevocationDoc[]>();
  const revById = new Map(revs.flatMap((r) => (r ? [[r._id, r] as const] : [])));
  // The latest consent of each pair, which supersedes the others.
  const latest = new Map<string, string | undefined>();
  for (const c of consents) {
    const key = `${c.householdId}|${c.cooperativeId}`;
    if (!latest.has(key))
      latest.set(key, (await latestConsent(c.householdId, c.cooperativeId, now))?.id);
  }
  return consents.map((c) => {
    const rev = revById.get(c._id.toHexString());
    const v: ConsentView = {
      id: c._id.toHexString(),
      householdId: c.householdId,
      cooperativeId: c.cooperativeId,
      recipient: c.recipient,
      purpose: c.purpose,
      fields: [...c.fields],
      grantedAt: c.grantedAt.toISOString(),
      expiresAt: c.expiresAt.toISOString(),
      method: c.method,
      recordedBy: c.recordedBy,
      status: statusOf(c, rev, latest.get(`${c.householdId}|${c.cooperativeId}`), now),
    };
    if (c.customerRef) v.customerRef = c.customerRef;
    if (c.formRef) v.formRef = c.formRef;
    if (rev) v.revokedAt = rev.revokedAt.toISOString();
    return v;
  });
}

async function viewOf(c: ConsentDoc): Promise<ConsentView> {
  return (await toViews([c]))[0]!;
}

/** The household a consent may be given or managed for by this principal (404 otherwise). */
async function householdFor(p: Principal, householdId: string): Promise<HouseholdDoc> {
  if (p.role === 'household') {
    const h = p.householdId === householdId ? await findHousehold(householdId) : undefined;
    if (!h) throw notFound('household');
    return h;
  }
  return householdInReach(p, householdId);
}

/** Records a consent given by the household, or a signed paper form recorded by its clerk. */
export async function createConsent(p: Principal, input: NewConsent): Promise<ConsentView> {
  if (p.role === 'clerk' && !input.formRef)
    throw validationError([
      { path: 'formRef', message: 'a clerk records a signed paper form: give its reference' },
    ]);
  if (p.role === 'household' && input.formRef)
    throw validationError([{ path: 'formRef', message: 'only a clerk records a paper form' }]);
  const household = await householdFor(p, input.householdId);
  const cooperative = await findCooperative(input.cooperativeId);
  if (!cooperative)
    throw validationError([{ path: 'cooperativeId', message: 'no such cooperative' }]);
  if (!cooperative.villageIds.includes(household.villageId)) {
    throw validationError([
      { path: 'cooperativeId', message: 'this cooperative does not serve the household’s village' },
    ]);
  }
  const now = clock.now();
  if (input.expiresAt.getTime() <= now.getTime())
    throw validationError([{ path: 'expiresAt', message: 'must be in the future' }]);
  if (input.expiresAt.getTime() > now.getTime() + CONSENT_YEARS_MAX * YEAR_MS) {
    throw validationError([
      { path: 'expiresAt', message: `at most ${CONSENT_YEARS_MAX} years ahead` },
    ]);
  }
  const doc = await appendConsent(
    {
      householdId: input.householdId,
      villageId: household.villageId,
      cooperativeId: input.cooperativeId,
      recipient: cooperative.name,
      purpose: input.purpose ?? DEFAULT_PURPOSE,
      fields: [...CONSENT_FIELDS],
      expiresAt: input.expiresAt,
      ...(input.customerRef ? { customerRef: input.customerRef } : {}),
      method: p.role === 'clerk' ? 'paper_form' : 'household',
      ...(input.formRef ? { formRef: input.formRef } : {}),
      recordedBy: p.id,
    },
    now,
  );
  return viewOf(doc);
}

/** A consent the principal may see: the household, its clerk, an admin, or the recipient's officer. */
async function consentInReach(p: Principal, consentId: string): Promise<ConsentDoc> {
  const c = Types.ObjectId.isValid(consentId)
    ? await Consent.findById(consentId).lean<ConsentDoc>()
    : null;
  if (!c) throw notFound('consent');
  const ok =
    p.role === 'admin' ||
    (p.role === 'household' && p.householdId === c.householdId) ||
    (p.role === 'clerk' && p.villageId === c.villageId) ||
    (p.role === 'officer' && p.cooperativeId === c.cooperativeId);
  if (!ok) throw notFound('consent');
  return c;
}

export async function getConsent(p: Principal, consentId: string): Promise<ConsentView> {
  return viewOf(await consentInReach(p, consentId));
}

/** Every consent a household gave (newest first), for the household, its clerk or an admin. */
export async function listConsents(p: Principal, householdId: string): Promise<ConsentView[]> {
  await householdFor(p, householdId);
  const docs = await Consent.find({ householdId }).lean<ConsentDoc[]>();
  docs.sort(
    (a, b) =>
      b.grantedAt.getTime() - a.grantedAt.getTime() ||
      b._id.toHexString().localeCompare(a._id.toHexString()),
  );
  return toViews(docs);
}

/** Withdraws a consent (the household, or its clerk from a signed withdrawal). Idempotent. */
export async function revokeConsent(p: Principal, consentId: string): Promise<ConsentView> {
  const c = await consentInReach(p, consentId);
  if (p.role === 'officer')
    throw new DomainError('forbidden', 'A cooperative cannot withdraw a household’s consent.');
  try {
    await ConsentRevocation.create([
      {
        _id: consentId,
        householdId: c.householdId,
        cooperativeId: c.cooperativeId,
        revokedAt: clock.now(),
        revokedBy: p.id,
        revokedByRole: p.role,
      },
    ]);
  } catch (err) {
    // Revoked already: the first revocation stands.
    if (!isDuplicateKeyError(err)) throw err;
  }
  return viewOf(c);
}

const FIELD_NAMES: Record<string, string> = {
  score: '信用参考分',
  grade: '等级',
  reasons: '主要原因',
  customerRef: '客户编号',
  headNameMasked: '户主姓名（部分隐去）',
  village: '所在村',
};
const STATUS_NAMES: Record<ConsentStatus, string> = {
  active: '有效',
  expired: '已过期',
  revoked: '已撤回',
  superseded: '已由新的授权替代',
};

/** Beijing time (UTC+8), as villagers read a date. */
function beijing(iso: string): string {
  const d = new Date(new Date(iso).getTime() + 8 * 3_600_000);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 16)}（北京时间）`;
}

/** The household's printable receipt (plain text, Simplified Chinese). */
export async function consentReceipt(p: Principal, consentId: string): Promise<string> {
  const c = await consentInReach(p, consentId);
  if (p.role === 'officer') throw notFound('consent');
  const v = await viewOf(c);
  const household = await findHousehold(c.householdId);
  const village = await findVillage(c.villageId);
  const lines = [
    '道德积分信用参考 · 个人信息授权回执',
    '====================================',
    `回执编号：${v.id}`,
    `授权农户：${household?.head ?? ''}（户号 ${v.householdId}${household ? `，积分卡号 ${household.cardNo}` : ''}）`,
    `所在村：${village?.name ?? c.villageId}`,
    `信息接收方：${v.recipient}`,
    `使用目的：${v.purpose}`,
    `共享内容：${v.fields.map((f) => FIELD_NAMES[f] ?? f).join('、')}`,
    `客户编号：${v.customerRef ?? '无'}`,
    `授权方式：${v.method === 'paper_form' ? `村文书依据本户签字的纸质授权书录入（授权书编号 ${v.formRef ?? ''}）` : '本户自行确认'}`,
    `授权时间：${beijing(v.grantedAt)}`,
    `有效期至：${beijing(v.expiresAt)}`,
    `当前状态：${STATUS_NAMES[v.status]}${v.revokedAt ? `（撤回时间 ${beijing(v.revokedAt)}）` : ''}`,
    '',
    '您的权利：',
    '1. 本授权只对上面写明的信息接收方有效，其他机构不能凭此查询。',
    '2. 您可以随时撤回本授权；撤回后该机构不能再查询或导出本户的信用参考分。',
    '3. 您可以随时查看本户自己的信用参考分和原因，以及每一次查询记录（谁、哪个机构、何时、为何查询）。',
    '4. 信用参考分只依据本户的积分记录和荣誉计算，不使用民族、宗教、健康、家庭关系等信息；',
    '   它只是贷款评级的参考之一，不是唯一依据。',
    '',
  ];
  return lines.join('\n');
}
