/**
 * Evidence photos a clerk attaches to a submission (a certificate, a volunteer day). Append-only:
 * an attachment is evidence the council voted on, so it is never changed or deleted; update and
 * delete are refused at the model layer, as for ledger entries.
 */
import mongoose, { Schema } from 'mongoose';

export interface AttachmentDoc {
  _id: mongoose.Types.ObjectId;
  villageId: string;
  contentType: string;
  bytes: number;
  /** Lowercase hex SHA-256 of `data`, so a copy can be checked against the record. */
  sha256: string;
  data: Buffer;
  createdBy: string;
  createdAt: Date;
}

const attachmentSchema = new Schema<AttachmentDoc>(
  {
    villageId: { type: String, required: true },
    contentType: { type: String, required: true },
    bytes: { type: Number, required: true },
    sha256: { type: String, required: true },
    data: { type: Buffer, required: true },
    createdBy: { type: String, required: true },
  },
  {
    collection: 'attachments',
    timestamps: { createdAt: true, updatedAt: false },
    versionKey: false,
    strict: 'throw',
  },
);

const refuse = function (): never {
  throw new Error('attachments are append-only: update and delete are not allowed');
};
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
  attachmentSchema.pre(op, refuse);
}
attachmentSchema.pre(['updateOne', 'deleteOne'], { document: true, query: false }, refuse);
attachmentSchema.pre('save', function () {
  if (!this.isNew) refuse();
});
attachmentSchema.pre('bulkWrite', refuse);

export const Attachment = mongoose.model<AttachmentDoc>('Attachment', attachmentSchema);
