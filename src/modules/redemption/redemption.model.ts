/**
 * Redemption storage. No record here is ever edited in place except the idempotency key's
 * completion off the hot path (pending → done or dropped), a flag's resolution hint and an
 * in-flight batch that recovery takes markers out of (inflight.model.ts); every decision is an
 * insert that a unique index arbitrates. Records are read by `_id` wherever a request or recovery
 * needs them, because FerretDB 1.x scans the whole collection for any other filter; so the
 * natural keys are the `_id`s:
 *
 * - `redemption_keys` _id = `<terminalId>:<key>#<generation>`: the Idempotency-Key claim,
 *   inserted FIRST. The one request whose insert wins does the work; every other request with
 *   that key replays the stored response, waits for it, or gets `conflict` — never a second
 *   spend. A claim is never deleted: when its attempt is refused before it began or rolled back
 *   by recovery, it is marked `dropped` and the key's next generation may be claimed. So a claim
 *   document belongs to exactly one attempt, and no late writer can touch a newer attempt's.
 * - `redemption_inflight_batches` _id: work under way. A request's in-flight marker (its
 *   redemption id and claim) is written beside its claim, before anything is recorded or taken;
 *   the markers of the requests of one process that claim in the same turn go as ONE document
 *   (inserts.ts), deleted once every request in it has ended (its key done, dropped, or its
 *   redemption settled and its tail finished). Recovery reads only this small collection. Marker
 *   and claim name their owner process, whose lease (`redemption_leases` _id = owner, renewed in
 *   place) lists the requests still alive (liveness.ts); a claim is judged by its own owner.
 * - `redemption_inflight` _id = redemptionId: the one-marker-per-document form written before
 *   batches (until 28 November); recovery still reads it, nothing writes it.
 * - `redemptions` _id: the basket, prices and household, written once. Recovery writes a
 *   tombstone under the same _id when a claim's request died before writing its redemption, so
 *   the dead request can never write it afterwards.
 * - `redemption_events` _id = `<redemptionId>:<stage>`: `settled` (status confirmed OR failed:
 *   one stage, so the two outcomes exclude each other) and `reversed`. A settled event carries
 *   the response every replay of its key answers; the request that settles it never completes
 *   its claim in place: a pending claim whose settled event holds a response and whose in-flight
 *   marker is gone is answered from that event (so a redemption costs no key update). Recovery,
 *   an offline refusal before anything was recorded, and settled events written before the
 *   response was put on them complete the claim itself (`done`, with the response).
 * - `redemption_work` _id: a reversal in progress, deleted when it is complete; recovery finishes
 *   the ones a crash left.
 * - `redemption_allowance`: per (household, store, day) chain of the points redeemed that day
 *   (platform/append-chain.ts), appended by every redemption whether or not a limit is set, so
 *   a limit set mid-day counts what was already spent, and two counters cannot both squeeze
 *   under the limit.
 * - `card_pins`, `card_pin_events`: the card PIN and its attempts (pin.model.ts).
 * - `redemption_flags` (terminalId, key) unique: offline redemptions that could not be charged,
 *   for the store manager; `redemption_flag_resolutions` _id = flagId: resolved once.
 *
 * Keys and their stored responses are kept forever (no TTL index on FerretDB, and no sweeper):
 * an offline counter may upload days late, and a pruned key would let a late retry spend twice.
 * It is one small record per redemption, like the redemption itself.
 */
import mongoose, { Schema } from 'mongoose';
import { chainIndexes, chainLinkFields, type ChainLink } from '../../platform/append-chain';
// The PIN and in-flight models register with this module's (src/modules/models.ts imports this
// file only).
import './inflight.model';
import './pin.model';
import type { ProblemDocument } from '../../platform/http';
import type { RedemptionView } from './redemption.views';

/** A stored outcome: the 201 view, or a refusal as a problem document (its status ≥ 400). */
export type StoredResponse = StoredRedemption | StoredRefusal;
export interface StoredRedemption {
  status: 201;
  body: RedemptionView;
}
export interface StoredRefusal {
  status: number;
  body: ProblemDocument;
}

export interface RedemptionKeyDoc {
  /** `<terminalId>:<key>` */
  _id: string;
  terminalId: string;
  key: string;
  generation: number;
  /** SHA-256 of the canonical request (PIN left out). */
  fingerprint: string;
  redemptionId: string;
  status: 'pending' | 'done' | 'dropped';
  response?: StoredResponse;
  /** The process that claimed it (liveness.ts), as on its marker; absent on older claims. */
  owner?: string;
  createdAt: Date;
  completedAt?: Date;
}

const keySchema = new Schema<RedemptionKeyDoc>(
  {
    _id: { type: String, required: true },
    terminalId: { type: String, required: true },
    key: { type: String, required: true },
    generation: { type: Number, required: true },
    fingerprint: { type: String, required: true },
    redemptionId: { type: String, required: true },
    status: { type: String, required: true, enum: ['pending', 'done', 'dropped'] },
    response: { type: Schema.Types.Mixed },
    owner: String,
    createdAt: { type: Date, required: true },
    completedAt: { type: Date },
  },
  { collection: 'redemption_keys', versionKey: false, strict: 'throw' },
);
export const RedemptionKey = mongoose.model<RedemptionKeyDoc>('RedemptionKey', keySchema);

export interface RedemptionLine {
  itemId: string;
  sku: string;
  name: string;
  qty: number;
  /** Price of one unit when redeemed. */
  pointsEach: number;
  points: number;
}

export interface RedemptionDoc {
  _id: mongoose.Types.ObjectId;
  /** A tombstone only blocks the id; it has no basket. */
  tombstone?: boolean;
  storeId: string;
  terminalId: string;
  key: string;
  /** The claim (redemption_keys _id) this redemption was made under. */
  claimId: string;
  storeName?: string;
  householdId?: string;
  villageId?: string;
  cardNo?: string;
  lines?: RedemptionLine[];
  points?: number;
  /** The daily limit in force when redeemed (absent: none). */
  dailyLimit?: number;
  /**
   * The redemption counts against the day's allowance chain whether or not a limit is set, so a
   * limit set later in the day sees what was already spent. Absent on records made before.
   */
  tracksAllowance?: boolean;
  /** When the goods changed hands: the offline time for an offline upload, else createdAt. */
  occurredAt?: Date;
  /** Calendar day of occurredAt in Asia/Shanghai (YYYY-MM-DD): the daily limit's and reversal's day. */
  day?: string;
  offlineAt?: Date;
  createdAt: Date;
}

const lineSchema = new Schema<RedemptionLine>(
  {
    itemId: { type: String, required: true },
    sku: { type: String, required: true },
    name: { type: String, required: true },
    qty: { type: Number, required: true },
    pointsEach: { type: Number, required: true },
    points: { type: Number, required: true },
  },
  { _id: false },
);

const redemptionSchema = new Schema<RedemptionDoc>(
  {
    tombstone: { type: Boolean },
    storeId: { type: String, required: true },
    terminalId: { type: String, required: true },
    key: { type: String, required: true },
    claimId: { type: String, required: true },
    storeName: String,
    householdId: String,
    villageId: String,
    cardNo: String,
    lines: { type: [lineSchema], default: undefined },
    points: Number,
    dailyLimit: Number,
    tracksAllowance: Boolean,
    occurredAt: Date,
    day: String,
    offlineAt: Date,
    createdAt: { type: Date, required: true },
  },
  { collection: 'redemptions', versionKey: false, strict: 'throw' },
);
// A terminal lists its store's redemptions newest first; a household's are listed for it too.
redemptionSchema.index({ storeId: 1, _id: -1 }, { name: 'store_id' });
redemptionSchema.index({ householdId: 1, _id: -1 }, { name: 'household_id' });
export const Redemption = mongoose.model<RedemptionDoc>('Redemption', redemptionSchema);

export const SETTLED_STATUSES = ['confirmed', 'failed'] as const;

export interface RedemptionEventDoc {
  /** `<redemptionId>:<stage>` */
  _id: string;
  redemptionId: string;
  stage: 'settled' | 'reversed';
  status: 'confirmed' | 'failed' | 'reversed';
  /** For failed: the refusal (`insufficient_points`, `out_of_stock`, …) or `abandoned`. */
  code?: string;
  detail?: string;
  details?: Record<string, unknown>;
  /** The ledger entry that settled it (confirmed) or reversed it. */
  entrySeq?: number;
  spendableAfter?: number;
  /** Who settled it: the request itself or recovery. */
  by: 'request' | 'recovery';
  /**
   * Settled: the response the key replays, as its JSON text (absent on `abandoned`). One string
   * rather than the nested document: FerretDB converts every field of a document on insert, and
   * the response's thirty-odd fields nearly doubled the event's cost (docs/scaling.md). Read it
   * with `storedResponseOf` (redemption.views.ts).
   */
  responseText?: string;
  /** The same response as a nested document, on events settled before `responseText`. */
  response?: StoredResponse;
  /**
   * Settled by the request: its takes' link ids (they have no source pointer), read by `_id`;
   * absent when recovery settled it, or on older events: the takes are found by source.
   */
  takes?: RecordedTakes;
  at: Date;
}

export interface RecordedTakes {
  /** The day's allowance take (`<chain>#<seq>`); absent: none was taken. */
  allowance?: string;
  /** The stock takes (`<itemId>#<seq>`), one per line taken; a line without one took nothing. */
  stock: string[];
}

const takes = { allowance: String, stock: { type: [String], required: true } };

const eventSchema = new Schema<RedemptionEventDoc>(
  {
    _id: { type: String, required: true },
    redemptionId: { type: String, required: true },
    stage: { type: String, required: true, enum: ['settled', 'reversed'] },
    status: { type: String, required: true, enum: ['confirmed', 'failed', 'reversed'] },
    code: String,
    detail: String,
    details: { type: Schema.Types.Mixed },
    entrySeq: Number,
    spendableAfter: Number,
    by: { type: String, required: true, enum: ['request', 'recovery'] },
    responseText: String,
    response: { type: Schema.Types.Mixed },
    takes: { type: new Schema<RecordedTakes>(takes, { _id: false }) },
    at: { type: Date, required: true },
  },
  { collection: 'redemption_events', versionKey: false, strict: 'throw' },
);
export const RedemptionEvent = mongoose.model<RedemptionEventDoc>('RedemptionEvent', eventSchema);

export interface RedemptionWorkDoc {
  /** `reverse:<redemptionId>` */
  _id: string;
  redemptionId: string;
  createdAt: Date;
}

const workSchema = new Schema<RedemptionWorkDoc>(
  {
    _id: { type: String, required: true },
    redemptionId: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'redemption_work', versionKey: false, strict: 'throw' },
);
workSchema.index({ createdAt: 1 }, { name: 'createdAt' });
export const RedemptionWork = mongoose.model<RedemptionWorkDoc>('RedemptionWork', workSchema);

export interface AllowanceLinkDoc extends ChainLink {
  /** chain = `${householdId}:${storeId}:${day}` */
  kind: 'take' | 'give' | 'void';
  delta: number;
  usedAfter: number;
}

const allowanceSchema = new Schema<AllowanceLinkDoc>(
  {
    ...chainLinkFields,
    kind: { type: String, required: true, enum: ['take', 'give', 'void'] },
    delta: { type: Number, required: true },
    usedAfter: { type: Number, required: true },
  },
  { collection: 'redemption_allowance', versionKey: false, strict: 'throw' },
);
chainIndexes(allowanceSchema);
export const AllowanceLink = mongoose.model<AllowanceLinkDoc>(
  'RedemptionAllowance',
  allowanceSchema,
);

export interface RedemptionFlagDoc {
  _id: mongoose.Types.ObjectId;
  storeId: string;
  terminalId: string;
  key: string;
  redemptionId?: string;
  householdId?: string;
  cardNo: string;
  items: { sku: string; qty: number }[];
  points?: number;
  offlineAt: Date;
  /** Why it could not be charged: the refusal's code and text. */
  code: string;
  detail: string;
  createdAt: Date;
  /** Hint for listing; the resolution record is the truth. */
  resolvedAt?: Date;
}

const flagSchema = new Schema<RedemptionFlagDoc>(
  {
    storeId: { type: String, required: true },
    terminalId: { type: String, required: true },
    key: { type: String, required: true },
    redemptionId: String,
    householdId: String,
    cardNo: { type: String, required: true },
    items: {
      type: [
        {
          _id: false,
          sku: { type: String, required: true },
          qty: { type: Number, required: true },
        },
      ],
      required: true,
    },
    points: Number,
    offlineAt: { type: Date, required: true },
    code: { type: String, required: true },
    detail: { type: String, required: true },
    createdAt: { type: Date, required: true },
    resolvedAt: Date,
  },
  { collection: 'redemption_flags', versionKey: false, strict: 'throw' },
);
flagSchema.index({ terminalId: 1, key: 1 }, { unique: true, name: 'terminal_key_unique' });
flagSchema.index({ storeId: 1, _id: -1 }, { name: 'store_id' });
export const RedemptionFlag = mongoose.model<RedemptionFlagDoc>('RedemptionFlag', flagSchema);

export interface FlagResolutionDoc {
  /** The flag id. */
  _id: string;
  storeId: string;
  by: string;
  note: string;
  at: Date;
}

const resolutionSchema = new Schema<FlagResolutionDoc>(
  {
    _id: { type: String, required: true },
    storeId: { type: String, required: true },
    by: { type: String, required: true },
    note: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'redemption_flag_resolutions', versionKey: false, strict: 'throw' },
);
export const FlagResolution = mongoose.model<FlagResolutionDoc>(
  'RedemptionFlagResolution',
  resolutionSchema,
);
