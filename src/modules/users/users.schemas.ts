import { ROLES } from '../../platform/principal';
import { newPassword } from '../auth/auth.schemas';
import { id, name, obj, queryInt, z } from '../../platform/validation';

export const USERNAME_RE = /^[A-Za-z0-9_.@-]{3,64}$/;

export const createUserBody = obj({
  username: z.string().regex(USERNAME_RE, '3–64 letters, digits, _ . @ or -'),
  password: newPassword(),
  role: z.enum(ROLES),
  /** The person's name (姓名), shown to others, e.g. an officer's to the households it looks up. */
  name: name(32).optional(),
  villageId: id().optional(),
  cooperativeId: id().optional(),
  storeId: id().optional(),
  householdId: id().optional(),
  /** For the township role: the township station. */
  townshipId: id().optional(),
  /** Links the login to a registered volunteer (household, council or clerk logins). */
  volunteerId: id().optional(),
});

export const userSchema = z
  .object({
    id: z.string(),
    username: z.string(),
    name: z.string().optional(),
    role: z.enum(ROLES),
    villageId: z.string().optional(),
    cooperativeId: z.string().optional(),
    storeId: z.string().optional(),
    householdId: z.string().optional(),
    townshipId: z.string().optional(),
    volunteerId: z.string().optional(),
    createdAt: z.string(),
  })
  .openapi('User');

export const listUsersQuery = obj({
  role: z.enum(ROLES).optional(),
  villageId: id().optional(),
  after: z.string().regex(USERNAME_RE).optional(),
  /** Usernames that start with this (case-sensitive), e.g. to find one account among thousands. */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_.@-]{1,64}$/, '1–64 letters, digits or _ . @ -')
    .optional(),
  limit: queryInt(1, 500).optional(),
});

export const userListItemSchema = userSchema
  .extend({ disabled: z.boolean() })
  .openapi('UserListItem');

/** An account as the county office manages it (accounts.routes.ts). */
export const accountSchema = userSchema
  .extend({
    disabled: z.boolean(),
    tokensRevokedAt: z.string().nullable(),
    passwordChangedAt: z.string().nullable(),
  })
  .openapi('UserAccount');
