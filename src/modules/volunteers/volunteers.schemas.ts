import { id, obj, queryInt, text, z } from '../../platform/validation';

export const registerVolunteerBody = obj({
  name: text(32),
  /** Checked (GB 11643 check digit) and replaced by a keyed hash; never stored, returned or logged. */
  idNumber: z
    .string()
    .max(32)
    .regex(
      /^ *[0-9]{17}[0-9Xx] *$/,
      'an 18-character resident ID number: 17 digits and a check digit or X',
    ),
  householdId: id().optional(),
  phone: z
    .string()
    .regex(/^\+?[0-9-]{5,20}$/, '5–20 digits, - or a leading +')
    .optional(),
  /** An outside volunteer's village (default: the registering clerk's). */
  villageId: id().optional(),
  /** A county-level outside volunteer (registered by the county office). */
  countyId: id().optional(),
});

export const volunteerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    idNumberMasked: z.string(),
    householdId: z.string().optional(),
    villageId: z.string().optional(),
    townshipId: z.string().optional(),
    countyId: z.string().optional(),
    phone: z.string().optional(),
    /** Hours of rated service orders, all time. */
    hours: z.number(),
    createdAt: z.string(),
  })
  .openapi('Volunteer');

export const listVolunteersQuery = obj({
  villageId: id().optional(),
  after: id().optional(),
  limit: queryInt(1, 500).optional(),
});
export const hoursQuery = obj({
  after: queryInt(0, 1_000_000_000).optional(),
  limit: queryInt(1, 500).optional(),
});

/** One rated order's hours in a volunteer's hours chain. */
export const hoursItemSchema = z.object({
  seq: z.number().int(),
  orderId: z.string(),
  hours: z.number(),
  date: z.string(),
  totalAfter: z.number(),
  prevHash: z.string(),
  hash: z.string(),
});

/** A milestone (50, 100, … hours) a volunteer reached, and the submission it filed. */
export const milestoneSchema = z.object({
  hours: z.number().int(),
  reachedAt: z.string(),
  orderId: z.string(),
  submissionId: z.string().nullable(),
  skipped: z.string().optional(),
});

export const hoursSchema = z
  .object({
    volunteerId: z.string(),
    total: z.number(),
    items: z.array(hoursItemSchema),
    next: z.number().int().nullable(),
    milestones: z.array(milestoneSchema),
  })
  .openapi('VolunteerHours');

export const idParams = obj({ id: id() });
