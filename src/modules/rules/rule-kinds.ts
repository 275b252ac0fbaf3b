/** The kinds of rule (award or deduction): shared vocabulary, read by submissions' model too. */
export const RULE_KINDS = ['award', 'deduction'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
