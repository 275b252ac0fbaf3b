import { z } from '../../platform/validation';
import { TEAM_LEVELS } from './teams.model';

export const teamSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    category: z.string(),
    level: z.enum(TEAM_LEVELS),
    countyId: z.string(),
    townshipId: z.string().optional(),
    villageId: z.string().optional(),
    createdAt: z.string(),
  })
  .openapi('Team');

export const membershipSchema = z
  .object({
    teamId: z.string(),
    volunteerId: z.string(),
    type: z.enum(['join', 'leave']),
    seq: z.number().int(),
    at: z.string(),
    by: z.string(),
  })
  .openapi('TeamMembership');

export const teamDetailSchema = teamSchema
  .extend({
    members: z.array(z.object({ volunteerId: z.string(), name: z.string(), since: z.string() })),
    history: z.array(membershipSchema),
  })
  .openapi('TeamDetail');
