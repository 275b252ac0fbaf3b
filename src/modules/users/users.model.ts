/**
 * People who sign in. `username` is unique (index): the admin bootstrap and the demo seed may
 * race on a fresh database, and only one user of a name can ever exist.
 */
import mongoose, { Schema } from 'mongoose';
import { invalidatesConfig } from '../../platform/config-cache';
import { ROLES, type Role } from '../../platform/principal';

export interface UserDoc {
  _id: mongoose.Types.ObjectId;
  username: string;
  /** The person's name as others are shown it (e.g. a loan officer's, in a household's inquiries). */
  name?: string;
  passwordHash: string;
  role: Role;
  villageId?: string;
  householdId?: string;
  cooperativeId?: string;
  storeId?: string;
  /** The township station of a `township` user. */
  townshipId?: string;
  /** The volunteer this login belongs to, so it may act as a member of the volunteer's teams. */
  volunteerId?: string;
  disabled: boolean;
  /** Tokens carrying an older version are refused (see TokenClaims.tv); absent = 0. */
  tokenVersion?: number;
  /** When the tokens were last revoked (by an admin, a password change, or disabling). */
  tokensRevokedAt?: Date;
  passwordChangedAt?: Date;
  createdAt: Date;
}

const userSchema = new Schema<UserDoc>(
  {
    username: { type: String, required: true },
    name: String,
    passwordHash: { type: String, required: true },
    role: { type: String, required: true, enum: ROLES },
    villageId: String,
    householdId: String,
    cooperativeId: String,
    storeId: String,
    townshipId: String,
    volunteerId: String,
    disabled: { type: Boolean, default: false },
    tokenVersion: Number,
    tokensRevokedAt: Date,
    passwordChangedAt: Date,
  },
  {
    collection: 'users',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
userSchema.index({ username: 1 }, { unique: true, name: 'username_unique' });

// Cached configuration (platform/config-cache.ts): every write makes every process re-read it.
invalidatesConfig(userSchema);
export const User = mongoose.model<UserDoc>('User', userSchema);
