/**
 * Another process's posting, written straight to the collection as that process would write it:
 * an award of 4 after the entry at `seq`, hashed on it. This process's head in memory is then one
 * behind (a stale hint), which group commit and runs must survive.
 */
import { Types } from 'mongoose';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import {
  entryAt,
  hashEntry,
  toEntryView,
  type EntryView,
} from '../../../src/modules/ledger/ledger.service';

export async function entryOfAnotherProcess(
  householdId: string,
  seq: number,
  sourceType: string,
): Promise<EntryView> {
  const head = toEntryView((await entryAt(householdId, seq))!);
  const unhashed: Omit<EntryView, 'hash'> = {
    seq: seq + 1,
    type: 'award',
    points: 4,
    spendableDelta: 4,
    meritDelta: 4,
    spendableAfter: head.spendableAfter + 4,
    meritAfter: head.meritAfter + 4,
    ruleCode: 'TEST',
    sourceType,
    sourceId: new Types.ObjectId().toHexString(),
    createdAt: new Date().toISOString(),
    prevHash: head.hash,
  };
  const other = { ...unhashed, hash: hashEntry(householdId, unhashed) };
  await Entry.collection.insertOne({
    ...other,
    _id: `${householdId}:${seq + 1}` as unknown as Types.ObjectId,
    householdId,
    createdAt: new Date(other.createdAt),
  });
  return other;
}
