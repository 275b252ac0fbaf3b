import { z } from '../../platform/validation';
import { NOTIFICATION_KINDS, NOTIFICATION_STATES } from './notifications.model';

export const notificationSchema = z
  .object({
    id: z.string(),
    householdId: z.string(),
    submissionId: z.string().optional(),
    kind: z.enum(NOTIFICATION_KINDS),
    title: z.string(),
    body: z.string(),
    state: z.enum(NOTIFICATION_STATES),
    createdAt: z.string(),
    sentAt: z.string().optional(),
  })
  .openapi('Notification');
