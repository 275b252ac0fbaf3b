/**
 * The export's inputs streamed into its partitions (credit.partitions.ts): the households of the
 * villages, the cooperative's consents and revocations, and the scored entries up to asOf, each
 * read once as a plain stream (no sort, no `$in` of ids).
 */
import { streamHouseholdsOfVillages } from '../households/households.service';
import { streamEntries } from '../ledger/ledger.service';
import { SCORED_TYPES } from './credit.batch';
import {
  Consent,
  ConsentRevocation,
  type ConsentDoc,
  type ConsentRevocationDoc,
  type CreditExportDoc,
} from './credit.model';
import type { PartitionSink } from './credit.partitions';

/** The cooperative's consents and revocations into the partitions. */
async function partitionConsents(d: CreditExportDoc, parts: PartitionSink): Promise<void> {
  const cCursor = Consent.find({ cooperativeId: d.cooperativeId })
    .select({ _id: 1, householdId: 1, grantedAt: 1, expiresAt: 1, customerRef: 1 })
    .lean<ConsentDoc[]>()
    .cursor({ batchSize: 1000 });
  for await (const c of cCursor) {
    await parts.consent(c.householdId, {
      id: c._id.toHexString(),
      grantedAt: c.grantedAt.getTime(),
      expiresAt: c.expiresAt.getTime(),
      ...(c.customerRef ? { customerRef: c.customerRef } : {}),
    });
  }
  const rCursor = ConsentRevocation.find({ cooperativeId: d.cooperativeId })
    .lean<ConsentRevocationDoc[]>()
    .cursor({ batchSize: 1000 });
  for await (const r of rCursor)
    await parts.revocation(r.householdId, r._id, r.revokedAt.getTime());
}

/** The scored entries up to asOf into the partitions: the export's one pass over the ledger. */
async function partitionEntries(d: CreditExportDoc, parts: PartitionSink): Promise<void> {
  for await (const e of streamEntries(SCORED_TYPES, { through: d.asOf })) {
    await parts.entry(e.householdId, {
      seq: e.seq,
      type: e.type,
      meritDelta: e.meritDelta,
      createdAt: e.createdAt.getTime(),
      ...(e.ruleCode ? { ruleCode: e.ruleCode } : {}),
    });
  }
}

/**
 * Streams the four collections into partitions (one pass each, no sort, no `$in` of ids).
 * Households first (a partition keeps only records of its households); then the consents and
 * the entries at the same time, since each is a scan the database does on its own.
 */
export async function partitionInputs(d: CreditExportDoc, parts: PartitionSink): Promise<number> {
  let households = 0;
  for await (const h of streamHouseholdsOfVillages(d.villageIds)) {
    await parts.household({
      id: h.id,
      villageId: h.villageId,
      head: h.head,
      createdAt: h.createdAt.getTime(),
    });
    households++;
  }
  await Promise.all([partitionConsents(d, parts), partitionEntries(d, parts)]);
  await parts.close();
  return households;
}
