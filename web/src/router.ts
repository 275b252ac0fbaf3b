/** History routing under /app: the path is the page; links push state, back/forward pop it. */
import { signal } from './signal';

export const BASE = '/app';
export const route = signal<string>(location.pathname);

addEventListener('popstate', () => route.set(location.pathname));

export function navigate(path: string, replace = false): void {
  const url = path.startsWith(BASE) ? path : `${BASE}${path}`;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route.set(location.pathname);
  scrollTo(0, 0);
}

/** The path below /app, without a trailing slash: `/clerk/file`. */
export function subPath(p: string): string {
  const rest = p.startsWith(BASE) ? p.slice(BASE.length) : p;
  return rest.replace(/\/+$/, '') || '/';
}
