/**
 * Points supermarkets (公益超市) and their counter terminals. A terminal signs in with client
 * credentials; `clientId` is unique and the secret is stored only as a scrypt hash. Items and
 * stock live in items.model.ts.
 */
import mongoose, { Schema } from 'mongoose';
import { invalidatesConfig } from '../../platform/config-cache';

export interface StoreDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  villageIds: string[];
  createdAt: Date;
}

const storeSchema = new Schema<StoreDoc>(
  { name: { type: String, required: true }, villageIds: { type: [String], required: true } },
  {
    collection: 'stores',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// Cached configuration (platform/config-cache.ts): every write makes every process re-read it.
invalidatesConfig(storeSchema);
export const Store = mongoose.model<StoreDoc>('Store', storeSchema);

export interface TerminalDoc {
  _id: mongoose.Types.ObjectId;
  clientId: string;
  secretHash: string;
  storeId: string;
  revokedAt?: Date;
  /** When the secret was last replaced (absent: never rotated). */
  secretRotatedAt?: Date;
  /** Tokens carrying an older version are refused (see TokenClaims.tv); absent = 0. */
  tokenVersion?: number;
  tokensRevokedAt?: Date;
  createdAt: Date;
}

const terminalSchema = new Schema<TerminalDoc>(
  {
    clientId: { type: String, required: true },
    secretHash: { type: String, required: true },
    storeId: { type: String, required: true },
    revokedAt: Date,
    secretRotatedAt: Date,
    tokenVersion: Number,
    tokensRevokedAt: Date,
  },
  {
    collection: 'terminals',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
terminalSchema.index({ clientId: 1 }, { unique: true, name: 'clientId_unique' });
terminalSchema.index({ storeId: 1 }, { name: 'store' });
// Cached configuration (platform/config-cache.ts): every write makes every process re-read it.
invalidatesConfig(terminalSchema);
export const Terminal = mongoose.model<TerminalDoc>('Terminal', terminalSchema);
