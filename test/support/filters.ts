/**
 * The filters the service sends while something runs (mongoose's debug hook), for tests that hold
 * a path to FerretDB's limit: only a lone `_id` equality reaches an index there, any other filter
 * (and `$in`) reads the whole collection. Each is reported as `<collection> <method> _id` for a
 * lone `_id` equality, else `<collection> <method> <the filter as JSON>`.
 */
import mongoose, { Types } from 'mongoose';

/** The methods that carry a filter. */
const FILTERED = new Set([
  'find',
  'findOne',
  'updateOne',
  'updateMany',
  'replaceOne',
  'deleteOne',
  'deleteMany',
  'findOneAndUpdate',
  'countDocuments',
]);

/** Whether a filter is a lone `_id` equality (a string, number or ObjectId, not an operator). */
export function isLoneIdFilter(filter: Record<string, unknown>): boolean {
  const keys = Object.keys(filter);
  if (keys.length !== 1 || keys[0] !== '_id') return false;
  return typeof filter._id !== 'object' || filter._id instanceof Types.ObjectId;
}

/** The filters sent while `run` runs (see the module doc). */
export async function filtersSent(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
    if (!FILTERED.has(method)) return;
    const filter = (args[0] ?? {}) as Record<string, unknown>;
    seen.push(`${collection} ${method} ${isLoneIdFilter(filter) ? '_id' : JSON.stringify(filter)}`);
  });
  try {
    await run();
  } finally {
    mongoose.set('debug', false);
  }
  return seen;
}

/** Of the filters sent, those that are not a lone `_id` equality. */
export const notLoneId = (seen: string[]): string[] => seen.filter((s) => !s.endsWith(' _id'));
