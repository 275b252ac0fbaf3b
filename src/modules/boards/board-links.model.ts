/**
 * Board links (大屏链接): a village station's screen shows the village's red and black lists
 * without anyone signed in on it. A clerk creates one link per screen; the service keeps only the
 * SHA-256 of its 256-bit secret, as the document's `_id`, so each refresh is one lone-`_id`
 * read and a leaked database copy opens no screen. A link is never deleted: revoking it records
 * who and when, and the screen holding it stops at its next refresh.
 */
import mongoose, { Schema } from 'mongoose';

export interface BoardLinkDoc {
  /** Hex SHA-256 of the link's secret. */
  _id: string;
  /** The id clerks see and revoke by (the hash is never shown). */
  linkId: string;
  villageId: string;
  /** Where the screen is, e.g. 村部大厅. */
  label: string;
  createdBy: string;
  createdAt: Date;
  revokedBy?: string;
  revokedAt?: Date;
}

const boardLinkSchema = new Schema<BoardLinkDoc>(
  {
    _id: { type: String, required: true },
    linkId: { type: String, required: true, unique: true },
    villageId: { type: String, required: true, index: true },
    label: { type: String, required: true },
    createdBy: { type: String, required: true },
    createdAt: { type: Date, required: true },
    revokedBy: String,
    revokedAt: Date,
  },
  { collection: 'board_links', versionKey: false, strict: 'throw' },
);

export const BoardLink = mongoose.model<BoardLinkDoc>('BoardLink', boardLinkSchema);
