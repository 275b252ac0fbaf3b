/**
 * The loan officer's search: households of the cooperative's service area that have a consent
 * to this cooperative valid now, found by card number or name.
 *
 * Invariants:
 * - Only households with a valid consent to the officer's own cooperative, in its service area,
 *   are ever listed; the head's name is masked as in the export (the consent shares only
 *   `headNameMasked`). A household without consent is not listed, whatever the query.
 * - A search discloses no score: it is not an inquiry (the look-up the officer then makes is).
 */
import { clock } from '../../platform/clock';
import type { Principal } from '../../platform/principal';
import { findCooperative } from '../cooperatives/cooperatives.service';
import { findHousehold, matchesSearch } from '../households/households.service';
import { findVillage } from '../villages/villages.service';
import { consentValidAt } from './consents.service';
import { maskName } from './credit.csv';
import {
  Consent,
  ConsentRevocation,
  type ConsentDoc,
  type ConsentRevocationDoc,
} from './credit.model';

/** Rows a search returns: the officer narrows the query rather than pages. */
export const OFFICER_SEARCH_MAX = 50;

export interface ConsentingHousehold {
  householdId: string;
  cardNo: string;
  headMasked: string;
  villageId: string;
  villageName: string;
  consentId: string;
  consentExpiresAt: string;
}

/**
 * Consenting households of the officer's cooperative matching `q` (whole card number, or part of
 * the head's or a member's name); without `q`, the most recently consented first. Reads the
 * cooperative's consents (one index range on MongoDB; a scan on FerretDB-SQLite, fine for a
 * township's few thousand consents).
 */
export async function searchConsentingHouseholds(
  p: Principal,
  q: string | undefined,
): Promise<ConsentingHousehold[]> {
  const cooperative = p.cooperativeId ? await findCooperative(p.cooperativeId) : undefined;
  if (!cooperative) return [];
  const cooperativeId = cooperative._id.toHexString();
  const [consents, revocations] = await Promise.all([
    Consent.find({ cooperativeId }).lean<ConsentDoc[]>(),
    ConsentRevocation.find({ cooperativeId }).lean<ConsentRevocationDoc[]>(),
  ]);
  const revokedAt = new Map(revocations.map((r) => [r._id, r.revokedAt.getTime()]));
  const byHousehold = new Map<string, ConsentDoc[]>();
  for (const c of consents)
    byHousehold.set(c.householdId, [...(byHousehold.get(c.householdId) ?? []), c]);
  const now = clock.now().getTime();
  const valid: ConsentDoc[] = [];
  for (const list of byHousehold.values()) {
    const terms = list.map((c) => ({
      id: c._id.toHexString(),
      grantedAt: c.grantedAt.getTime(),
      expiresAt: c.expiresAt.getTime(),
      doc: c,
    }));
    const chosen = consentValidAt(terms, (id) => revokedAt.get(id), [now]);
    if (chosen && cooperative.villageIds.includes(chosen.doc.villageId)) valid.push(chosen.doc);
  }
  valid.sort((a, b) => b.grantedAt.getTime() - a.grantedAt.getTime());
  const villages = new Map<string, string>();
  const out: ConsentingHousehold[] = [];
  for (const c of valid) {
    const h = await findHousehold(c.householdId);
    if (!h || (q !== undefined && !matchesSearch(h, q))) continue;
    if (!villages.has(h.villageId))
      villages.set(h.villageId, (await findVillage(h.villageId))?.name ?? '');
    out.push({
      householdId: c.householdId,
      cardNo: h.cardNo,
      headMasked: maskName(h.head),
      villageId: h.villageId,
      villageName: villages.get(h.villageId)!,
      consentId: c._id.toHexString(),
      consentExpiresAt: c.expiresAt.toISOString(),
    });
    if (out.length >= OFFICER_SEARCH_MAX) break;
  }
  return out;
}
