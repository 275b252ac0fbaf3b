/**
 * Service orders, their events, and the wake-ups that make sure an order never waits forever.
 *
 * - `service_orders`: what was ordered (immutable: household, village, township, item, detail,
 *   wanted-by, the timeout in force and when it falls) plus a cache of the state derived from the
 *   events (status, team, times, stars, hours) for lists and rankings. The events always win.
 * - `service_order_events`: append-only; `_id` = `<orderId>:<slot>` (service-order-state.ts),
 *   so every decision point is filled by the first insert and read back by primary key.
 * - `service_order_wakeups`: durable "look at this order at `at`" records: the reminder
 *   (`remind-<id>`) and the timeout (`timeout-<id>`), written before the order itself, so an
 *   order escalates even if Redis lost its delayed job; and a guard per rating (`guard-<random>`)
 *   so a rating that crashed before its hours were recorded and filed is finished by the sweeper.
 */
import mongoose, { Schema } from 'mongoose';
import {
  ORDER_EVENT_TYPES,
  ORDER_STATUSES,
  type HoursLine,
  type OrderEventType,
  type OrderStatus,
} from './service-order-state';

export interface ServiceOrderDoc {
  _id: mongoose.Types.ObjectId;
  householdId: string;
  villageId: string;
  townshipId?: string;
  countyId: string;
  itemCode: string;
  itemName: string;
  categoryCode: string;
  categoryName: string;
  detail: string;
  wantedBy: string;
  /** The village policy's orderTimeout when the order was placed. */
  orderTimeout: string;
  remindAt: Date;
  timeoutAt: Date;
  createdBy: string;
  createdByRole: string;
  createdAt: Date;
  // The cache, derived from the events:
  status: OrderStatus;
  round: number;
  teamId?: string;
  acceptedAt?: Date;
  completedAt?: Date;
  ratedAt?: Date;
  escalatedAt?: Date;
  stars?: number;
  hoursTotal?: number;
}

const orderSchema = new Schema<ServiceOrderDoc>(
  {
    householdId: { type: String, required: true },
    villageId: { type: String, required: true },
    townshipId: String,
    countyId: { type: String, required: true },
    itemCode: { type: String, required: true },
    itemName: { type: String, required: true },
    categoryCode: { type: String, required: true },
    categoryName: { type: String, required: true },
    detail: { type: String, required: true },
    wantedBy: { type: String, required: true },
    orderTimeout: { type: String, required: true },
    remindAt: { type: Date, required: true },
    timeoutAt: { type: Date, required: true },
    createdBy: { type: String, required: true },
    createdByRole: { type: String, required: true },
    status: { type: String, required: true, enum: ORDER_STATUSES },
    round: { type: Number, required: true },
    teamId: String,
    acceptedAt: Date,
    completedAt: Date,
    ratedAt: Date,
    escalatedAt: Date,
    stars: Number,
    hoursTotal: Number,
  },
  {
    collection: 'service_orders',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// A village's and a township's order lists by status, newest first; a team's orders.
orderSchema.index({ villageId: 1, status: 1, _id: -1 }, { name: 'village_status_id' });
orderSchema.index({ townshipId: 1, status: 1, _id: -1 }, { name: 'township_status_id' });
orderSchema.index({ teamId: 1, _id: -1 }, { name: 'team_id' });
// The monthly rankings read a county's orders (a scan on FerretDB-SQLite; a job).
orderSchema.index({ countyId: 1, _id: 1 }, { name: 'county_id' });
export const ServiceOrder = mongoose.model<ServiceOrderDoc>('ServiceOrder', orderSchema);

export interface ServiceOrderEventDoc {
  /** `<orderId>:<slot>` */
  _id: string;
  orderId: string;
  slot: string;
  type: OrderEventType;
  round?: number;
  by?: string;
  byRole?: string;
  teamId?: string;
  volunteerIds?: string[];
  hours?: HoursLine[];
  servedOn?: string;
  stars?: number;
  comment?: string;
  volunteerId?: string;
  submissionId?: string;
  skipped?: string;
  at: Date;
}

const hoursLineSchema = new Schema<HoursLine>(
  {
    volunteerId: { type: String, required: true },
    hours: { type: Number, required: true },
    householdId: String,
    villageId: String,
  },
  { _id: false },
);
const eventSchema = new Schema<ServiceOrderEventDoc>(
  {
    _id: { type: String, required: true },
    orderId: { type: String, required: true },
    slot: { type: String, required: true },
    type: { type: String, required: true, enum: ORDER_EVENT_TYPES },
    round: Number,
    by: String,
    byRole: String,
    teamId: String,
    volunteerIds: { type: [String], default: undefined },
    hours: { type: [hoursLineSchema], default: undefined },
    servedOn: String,
    stars: Number,
    comment: String,
    volunteerId: String,
    submissionId: String,
    skipped: String,
    at: { type: Date, required: true },
  },
  { collection: 'service_order_events', versionKey: false, strict: 'throw' },
);
for (const op of [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const) {
  eventSchema.pre(op, () => {
    throw new Error('service order events are append-only');
  });
}
export const ServiceOrderEvent = mongoose.model<ServiceOrderEventDoc>(
  'ServiceOrderEvent',
  eventSchema,
);

export interface OrderWakeupDoc {
  _id: string;
  orderId: string;
  kind: 'remind' | 'timeout' | 'guard';
  at: Date;
  failures: number;
}

const wakeupSchema = new Schema<OrderWakeupDoc>(
  {
    _id: { type: String, required: true },
    orderId: { type: String, required: true },
    kind: { type: String, required: true, enum: ['remind', 'timeout', 'guard'] },
    at: { type: Date, required: true },
    failures: { type: Number, required: true, default: 0 },
  },
  { collection: 'service_order_wakeups', versionKey: false, strict: 'throw' },
);
// The sweeper reads due wake-ups in order.
wakeupSchema.index({ at: 1 }, { name: 'at' });
export const OrderWakeup = mongoose.model<OrderWakeupDoc>('ServiceOrderWakeup', wakeupSchema);
