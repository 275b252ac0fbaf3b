/** TRUST_PROXY as express takes it: false, true (not recommended), a hop count, or a list. */
export function parseTrustProxy(raw: string): boolean | number | string[] {
  const v = raw.trim();
  if (v === 'false') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return v.split(',').flatMap((x) => (x.trim() ? [x.trim()] : []));
}
