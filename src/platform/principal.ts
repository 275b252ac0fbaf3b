/** Who is calling: a person (by role) or a store terminal. Loaded fresh on every request. */
import type { TokenKind } from './auth';

export const ROLES = ['admin', 'clerk', 'council', 'terminal', 'officer', 'household'] as const;
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
}
