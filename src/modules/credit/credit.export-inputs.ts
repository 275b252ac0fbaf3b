/**
 * The export's inputs streamed into its partitions (credit.partitions.ts): the households of the
 * villages, the cooperative's consents and revocations, and the scored entries up to asOf, each
 * read once as a plain stream (no sort, no `$in` of ids).
 *
 * The entries come one of two ways, whichever reads less: one pass over the whole ledger (on
 * FerretDB any filter reads every entry, so an export of a few villages in a city read the
 * city's ledger), or each of the export's households' chains by `_id`, as a look-up reads it.
 * A chain read costs about CHAIN_READ_COST_ENTRIES entries of a pass; the ledger's size comes
 * from its statistics. Both give the same entries, so the same file (tested).
 */
import { streamHouseholdsOfVillages } from '../households/households.service';
import { ledgerEntryCount, streamEntries, type EntryType } from '../ledger/ledger.service';
import { SCORED_TYPES } from './credit.batch';
import { chainRows } from './credit.inputs';
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

/**
 * A household's chain read by `_id` costs about as much as this many entries of a pass over the
 * ledger (`npm run bench`, export rows, both ways on one city).
 */
export const CHAIN_READ_COST_ENTRIES = 40;
/** Chains read at once. */
const CHAIN_READERS = 8;

/** Tests and the bench choose the way; otherwise it is chosen by size. */
export const exportTuning: { entriesRead?: 'chains' | 'pass' } = {};

/** How the export's entries are read: by chain when that reads less than one pass (see the module doc). */
export async function entriesReadFor(households: number): Promise<'chains' | 'pass'> {
  if (exportTuning.entriesRead) return exportTuning.entriesRead;
  return households * CHAIN_READ_COST_ENTRIES < (await ledgerEntryCount()) ? 'chains' : 'pass';
}

const SCORED = new Set<EntryType>(SCORED_TYPES);

/** The scored entries up to asOf of the given households into the partitions, chain by chain. */
async function partitionChains(
  d: CreditExportDoc,
  householdIds: readonly string[],
  parts: PartitionSink,
): Promise<void> {
  const through = d.asOf.getTime();
  let next = 0;
  const reader = async () => {
    for (let i = next++; i < householdIds.length; i = next++) {
      const hid = householdIds[i]!;
      for (const e of await chainRows(hid)) {
        const at = new Date(e.createdAt).getTime();
        if (!SCORED.has(e.type) || at > through) continue;
        await parts.entry(hid, {
          seq: e.seq,
          type: e.type,
          meritDelta: e.meritDelta,
          createdAt: at,
          ...(e.ruleCode ? { ruleCode: e.ruleCode } : {}),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: CHAIN_READERS }, reader));
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
 * Streams the inputs into partitions (one pass each, no sort, no `$in` of ids). Households first
 * (a partition keeps only records of its households); then the consents and the entries at the
 * same time, since each is a read the database does on its own. `how` says how the entries are
 * read (entriesReadFor).
 */
export async function partitionInputs(
  d: CreditExportDoc,
  parts: PartitionSink,
  how: 'chains' | 'pass',
): Promise<number> {
  const ids: string[] = [];
  let households = 0;
  for await (const h of streamHouseholdsOfVillages(d.villageIds)) {
    await parts.household({
      id: h.id,
      villageId: h.villageId,
      head: h.head,
      createdAt: h.createdAt.getTime(),
    });
    if (how === 'chains') ids.push(h.id);
    households++;
  }
  await Promise.all([
    partitionConsents(d, parts),
    how === 'chains' ? partitionChains(d, ids, parts) : partitionEntries(d, parts),
  ]);
  await parts.close();
  return households;
}
