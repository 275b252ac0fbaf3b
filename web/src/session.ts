/**
 * Who is signed in on this browser. A person's token lives in sessionStorage (this tab only,
 * gone when it closes). A counter's terminal credentials live in localStorage on the device it
 * was set up on, so the counter signs itself in again whenever its 15-minute token runs out.
 */
import { signal } from './signal';

export type Role =
  'admin' | 'clerk' | 'council' | 'terminal' | 'officer' | 'household' | 'township' | 'supervisor';

export interface Me {
  id: string;
  role: Role;
  username?: string;
  villageId?: string;
  householdId?: string;
  cooperativeId?: string;
  storeId?: string;
  /** A township station's township, and the villages it acts for. */
  townshipId?: string;
  villageIds?: string[];
  /** A login linked to a registered volunteer (a team member). */
  volunteerId?: string;
}

export interface Session {
  token: string;
  expiresAt: number;
  me: Me;
}

const SESSION_KEY = 'msl.session';
const TERMINAL_KEY = 'msl.terminal';

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export const session = signal<Session | null>(load());

export function setSession(s: Session | null): void {
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
  session.set(s);
}

export interface TerminalCredentials {
  clientId: string;
  clientSecret: string;
}

export function savedTerminal(): TerminalCredentials | null {
  try {
    const raw = localStorage.getItem(TERMINAL_KEY);
    return raw ? (JSON.parse(raw) as TerminalCredentials) : null;
  } catch {
    return null;
  }
}

export function saveTerminal(c: TerminalCredentials | null): void {
  if (c) localStorage.setItem(TERMINAL_KEY, JSON.stringify(c));
  else localStorage.removeItem(TERMINAL_KEY);
}
