/**
 * Evidence photos. A clerk uploads a photo of their own village (the page shrinks it first);
 * the submission's evidence then names it as `attachment:<id>`. The village's clerk and council
 * and the county office read it; anyone else gets `not_found`.
 *
 * Invariants:
 * - The stored bytes are exactly the bytes uploaded, and `sha256` is computed from them.
 * - The declared type matches the file's own signature (a JPEG starts FF D8 FF, …), so a page
 *   never serves a script or HTML under an image type.
 */
import { createHash } from 'node:crypto';
import { Types } from 'mongoose';
import { DomainError, notFound, validationError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { findVillage } from '../villages/villages.service';
import { Attachment, type AttachmentDoc } from './attachments.model';
import type { z } from '../../platform/validation';
import type { attachmentSchema } from './attachments.schemas';

/** Largest photo accepted: the page shrinks a phone photo to ~1600 px, well under this. */
export const ATTACHMENT_BYTES_MAX = 700 * 1024;
export const ATTACHMENT_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type AttachmentType = (typeof ATTACHMENT_TYPES)[number];
/** How a submission's evidence names an attachment. */
export const ATTACHMENT_REF_PREFIX = 'attachment:';

const SIGNATURES: Record<AttachmentType, (b: Buffer) => boolean> = {
  'image/jpeg': (b) => b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  'image/png': (b) =>
    b.length > 8 &&
    b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/webp': (b) =>
    b.length > 12 &&
    b.subarray(0, 4).toString('latin1') === 'RIFF' &&
    b.subarray(8, 12).toString('latin1') === 'WEBP',
};

export type AttachmentView = z.infer<typeof attachmentSchema>;

const toView = (d: AttachmentDoc): AttachmentView => ({
  id: d._id.toHexString(),
  ref: `${ATTACHMENT_REF_PREFIX}${d._id.toHexString()}`,
  villageId: d.villageId,
  contentType: d.contentType,
  bytes: d.bytes,
  sha256: d.sha256,
  createdAt: d.createdAt.toISOString(),
});

/** Stores a photo for the clerk's own village (admin: any village). */
export async function createAttachment(
  p: Principal,
  input: { villageId: string; contentType: AttachmentType; data: string },
): Promise<AttachmentView> {
  if (p.role === 'clerk' && p.villageId !== input.villageId) throw notFound('village');
  if (!(await findVillage(input.villageId))) throw notFound('village');
  const bytes = Buffer.from(input.data, 'base64');
  if (!bytes.length) throw validationError([{ path: 'data', message: 'empty file' }]);
  if (bytes.length > ATTACHMENT_BYTES_MAX)
    throw validationError([{ path: 'data', message: `at most ${ATTACHMENT_BYTES_MAX} bytes` }]);
  if (!SIGNATURES[input.contentType](bytes))
    throw validationError([
      { path: 'contentType', message: `the file is not ${input.contentType}` },
    ]);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const [doc] = await Attachment.create([
    {
      villageId: input.villageId,
      contentType: input.contentType,
      bytes: bytes.length,
      sha256,
      data: bytes,
      createdBy: p.id,
    },
  ]);
  return toView(doc!.toObject());
}

/** The photo's bytes and type, for the village's clerk and council and the county office. */
export async function readAttachment(
  p: Principal,
  id: string,
): Promise<{ contentType: string; data: Buffer; sha256: string }> {
  const doc = Types.ObjectId.isValid(id)
    ? await Attachment.findById(id).lean<AttachmentDoc>()
    : null;
  if (!doc || (p.role !== 'admin' && p.villageId !== doc.villageId)) throw notFound('attachment');
  // A lean read gives the driver's Binary (its `buffer` is the bytes), not a Node Buffer.
  const raw = doc.data as unknown;
  const data = Buffer.isBuffer(raw) ? raw : Buffer.from((raw as { buffer: Uint8Array }).buffer);
  if (createHash('sha256').update(data).digest('hex') !== doc.sha256)
    throw new DomainError('internal_error', 'The stored attachment does not match its hash.');
  return { contentType: doc.contentType, data, sha256: doc.sha256 };
}
