/**
 * Hostile-but-legal text for tests: random strings of Chinese characters (incl. the astral
 * extension B plane), emoji (skin tones, flags, keycaps, ZWJ families), letters with stacked
 * combining marks, decomposed Hangul and CJK compatibility ideographs (both of which NFC
 * rewrites), at exact lengths, so a test can hit the edges of every length limit.
 *
 * Lengths are counted as the text policy counts them: code points after NFC.
 */
import fc from 'fast-check';

const codePoints = (s: string) => [...s].length;
const nfcLength = (s: string) => codePoints(s.normalize('NFC'));

/** Emoji a shop or a clerk might really type, incl. multi-code-point sequences. */
export const EMOJI = ['😀', '👍🏽', '🍚', '🧴', '🇨🇳', '❤️', '1️⃣', '🏳️‍🌈', '👨‍👩‍👧‍👦', '🧑🏿‍🌾', '👩‍❤️‍💋‍👨'] as const;

/** One piece of text: whatever a reader sees as one or a few characters. */
export const piece: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.integer({ min: 0x4e00, max: 0x9fff }).map((c) => String.fromCodePoint(c)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0x20000, max: 0x2a6df }).map((c) => String.fromCodePoint(c)),
  },
  { weight: 3, arbitrary: fc.constantFrom(...EMOJI) },
  {
    weight: 2,
    // A base with 1–3 combining marks (NFC composes some, reorders others, keeps the rest).
    arbitrary: fc
      .tuple(
        fc.constantFrom('a', 'e', 'o', 'q', 'u', 'ü', 'A', '中'),
        fc.array(fc.integer({ min: 0x300, max: 0x36f }), { minLength: 1, maxLength: 3 }),
      )
      .map(([base, marks]) => base + String.fromCodePoint(...marks)),
  },
  // Decomposed Hangul (NFC makes one syllable of three jamo) and CJK compatibility ideographs.
  { weight: 1, arbitrary: fc.constantFrom('\u1100\u1161\u11a8', '\u1112\u1161\u11ab') },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0xf900, max: 0xfa0d }).map((c) => String.fromCodePoint(c)),
  },
  { weight: 1, arbitrary: fc.constantFrom('中 文', '（测试）', 'A5', '×2', '、') },
);

/** Filler that NFC leaves alone and that never joins its neighbour. */
const FILL = '积';

/**
 * A string of exactly `length` code points after NFC, from the given pieces (the last few are
 * replaced by filler when a piece would overshoot). Starts and ends with no whitespace.
 */
export function textOfLength(pieces: readonly string[], length: number): string {
  let s = '';
  for (const p of pieces) {
    if (nfcLength(s + p) > length) break;
    s += p;
  }
  while (nfcLength(s) < length) s += FILL;
  if (nfcLength(s) !== length) throw new Error('textOfLength: NFC joined across pieces');
  return s;
}

/** Random text of exactly `length` code points (after NFC). */
export const textOf = (length: number): fc.Arbitrary<string> =>
  fc
    .array(piece, { minLength: 1, maxLength: length })
    .map((pieces) => textOfLength(pieces, length));

/**
 * Random text for a field of at most `max` code points: half at the edges (1, 2, max − 1, max),
 * half anywhere in between.
 */
export const textWithin = (max: number): fc.Arbitrary<string> =>
  fc
    .oneof(fc.constantFrom(1, 2, max - 1, max), fc.integer({ min: 1, max }))
    .chain((n) => textOf(n));

/** Deterministic samples of an arbitrary (same seed, same strings on every run and backend). */
export function samples<T>(arb: fc.Arbitrary<T>, count: number, seed: number): T[] {
  return fc.sample(arb, { numRuns: count, seed });
}

/** The text as the service stores it: trimmed, NFC. */
export const stored = (s: string): string => s.trim().normalize('NFC');

export { codePoints };
