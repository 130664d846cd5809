/**
 * The OSS emulator's pure rules: signature canonicalization (checked against ali-oss's own signer), addressing,
 * listing pages, ranges, multipart completion, request XML and fault bookkeeping.
 */
import { createHash } from 'node:crypto';
import { crc64 } from '../../lib/crc64';
import { resolveTarget } from '../../sandbox/oss/addressing';
import { FaultInjector } from '../../sandbox/oss/faults';
import { compareKeys } from '../../sandbox/oss/key-order';
import { listPage } from '../../sandbox/oss/listing';
import { combinedCrc64, multipartEtag, selectParts, type UploadedPart } from '../../sandbox/oss/multipart';
import { decideRange } from '../../sandbox/oss/range';
import { canonicalizedResource, computeSignature, stringToSign, verifyRequestSignature } from '../../sandbox/oss/signature';
import { parseCompleteMultipartUpload, parseDeleteMultipleObjects } from '../../sandbox/oss/xml';

// ali-oss's signer, the reference the emulator must agree with (plain JS, no typings).
const aliSignUtils = require('ali-oss/lib/common/signUtils') as {
  buildCanonicalString(method: string, resource: string, request: { headers: Record<string, string>; parameters?: unknown }): string;
};

function md5(text: string): Buffer {
  return createHash('md5').update(text).digest();
}

function part(partNumber: number, size: number, content = `part-${partNumber}`): UploadedPart {
  return { partNumber, filePath: `/tmp/${partNumber}`, size, md5: md5(content), crc64: BigInt(crc64(Buffer.from(content))) };
}

describe('signature', () => {
  const headers = {
    'content-md5': 'XUFAKrxLKna5cZ2REBfFkg==',
    'content-type': 'text/plain',
    'x-oss-date': 'Fri, 27 Nov 2026 10:00:00 GMT',
    'x-oss-security-token': 'token',
    'x-oss-meta-b': ' spaced value ',
    'x-oss-forbid-overwrite': 'true',
  };

  test.each([
    ['PUT', 'logs/a b.gz', { partNumber: '3', uploadId: 'ABC' }],
    ['POST', 'logs/a.gz', { uploads: '' }],
    ['GET', '', { 'continuation-token': 'dG9r' }],
    ['HEAD', 'x', {}],
  ])('%s %s: the string to sign equals ali-oss buildCanonicalString', (method, key, subres) => {
    const query = new URLSearchParams({ ...subres, prefix: 'unsigned/', 'list-type': '2' });
    const trimmedHeaders = { ...headers, 'x-oss-meta-b': headers['x-oss-meta-b'].trim() };

    const ours = stringToSign({ method, headers: trimmedHeaders, bucket: 'archive', key, query }, headers['x-oss-date']);
    const theirs = aliSignUtils.buildCanonicalString(method, `/archive/${key}`, { headers, parameters: subres });

    expect(ours).toBe(theirs);
  });

  test('the canonical resource keeps only signed sub-resources, sorted, value-less ones bare', () => {
    const query = new URLSearchParams('uploadId=U1&partNumber=2&prefix=p&max-keys=5&acl');

    expect(canonicalizedResource('archive', 'k', query)).toBe('/archive/k?acl&partNumber=2&uploadId=U1');
    expect(canonicalizedResource(null, '', new URLSearchParams())).toBe('/');
  });

  test('verification refuses a tampered resource and accepts the signed one', () => {
    const account = { accessKeyId: 'LTAIkey', accessKeySecret: 'secret' };
    const date = new Date(Date.UTC(2026, 10, 27, 10)).toUTCString();
    const base = { method: 'GET', bucket: 'archive', key: 'a', query: new URLSearchParams() };
    const signature = computeSignature('secret', stringToSign({ ...base, headers: { 'x-oss-date': date } }, date));
    const request = { ...base, headers: { 'x-oss-date': date, authorization: `OSS LTAIkey:${signature}` } };
    const options = { accounts: [account], nowMs: Date.parse(date), maxClockSkewMs: 60_000 };

    expect(verifyRequestSignature(request, options)).toBe(account);
    expect(() => verifyRequestSignature({ ...request, key: 'b' }, options)).toThrow(
      expect.objectContaining({ code: 'SignatureDoesNotMatch' }),
    );
  });
});

describe('addressing', () => {
  test('a bucket host is virtual-host style; IP, localhost and region hosts are path style', () => {
    expect(resolveTarget('archive.oss-cn-hangzhou.aliyuncs.com', '/a/b%20c?uploads')).toMatchObject({
      style: 'virtual-host',
      bucket: 'archive',
      key: 'a/b c',
    });
    expect(resolveTarget('127.0.0.1:9000', '/archive/a/b')).toMatchObject({ style: 'path', bucket: 'archive', key: 'a/b' });
    expect(resolveTarget('localhost:9000', '/archive')).toMatchObject({ style: 'path', bucket: 'archive', key: '' });
    expect(resolveTarget('oss-cn-hangzhou.aliyuncs.com', '/')).toMatchObject({ style: 'path', bucket: null });
  });
});

describe('listPage', () => {
  const sortedKeys = ['a', 'a/1', 'a/2', 'a/3/x', 'a/3/y', 'b/1', 'c'];

  test('the key equal to the prefix is listed; keys outside the prefix are not', () => {
    expect(listPage({ sortedKeys, prefix: 'a', delimiter: '', after: '', maxKeys: 100 }).keys).toEqual([
      'a',
      'a/1',
      'a/2',
      'a/3/x',
      'a/3/y',
    ]);
  });

  test('a truncated page says where the next one starts, and the next one goes on from there', () => {
    const first = listPage({ sortedKeys, prefix: 'a/', delimiter: '/', after: '', maxKeys: 2 });
    const second = listPage({ sortedKeys, prefix: 'a/', delimiter: '/', after: first.nextAfter ?? '', maxKeys: 2 });

    expect(first).toEqual({ keys: ['a/1', 'a/2'], commonPrefixes: [], isTruncated: true, nextAfter: 'a/2' });
    expect(second).toEqual({ keys: [], commonPrefixes: ['a/3/'], isTruncated: false, nextAfter: null });
  });

  test('a marker inside a common prefix does not return that prefix again', () => {
    const page = listPage({ sortedKeys, prefix: '', delimiter: '/', after: 'a/3/x', maxKeys: 100 });

    expect(page.commonPrefixes).toEqual(['b/']);
    expect(page.keys).toEqual(['c']);
  });
});

describe('compareKeys', () => {
  test('orders keys as their UTF-8 bytes do, including characters beyond the BMP', () => {
    const keys = ['\u{1F600}.gz', '\uFF01.gz', 'b', 'a/1', 'a', 'é'];

    const sorted = [...keys].sort(compareKeys);

    expect(sorted).toEqual([...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    expect(sorted.indexOf('\uFF01.gz')).toBeLessThan(sorted.indexOf('\u{1F600}.gz'));
  });
});

describe('decideRange', () => {
  test.each([
    ['bytes=0-3', 10, { kind: 'partial', start: 0, end: 3 }],
    ['bytes=7-', 10, { kind: 'partial', start: 7, end: 9 }],
    ['bytes=-4', 10, { kind: 'partial', start: 6, end: 9 }],
    ['bytes=5-100', 10, { kind: 'partial', start: 5, end: 9 }],
    ['bytes=0-1,4-5', 10, { kind: 'whole' }],
    ['bytes=20-30', 10, { kind: 'whole' }],
  ])('%s of %d bytes', (header, size, expected) => {
    expect(decideRange(header, size, false)).toEqual(expected);
  });

  test('an unsatisfiable range is 416 only with standard range behaviour', () => {
    expect(decideRange('bytes=20-30', 10, true)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('multipart completion', () => {
  const uploaded = new Map([1, 2, 3].map((number) => [number, part(number, number < 3 ? 100 * 1024 : 10)]));
  const ref = (number: number) => ({ partNumber: number, etag: `"${md5(`part-${number}`).toString('hex').toUpperCase()}"` });

  test('parts out of order are InvalidPartOrder', () => {
    expect(() => selectParts([ref(2), ref(1)], uploaded)).toThrow(expect.objectContaining({ code: 'InvalidPartOrder' }));
  });

  test('a small part before the last is EntityTooSmall', () => {
    const small = new Map(uploaded).set(2, part(2, 99 * 1024));

    expect(() => selectParts([ref(1), ref(2), ref(3)], small)).toThrow(expect.objectContaining({ code: 'EntityTooSmall' }));
  });

  test('an unknown part is InvalidPart; ETags match case-insensitively without quotes', () => {
    expect(() => selectParts([ref(1), ref(4)], uploaded)).toThrow(expect.objectContaining({ code: 'InvalidPart' }));
    expect(selectParts([{ partNumber: 1, etag: ref(1).etag.replace(/"/g, '').toLowerCase() }], uploaded)).toHaveLength(1);
  });

  test('the ETag is MD5 of the binary part MD5s with the part count; the CRC is that of the concatenation', () => {
    const parts = [part(1, 6, 'alpha-'), part(2, 5, 'omega')];

    expect(multipartEtag(parts)).toBe(
      `"${createHash('md5').update(Buffer.concat([md5('alpha-'), md5('omega')])).digest('hex').toUpperCase()}-2"`,
    );
    expect(combinedCrc64(parts).toString()).toBe(crc64(Buffer.from('alpha-omega')));
  });
});

describe('request XML', () => {
  test('CompleteMultipartUpload parts are read with their ETags', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload>\n<Part>\n<PartNumber>1</PartNumber>\n' +
      '<ETag>"AB"</ETag>\n</Part>\n<Part><PartNumber>2</PartNumber><ETag>&quot;CD&quot;</ETag></Part></CompleteMultipartUpload>';

    expect(parseCompleteMultipartUpload(xml)).toEqual([
      { partNumber: 1, etag: '"AB"' },
      { partNumber: 2, etag: '"CD"' },
    ]);
  });

  test('a Delete document yields its keys unescaped; a wrong root is MalformedXML', () => {
    const xml = '<Delete><Quiet>true</Quiet><Object><Key>a&amp;b&#39;c</Key></Object></Delete>';

    expect(parseDeleteMultipleObjects(xml)).toEqual({ quiet: true, keys: ["a&b'c"] });
    expect(() => parseDeleteMultipleObjects('<Remove/>')).toThrow(expect.objectContaining({ code: 'MalformedXML' }));
  });
});

describe('FaultInjector', () => {
  const request = (op: string) => ({ op, method: 'PUT', bucket: 'b', key: 'k', query: new URLSearchParams() });

  test('a rule fires for its count of matching requests only, then stops', () => {
    const faults = new FaultInjector();
    faults.failNext(2, 503, (candidate) => candidate.op === 'PutObject');

    const outcomes = ['GetObject', 'PutObject', 'PutObject', 'PutObject'].map((op) => faults.take(request(op)));

    expect(outcomes).toEqual([null, { kind: 'fail', status: 503 }, { kind: 'fail', status: 503 }, null]);
  });

  test('reset clears pending faults and the delay', () => {
    const faults = new FaultInjector();
    faults.resetNext(1);
    faults.setDelayMs(50);

    faults.reset();

    expect(faults.take(request('PutObject'))).toBeNull();
    expect(faults.delayMs).toBe(0);
  });
});
