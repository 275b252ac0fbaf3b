import { ROLES } from '../../platform/principal';
import { id, obj, z } from '../../platform/validation';

export const USERNAME_RE = /^[A-Za-z0-9_.@-]{3,64}$/;

export const createUserBody = obj({
  username: z.string().regex(USERNAME_RE, '3–64 letters, digits, _ . @ or -'),
  password: z.string().min(10, 'at least 10 characters').max(256).refine((s) => !s.includes('\u0000'), 'must not contain NUL'),
  role: z.enum(ROLES),
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
