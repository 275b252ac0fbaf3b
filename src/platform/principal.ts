/** Who is calling: a person (by role) or a store terminal. Loaded fresh on every request. */
import type { TokenKind } from './auth';

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

export interface Principal {
  id: string;
  kind: TokenKind;
  role: Role;
  username?: string;
  villageId?: string;
  householdId?: string;
  cooperativeId?: string;
  storeId?: string;
  /** The township station of a `township` user. */
  townshipId?: string;
  /** A `township` user's villages, loaded with the principal on every request. */
  villageIds?: string[];
  /** The volunteer this login belongs to (a household member or village officer who volunteers). */
  volunteerId?: string;
}

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
