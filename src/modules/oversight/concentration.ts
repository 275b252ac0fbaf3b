/**
 * Approver–recipient concentration (人情分): how each council member's approvals of awards fall
 * on households, as a pure function (table-tested without a database).
 *
 * For each member with at least `minApprovals` approvals in the period, three sets of households
 * are looked at, and the share of the member's approvals that went to each:
 *
 *   kin             the member's own relatives: households linked to the member's household in
 *                   the roster, or of the same lineage (宗族) when the roster records one
 *   few_households  the three households the member approved most often ("the same few")
 *   related_group   the related group (households linked in the roster, or sharing a lineage;
 *                   two households or more) that received the largest share
 *
 * A set raises a flag when the member's share on it is at least `threshold` (village policy,
 * default 0.6) AND at least LIFT (2) times the share of all other members' approvals that went
 * to the same households. The second condition keeps a family that everybody approves (a
 * genuinely active household) from flagging anyone: the flag is about one member's pattern.
 */
import type { z } from '../../platform/validation';
import type { memberConcentrationSchema, shareOfSchema } from './oversight.schemas';

/** How much more often than the rest of the council a member must favour a set to be flagged. */
export const LIFT = 2;
/** "The same few households". */
export const FEW_HOUSEHOLDS = 3;

export const CONCENTRATION_REASONS = ['kin', 'few_households', 'related_group'] as const;
export type ConcentrationReason = (typeof CONCENTRATION_REASONS)[number];

export interface ConcentrationInput {
  members: { id: string; householdId?: string }[];
  /** One per member, award and household line. */
  approvals: { memberId: string; householdId: string }[];
  /** What the roster says of households' relatives (absent: nothing recorded). */
  kinship: ReadonlyMap<string, { lineage?: string; relatedHouseholdIds: readonly string[] }>;
  threshold: number;
  minApprovals: number;
}

export type ShareOf = z.infer<typeof shareOfSchema>;

export type MemberConcentration = z.infer<typeof memberConcentrationSchema>;

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Related groups: households connected by roster links or a shared lineage (union-find). */
export function relatedGroups(kinship: ConcentrationInput['kinship']): string[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    if (!parent.has(x)) parent.set(x, x);
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const join = (a: string, b: string) => parent.set(find(a), find(b));
  const byLineage = new Map<string, string>();
  for (const [h, k] of kinship) {
    find(h);
    for (const other of k.relatedHouseholdIds) join(h, other);
    const lineage = k.lineage?.trim();
    if (lineage) {
      const first = byLineage.get(lineage);
      if (first) join(h, first);
      else byLineage.set(lineage, h);
    }
  }
  const groups = new Map<string, string[]>();
  for (const h of parent.keys()) {
    const r = find(h);
    groups.set(r, [...(groups.get(r) ?? []), h]);
  }
  return [...groups.values()].filter((g) => g.length >= 2).map((g) => g.sort());
}

function shareOf(
  set: ReadonlySet<string>,
  mine: readonly string[],
  others: readonly string[],
  input: ConcentrationInput,
): ShareOf {
  const approvals = mine.filter((h) => set.has(h)).length;
  const share = mine.length ? approvals / mine.length : 0;
  const othersShare = others.length ? others.filter((h) => set.has(h)).length / others.length : 0;
  const flagged =
    mine.length >= input.minApprovals && share >= input.threshold && share >= LIFT * othersShare;
  return {
    householdIds: [...set].sort(),
    approvals,
    share: round3(share),
    othersShare: round3(othersShare),
    flagged,
  };
}

export function concentrationOf(input: ConcentrationInput): MemberConcentration[] {
  const groups = relatedGroups(input.kinship);
  return input.members.map((m) => {
    const mine = input.approvals.filter((a) => a.memberId === m.id).map((a) => a.householdId);
    const others = input.approvals.filter((a) => a.memberId !== m.id).map((a) => a.householdId);
    const counts = new Map<string, number>();
    for (const h of mine) counts.set(h, (counts.get(h) ?? 0) + 1);
    const top = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, FEW_HOUSEHOLDS);
    const kinGroup = m.householdId ? groups.find((g) => g.includes(m.householdId!)) : undefined;
    const kin = kinGroup
      ? shareOf(new Set(kinGroup.filter((h) => h !== m.householdId)), mine, others, input)
      : null;
    const few = mine.length ? shareOf(new Set(top.map(([h]) => h)), mine, others, input) : null;
    const byGroup = groups
      .map((g) => shareOf(new Set(g), mine, others, input))
      .filter((s) => s.approvals > 0);
    byGroup.sort((a, b) => b.share - a.share || Number(b.flagged) - Number(a.flagged));
    const relatedGroup = byGroup[0] ?? null;
    const reasons: ConcentrationReason[] = [];
    if (kin?.flagged) reasons.push('kin');
    if (few?.flagged) reasons.push('few_households');
    if (relatedGroup?.flagged) reasons.push('related_group');
    return {
      memberId: m.id,
      approvals: mine.length,
      topHouseholds: top.map(([householdId, approvals]) => ({ householdId, approvals })),
      kin,
      fewHouseholds: few,
      relatedGroup,
      flagged: reasons.length > 0,
      reasons,
    };
  });
}
