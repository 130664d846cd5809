/**
 * OSS lists keys in UTF-8 byte order. JavaScript's `<` compares UTF-16 code units, which differs for characters
 * beyond the BMP (surrogates) against U+E000..U+FFFF; UTF-8 byte order equals code point order, computed here
 * without encoding.
 */

function isSurrogate(codeUnit: number): boolean {
  return codeUnit >= 0xd800 && codeUnit <= 0xdfff;
}

/** Negative, zero or positive as `a` sorts before, with or after `b` in UTF-8 byte order. */
export function compareKeys(a: string, b: string): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = isSurrogate(x);
    if (xSurrogate !== isSurrogate(y)) return xSurrogate ? 1 : -1; // a supplementary code point beats any BMP one
    return x - y;
  }
  return a.length - b.length;
}
