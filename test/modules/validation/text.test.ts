/**
 * The text policy's pure rules (src/platform/text.ts), without a database: what each kind of
 * field accepts, and that the service's own cuts keep whole characters.
 */
import fc from 'fast-check';
import { expect } from '../../support/expect';
import { piece } from '../../support/random-text';
import {
  checkText,
  codePointLength,
  cutText,
  graphemes,
  isStorableText,
  type TextKind,
} from '../../../src/platform/text';

/** A value in a test title with invisible and control characters spelled out (titles are printed). */
const shown = (s: string) =>
  JSON.stringify(s).replace(
    /[\p{Cf}\p{Cs}\p{Cc}\u2028\u2029]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

describe('T1 checkText (pure)', () => {
  const cases: [string, TextKind, number, string | null][] = [
    // value, kind, max, expected problem code (null: accepted)
    ['张三', 'name', 32, null],
    ['张\u202e三', 'name', 32, 'bidi'],
    ['张\u2067三', 'line', 100, 'bidi'],
    ['李\u0007四', 'line', 100, 'control'],
    ['王\u001b[31m五', 'multiline', 100, 'control'],
    ['孙\u0085七', 'line', 100, 'control'],
    ['a\ud800b', 'multiline', 100, 'ill_formed'],
    ['周\u200b八', 'name', 32, 'zero_width'],
    ['周\u200d八', 'name', 32, 'zero_width'],
    ['👨‍👩‍👧', 'line', 100, null],
    ['第一行\n第二行', 'line', 100, 'newline'],
    ['第一行\u2028第二行', 'name', 100, 'newline'],
    ['第一行\r\n第二行', 'multiline', 100, null],
    ['   ', 'line', 10, 'empty'],
    ['🍚'.repeat(10), 'line', 10, null],
    ['🍚'.repeat(11), 'line', 10, 'too_long'],
  ];
  for (const [value, kind, max, code] of cases) {
    it(`${shown(value)} as ${kind} (max ${max}) → ${code ?? 'accepted'}`, () => {
      const r = checkText(value, { kind, max });
      if (code === null) expect(r).to.have.property('value');
      else expect('problem' in r && r.problem.code).to.equal(code);
    });
  }

  it('stores text trimmed and NFC, CRLF as LF in long text; lengths count code points after NFC', () => {
    expect(checkText('  e\u0301\uf900  ', { kind: 'line', max: 2 })).to.deep.equal({
      value: '\u00e9\u8c48',
    });
    expect(checkText('a\r\nb\rc', { kind: 'multiline', max: 10 })).to.deep.equal({
      value: 'a\nb\nc',
    });
  });

  it('every accepted value is storable, NFC, and within its limit', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 30 }),
        fc.constantFrom<TextKind>('line', 'multiline'),
        (pieces, kind) => {
          const r = checkText(pieces.join(''), { kind, max: 60 });
          if ('value' in r) {
            expect(isStorableText(r.value)).to.equal(true);
            expect(r.value).to.equal(r.value.normalize('NFC'));
            expect(codePointLength(r.value)).to.be.at.most(60);
          } else {
            expect(r.problem.code).to.equal('too_long');
          }
        },
      ),
      { numRuns: 500, seed: 20_261_126 },
    );
  });
});

describe('T2 cutText (pure)', () => {
  it('keeps text within the limit, ends a cut with …, and cuts only between grapheme clusters', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 2, max: 120 }),
        (pieces, max) => {
          const s = pieces.join('');
          const cut = cutText(s, max);
          expect(codePointLength(cut)).to.be.at.most(max);
          expect(isStorableText(cut)).to.equal(true);
          if (codePointLength(s) <= max) {
            expect(cut).to.equal(s);
            return;
          }
          expect(cut.endsWith('…')).to.equal(true);
          const kept = graphemes(cut.slice(0, -1));
          expect(kept).to.deep.equal(graphemes(s).slice(0, kept.length));
        },
      ),
      { numRuns: 1000, seed: 20_261_126 },
    );
  });

  it('never splits a surrogate pair or an emoji sequence where a UTF-16 cut would', () => {
    const family = '👨‍👩‍👧‍👦'; // 7 code points, 11 UTF-16 units
    expect(cutText(`${family}${family}`, 10)).to.equal(`${family}…`);
    expect(cutText('🍚🍚🍚', 2)).to.equal('🍚…');
  });
});
