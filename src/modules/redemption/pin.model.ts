/**
 * Card PIN storage (pin.service.ts), registered with the module's other models (redemption.model.ts):
 * - `card_pins` _id = householdId: the card PIN's scrypt hash.
 * - `card_pin_events`: per-household chain of PIN outcomes (platform/append-chain.ts); three
 *   failures in a row lock the card, decided by chain inserts.
 */
import mongoose, { Schema } from 'mongoose';
import { chainIndexes, chainLinkFields, type ChainLink } from '../../platform/append-chain';
import { invalidatesConfig } from '../../platform/config-cache';

export interface CardPinDoc {
  /** The household id. */
  _id: string;
  pinHash: string;
  setAt: Date;
  setBy: string;
}

const cardPinSchema = new Schema<CardPinDoc>(
  {
    _id: { type: String, required: true },
    pinHash: { type: String, required: true },
    setAt: { type: Date, required: true },
    setBy: { type: String, required: true },
  },
  { collection: 'card_pins', versionKey: false, strict: 'throw' },
);
// Cached configuration (platform/config-cache.ts): a PIN set or removed is required (or not) at once.
invalidatesConfig(cardPinSchema);
export const CardPin = mongoose.model<CardPinDoc>('CardPin', cardPinSchema);

export interface PinEventDoc extends ChainLink {
  /** chain = householdId */
  kind: 'ok' | 'fail' | 'reset';
  /** Wrong PINs in a row up to and including this event (0 after ok/reset). */
  failStreak: number;
  /** Set on the failure that locks the card. */
  lockedUntil?: Date;
}

const pinEventSchema = new Schema<PinEventDoc>(
  {
    ...chainLinkFields,
    kind: { type: String, required: true, enum: ['ok', 'fail', 'reset'] },
    failStreak: { type: Number, required: true },
    lockedUntil: Date,
  },
  { collection: 'card_pin_events', versionKey: false, strict: 'throw' },
);
chainIndexes(pinEventSchema);
export const PinEvent = mongoose.model<PinEventDoc>('CardPinEvent', pinEventSchema);
