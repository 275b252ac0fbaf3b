import fc from 'fast-check';
import { expect } from '../../support/expect';
import { piece } from '../../support/random-text';
import {
  displayWidth,
  maskCard,
  renderReceipt,
  RECEIPT_WIDTH,
  shanghaiDay,
  shanghaiTime,
  truncateToWidth,
  wrapToWidth,
} from '../../../src/modules/redemption/receipt';

describe('receipt text (pure)', () => {
  it('counts CJK and full-width characters as two columns, ASCII as one', () => {
    expect(displayWidth('abc')).to.equal(3);
    expect(displayWidth('大米')).to.equal(4);
    expect(displayWidth('单号：')).to.equal(6);
    expect(displayWidth('（优质）')).to.equal(8);
    expect(displayWidth('A5笔记本')).to.equal(8);
    expect(displayWidth('한글')).to.equal(4);
  });

  it('cuts and wraps by columns, never splitting a character', () => {
    expect(truncateToWidth('大米五公斤', 5)).to.equal('大米');
    expect(wrapToWidth('东北大米五公斤装', 6)).to.deep.equal(['东北大', '米五公', '斤装']);
    expect(wrapToWidth('', 6)).to.deep.equal(['']);
  });

  it('T2 cuts and wraps between grapheme clusters: an emoji ZWJ sequence, a flag, a letter with its marks stay whole', () => {
    const family = '👨‍👩‍👧‍👦';
    expect(displayWidth(family)).to.equal(2);
    expect(displayWidth('🇨🇳')).to.equal(2);
    expect(displayWidth('e\u0301\u0323')).to.equal(1);
    expect(truncateToWidth(`${family}${family}米`, 3)).to.equal(family);
    expect(wrapToWidth(`米${family}🇨🇳e\u0301x`, 3)).to.deep.equal(['米', family, '🇨🇳e\u0301', 'x']);
    // A cluster wider than the line still gets a line of its own (never an endless loop).
    expect(wrapToWidth('米米', 1)).to.deep.equal(['米', '米']);
  });

  it('T2 never splits a grapheme cluster, whatever the name (CJK, astral, emoji sequences, combining marks)', () => {
    const segmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });
    const clusters = (t: string) => Array.from(segmenter.segment(t), (x) => x.segment);
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 2, max: 32 }),
        (pieces, width) => {
          const name = pieces.join('');
          const lines = wrapToWidth(name, width);
          expect(lines.join('')).to.equal(name);
          // Every line is a run of whole clusters of the name.
          const all = clusters(name);
          let i = 0;
          for (const line of lines) {
            const own = clusters(line);
            expect(own).to.deep.equal(all.slice(i, i + own.length));
            i += own.length;
            expect(displayWidth(line)).to.be.at.most(width);
          }
        },
      ),
      { numRuns: 300, seed: 20_261_126 },
    );
  });

  it('Asia/Shanghai day and time are UTC+8', () => {
    expect(shanghaiDay(new Date('2030-06-01T15:59:59Z'))).to.equal('2030-06-01');
    expect(shanghaiDay(new Date('2030-06-01T16:00:00Z'))).to.equal('2030-06-02');
    expect(shanghaiTime(new Date('2030-06-01T16:00:00Z'))).to.equal('2030-06-02 00:00:00');
  });

  it('masks the card number but the last four characters', () => {
    expect(maskCard('C-2024-000123')).to.equal('********0123');
    expect(maskCard('1234')).to.equal('1234');
  });

  it('every line of any receipt is at most 32 columns and every number is printed whole, whatever the names, quantities and totals', () => {
    const name = fc.oneof(
      fc.stringOf(
        fc.constantFrom('大', '米', '油', 'a', 'B', '5', '（', '）', ' ', '-', '한', 'é'),
        {
          minLength: 1,
          maxLength: 64,
        },
      ),
      fc.array(piece, { minLength: 1, maxLength: 30 }).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name,
            qty: fc.integer({ min: 1, max: 999 }),
            points: fc.integer({ min: 1, max: 1_000_000_000 }),
          }),
          { minLength: 1, maxLength: 50 },
        ),
        name,
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.boolean(),
        (items, storeName, spendableAfter, reversed) => {
          const text = renderReceipt({
            receiptNo: '665F1C2E9B1E4A0012345678',
            storeName,
            cardNo: 'C-0001-2345',
            terminalId: 'term_0123456789abcdef01',
            occurredAt: new Date('2030-01-01T00:00:00Z'),
            offline: true,
            items,
            points: items.reduce((a, i) => a + i.points, 0),
            spendableAfter,
            ...(reversed ? { reversedAt: new Date('2030-01-01T01:00:00Z') } : {}),
          });
          for (const line of text.split('\n'))
            expect(displayWidth(line), line).to.be.at.most(RECEIPT_WIDTH);
          // Numbers are printed whole, never cut to fit.
          for (const item of items)
            expect(text).to.match(new RegExp(`x${item.qty} +${item.points}\n`));
          expect(text).to.include(` ${spendableAfter}\n`);
          expect(text.endsWith('\n')).to.equal(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
