/**
 * The Range header as OSS reads it: a single `bytes=` range is honoured; a malformed or multi-range header is
 * ignored (whole object, 200); an unsatisfiable range is ignored too unless the client asked for standard
 * behaviour with `x-oss-range-behavior: standard`, which gets 416 InvalidRange.
 */

export type RangeDecision =
  | { kind: 'whole' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

export function decideRange(rangeHeader: string | undefined, size: number, standardBehavior: boolean): RangeDecision {
  if (rangeHeader === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(rangeHeader);
  if (!match || (match[1] === '' && match[2] === '')) return { kind: 'whole' };

  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffixLength = Number(match[2]);
    if (suffixLength === 0) return standardBehavior ? { kind: 'unsatisfiable' } : { kind: 'whole' };
    start = Math.max(0, size - suffixLength);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== '' && Number(match[2]) < start) return { kind: 'whole' };
  }
  if (start >= size || end < start) return standardBehavior ? { kind: 'unsatisfiable' } : { kind: 'whole' };
  return { kind: 'partial', start, end };
}
