/**
 * Which OSS operation a request is, from its method, whether it names a key, its sub-resources and a few headers.
 * Operations the emulator does not implement are classified as `Unsupported` and answered NotImplemented, so a
 * client never gets a silent success (a CopyObject must not quietly create an empty object).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { SIGNED_SUB_RESOURCES } from './signature';
import type { RequestTarget } from './addressing';

export const OssOperation = {
  PutObject: 'PutObject',
  GetObject: 'GetObject',
  HeadObject: 'HeadObject',
  GetObjectMeta: 'GetObjectMeta',
  DeleteObject: 'DeleteObject',
  DeleteMultipleObjects: 'DeleteMultipleObjects',
  GetObjectTagging: 'GetObjectTagging',
  ListObjects: 'ListObjects',
  ListObjectsV2: 'ListObjectsV2',
  InitiateMultipartUpload: 'InitiateMultipartUpload',
  UploadPart: 'UploadPart',
  CompleteMultipartUpload: 'CompleteMultipartUpload',
  AbortMultipartUpload: 'AbortMultipartUpload',
  ListParts: 'ListParts',
  ListMultipartUploads: 'ListMultipartUploads',
  Unsupported: 'Unsupported',
} as const;
export type OssOperation = (typeof OssOperation)[keyof typeof OssOperation];

export interface Classified {
  op: OssOperation;
  /** For Unsupported: what was asked, for the NotImplemented message. */
  unsupported?: string;
}

/** Sub-resources that only shape a GET answer; they do not make it another operation. */
const RESPONSE_OVERRIDES = new Set([
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
]);

/**
 * Signed parameters that are not operations: the STS token of a signed URL, and the ListObjectsV2 page token
 * (signed, yet only a listing parameter).
 */
const NON_OPERATION_PARAMS = new Set(['security-token', 'continuation-token']);

function subResources(query: URLSearchParams, allowed: readonly string[] = []): string[] {
  return [...new Set(query.keys())].filter(
    (name) =>
      SIGNED_SUB_RESOURCES.has(name) && !NON_OPERATION_PARAMS.has(name) && !RESPONSE_OVERRIDES.has(name) && !allowed.includes(name),
  );
}

function unsupported(method: string, target: RequestTarget, extra: string[]): Classified {
  const what = extra.length > 0 ? `${method} ?${extra.join('&')}` : `${method} ${target.key === '' ? 'bucket' : 'object'}`;
  return { op: OssOperation.Unsupported, unsupported: what };
}

export function classifyOperation(method: string, target: RequestTarget, headers: IncomingHttpHeaders): Classified {
  const { query } = target;
  if (target.bucket === null) return { op: OssOperation.Unsupported, unsupported: `${method} service (ListBuckets)` };

  if (target.key === '') {
    const subs = subResources(query);
    if (method === 'GET') {
      if (query.has('uploads') && subs.length === 1) return { op: OssOperation.ListMultipartUploads };
      if (subs.length > 0) return unsupported(method, target, subs);
      return { op: query.get('list-type') === '2' ? OssOperation.ListObjectsV2 : OssOperation.ListObjects };
    }
    if (method === 'POST' && query.has('delete') && subs.length === 1) return { op: OssOperation.DeleteMultipleObjects };
    return unsupported(method, target, subs);
  }

  const copySource = headers['x-oss-copy-source'] !== undefined;
  switch (method) {
    case 'PUT': {
      const subs = subResources(query, ['uploadId', 'partNumber']);
      if (subs.length > 0) return unsupported(method, target, subs);
      if (copySource) return unsupported(method, target, ['x-oss-copy-source']);
      if (query.has('uploadId') && query.has('partNumber')) return { op: OssOperation.UploadPart };
      if (query.has('uploadId') || query.has('partNumber')) return unsupported(method, target, ['partNumber/uploadId']);
      return { op: OssOperation.PutObject };
    }
    case 'GET': {
      const subs = subResources(query);
      if (subs.length === 0) return { op: OssOperation.GetObject };
      if (subs.length === 1 && subs[0] === 'uploadId') return { op: OssOperation.ListParts };
      if (subs.length === 1 && subs[0] === 'tagging') return { op: OssOperation.GetObjectTagging };
      return unsupported(method, target, subs);
    }
    case 'HEAD': {
      const subs = subResources(query);
      if (subs.length === 0) return { op: OssOperation.HeadObject };
      if (subs.length === 1 && subs[0] === 'objectMeta') return { op: OssOperation.GetObjectMeta };
      return unsupported(method, target, subs);
    }
    case 'POST': {
      const subs = subResources(query);
      if (subs.length === 1 && subs[0] === 'uploads') return { op: OssOperation.InitiateMultipartUpload };
      if (subs.length === 1 && subs[0] === 'uploadId') return { op: OssOperation.CompleteMultipartUpload };
      return unsupported(method, target, subs);
    }
    case 'DELETE': {
      const subs = subResources(query);
      if (subs.length === 0) return { op: OssOperation.DeleteObject };
      if (subs.length === 1 && subs[0] === 'uploadId') return { op: OssOperation.AbortMultipartUpload };
      return unsupported(method, target, subs);
    }
    default:
      return unsupported(method, target, []);
  }
}
