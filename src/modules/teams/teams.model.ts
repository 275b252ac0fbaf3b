/**
 * Volunteer teams (志愿服务队) by category at county, township and village level, and their
 * membership over time.
 *
 * - `teams`: name, category (a service-menu category code: policy talks, culture, tutoring…),
 *   level and the county, township or village it belongs to.
 * - `team_memberships`: per (team, volunteer) an append-only chain of `join` and `leave`
 *   (platform/append-chain.ts, `_id` = `<teamId>:<volunteerId>#<seq>`). A join is decided
 *   against the chain's head, so two joins at once cannot both succeed, and nothing is ever
 *   edited or deleted: the history of who served when stays.
 * - `team_rosters`: `_id` = `<teamId>:<volunteerId>`, written once at a volunteer's first join,
 *   so a team's members can be listed (their chains tell who is in now).
 */
import mongoose, { Schema } from 'mongoose';
import { chainIndexes, chainLinkFields, type ChainLink } from '../../platform/append-chain';

export const TEAM_LEVELS = ['county', 'township', 'village'] as const;
export type TeamLevel = (typeof TEAM_LEVELS)[number];

export interface TeamDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  category: string;
  level: TeamLevel;
  countyId: string;
  townshipId?: string;
  villageId?: string;
  createdBy: string;
  createdAt: Date;
}

const teamSchema = new Schema<TeamDoc>(
  {
    name: { type: String, required: true },
    category: { type: String, required: true },
    level: { type: String, required: true, enum: TEAM_LEVELS },
    countyId: { type: String, required: true },
    townshipId: String,
    villageId: String,
    createdBy: { type: String, required: true },
  },
  {
    collection: 'teams',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);
// Lists of a county's, township's or village's teams (scans on FerretDB-SQLite: a county has ~300).
teamSchema.index({ countyId: 1, level: 1 }, { name: 'county_level' });
teamSchema.index({ townshipId: 1 }, { name: 'township' });
teamSchema.index({ villageId: 1 }, { name: 'village' });
export const Team = mongoose.model<TeamDoc>('Team', teamSchema);

export interface MembershipLinkDoc extends ChainLink {
  /** chain = `<teamId>:<volunteerId>` */
  teamId: string;
  volunteerId: string;
  type: 'join' | 'leave';
  by: string;
  at: Date;
}

const membershipSchema = new Schema<MembershipLinkDoc>(
  {
    ...chainLinkFields,
    teamId: { type: String, required: true },
    volunteerId: { type: String, required: true },
    type: { type: String, required: true, enum: ['join', 'leave'] },
    by: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { collection: 'team_memberships', versionKey: false, strict: 'throw' },
);
chainIndexes(membershipSchema);
for (const op of [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const) {
  membershipSchema.pre(op, () => {
    throw new Error('team memberships are append-only');
  });
}
export const TeamMembership = mongoose.model<MembershipLinkDoc>('TeamMembership', membershipSchema);

export interface RosterDoc {
  /** `<teamId>:<volunteerId>` */
  _id: string;
  teamId: string;
  volunteerId: string;
  firstJoinedAt: Date;
}

const rosterSchema = new Schema<RosterDoc>(
  {
    _id: { type: String, required: true },
    teamId: { type: String, required: true },
    volunteerId: { type: String, required: true },
    firstJoinedAt: { type: Date, required: true },
  },
  { collection: 'team_rosters', versionKey: false, strict: 'throw' },
);
// A team's roster (a scan on FerretDB-SQLite; team-page sized).
rosterSchema.index({ teamId: 1 }, { name: 'team' });
export const TeamRoster = mongoose.model<RosterDoc>('TeamRoster', rosterSchema);
