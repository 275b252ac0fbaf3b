/** Who is calling: a person (by role) or a store terminal. Loaded fresh on every request. */
import { TOKEN_KINDS } from './auth';
import { z } from './validation';

/**
 * Roles. `admin` is the county office (县 新时代文明实践中心); `township` one township station
 * (乡镇 实践所) acting for its villages; `clerk`, `council`, `supervisor` (监督运营) and
 * `household` belong to one village; `terminal` to one store; `officer` to one cooperative.
 */
export const ROLES = [
  'admin',
  'clerk',
  'council',
  'terminal',
  'officer',
  'household',
  'township',
  'supervisor',
] as const;
export type Role = (typeof ROLES)[number];

/** The caller as GET /v1/me answers it; `Principal` is its type. */
export const principalSchema = z
  .object({
    id: z.string(),
    kind: z.enum(TOKEN_KINDS),
    role: z.enum(ROLES),
    username: z.string().optional(),
    villageId: z.string().optional(),
    householdId: z.string().optional(),
    cooperativeId: z.string().optional(),
    storeId: z.string().optional(),
    /** The township station of a `township` user. */
    townshipId: z.string().optional(),
    /** A `township` user's villages, loaded with the principal on every request. */
    villageIds: z.array(z.string()).optional(),
    /** The volunteer this login belongs to (a household member or village officer who volunteers). */
    volunteerId: z.string().optional(),
  })
  .openapi('Principal');
export type Principal = z.infer<typeof principalSchema>;

/**
 * Whether a principal acts for a village: the county office for all, a township station for
 * its villages, a village's own clerk, council, supervisor or household for that village.
 * Callers still check what each role may do there.
 */
export function reachesVillage(p: Principal, villageId: string): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'township') return p.villageIds?.includes(villageId) ?? false;
  if (p.role === 'terminal' || p.role === 'officer') return false;
  return p.villageId !== undefined && p.villageId === villageId;
}
