/**
 * InitiateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload, ListParts,
 * ListMultipartUploads.
 *
 * x-oss-forbid-overwrite applies to the request that carries it: on Initiate it refuses to start when the key
 * exists; only the header on Complete protects the commit. A client that sends it on Initiate alone can still
 * overwrite an object created meanwhile, as on OSS.
 */
import { checkContentMd5, receiveSmallBody } from './body';
import { receiveUpload, requireValidKey, type OssAnswer, type OssRequestContext } from './context';
import { ossErrors } from './errors';
import { combinedCrc64, MAX_PART_NUMBER, multipartEtag, partEtag, selectParts } from './multipart';
import { forbidsOverwrite, objectHeadersFromRequest, refuseConditionalWrite } from './object-headers';
import { parseCompleteMultipartUpload, xmlDocument, type XmlNode } from './xml';

/** 10,000 parts of about 100 bytes of XML each. */
const MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024;

function xmlAnswer(root: XmlNode, headers: Record<string, string> = {}): OssAnswer {
  return { status: 200, headers: { 'content-type': 'application/xml', ...headers }, body: xmlDocument(root) };
}

function uploadIdOf(ctx: OssRequestContext): string {
  return ctx.query.get('uploadId') ?? '';
}

export async function initiateMultipartUpload(ctx: OssRequestContext): Promise<OssAnswer> {
  requireValidKey(ctx.key);
  refuseConditionalWrite(ctx.headers);
  const headers = objectHeadersFromRequest(ctx.headers);
  if (forbidsOverwrite(ctx.headers) && ctx.storage.getObject(ctx.bucket, ctx.key)) {
    throw ossErrors.fileAlreadyExists(ctx.key);
  }
  const upload = await ctx.storage.createUpload(ctx.bucket, ctx.key, headers);
  return xmlAnswer([
    'InitiateMultipartUploadResult',
    [
      ['Bucket', ctx.bucket],
      ['Key', ctx.key],
      ['UploadId', upload.uploadId],
    ],
  ]);
}

export async function uploadPart(ctx: OssRequestContext): Promise<OssAnswer> {
  const partNumber = Number(ctx.query.get('partNumber'));
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw ossErrors.invalidArgument(`Part number must be an integer between 1 and ${MAX_PART_NUMBER}.`);
  }
  const upload = ctx.storage.getUpload(ctx.bucket, ctx.key, uploadIdOf(ctx));
  const { tempPath, digest } = await receiveUpload(ctx);
  const part = await ctx.storage.storePart(
    upload,
    { partNumber, size: digest.size, md5: digest.md5, crc64: digest.crc64 },
    tempPath,
  );
  return {
    status: 200,
    headers: {
      etag: partEtag(part.md5),
      'x-oss-hash-crc64ecma': part.crc64.toString(),
      'content-md5': part.md5.toString('base64'),
    },
  };
}

export async function completeMultipartUpload(ctx: OssRequestContext): Promise<OssAnswer> {
  refuseConditionalWrite(ctx.headers);
  const upload = ctx.storage.getUpload(ctx.bucket, ctx.key, uploadIdOf(ctx));
  const { body, digest } = await receiveSmallBody(ctx.req, MAX_COMPLETE_BODY_BYTES, ctx.bodyTaps);
  checkContentMd5(ctx.headers['content-md5'], digest);
  const requested = parseCompleteMultipartUpload(body.toString('utf8'));
  const forbidOverwrite = forbidsOverwrite(ctx.headers);

  ctx.storage.beginCompletion(upload);
  try {
    const parts = selectParts(requested, upload.parts);
    if (forbidOverwrite && ctx.storage.getObject(ctx.bucket, ctx.key)) throw ossErrors.fileAlreadyExists(ctx.key);
    // The part files become the object as they are (O(parts), as on OSS); a refused commit leaves them in the upload.
    const stored = await ctx.storage.commitParts(
      {
        bucket: ctx.bucket,
        key: ctx.key,
        size: parts.reduce((total, part) => total + part.size, 0),
        etag: multipartEtag(parts),
        crc64: combinedCrc64(parts).toString(),
        objectType: 'Multipart',
        headers: upload.headers,
      },
      parts,
      forbidOverwrite,
    );
    await ctx.storage.discardUpload(upload);
    return xmlAnswer(
      [
        'CompleteMultipartUploadResult',
        [
          ['Location', `http://${ctx.bucket}.${ctx.region}.aliyuncs.com/${encodeURI(ctx.key)}`],
          ['Bucket', ctx.bucket],
          ['Key', ctx.key],
          ['ETag', stored.etag],
        ],
      ],
      { etag: stored.etag, 'x-oss-hash-crc64ecma': stored.crc64 },
    );
  } catch (error) {
    // A refused completion leaves the upload open: the client may correct its part list and complete again.
    ctx.storage.cancelCompletion(upload);
    throw error;
  }
}

export async function abortMultipartUpload(ctx: OssRequestContext): Promise<OssAnswer> {
  const upload = ctx.storage.getUpload(ctx.bucket, ctx.key, uploadIdOf(ctx));
  await ctx.storage.discardUpload(upload);
  return { status: 204 };
}

export async function listParts(ctx: OssRequestContext): Promise<OssAnswer> {
  const upload = ctx.storage.getUpload(ctx.bucket, ctx.key, uploadIdOf(ctx));
  const maxParts = Number(ctx.query.get('max-parts') ?? 1000);
  const marker = Number(ctx.query.get('part-number-marker') ?? 0);
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > 1000 || !Number.isInteger(marker) || marker < 0) {
    throw ossErrors.invalidArgument('max-parts or part-number-marker is not valid.');
  }
  const after = [...upload.parts.values()].filter((part) => part.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
  const page = after.slice(0, maxParts);
  const isTruncated = after.length > page.length;
  const children: XmlNode[] = [
    ['Bucket', ctx.bucket],
    ['Key', ctx.key],
    ['UploadId', upload.uploadId],
    ['PartNumberMarker', marker],
    ['NextPartNumberMarker', page.length > 0 ? page[page.length - 1].partNumber : marker],
    ['MaxParts', maxParts],
    ['IsTruncated', isTruncated],
    ...page.map(
      (part): XmlNode => [
        'Part',
        [
          ['PartNumber', part.partNumber],
          ['LastModified', new Date(upload.initiatedMs).toISOString()],
          ['ETag', partEtag(part.md5)],
          ['HashCrc64ecma', part.crc64.toString()],
          ['Size', part.size],
        ],
      ],
    ),
  ];
  return xmlAnswer(['ListPartsResult', children]);
}

export async function listMultipartUploads(ctx: OssRequestContext): Promise<OssAnswer> {
  const prefix = ctx.query.get('prefix') ?? '';
  // No paging: the emulator never holds more open uploads than a test creates.
  const uploads = ctx.storage
    .listUploads(ctx.bucket)
    .filter((upload) => upload.key.startsWith(prefix))
    .sort((a, b) => (a.key === b.key ? a.initiatedMs - b.initiatedMs : a.key < b.key ? -1 : 1));
  const children: XmlNode[] = [
    ['Bucket', ctx.bucket],
    ['KeyMarker', ''],
    ['UploadIdMarker', ''],
    ['NextKeyMarker', ''],
    ['NextUploadIdMarker', ''],
    ['Delimiter', ''],
    ['Prefix', prefix],
    ['MaxUploads', 1000],
    ['IsTruncated', false],
    ...uploads.map(
      (upload): XmlNode => [
        'Upload',
        [
          ['Key', upload.key],
          ['UploadId', upload.uploadId],
          ['Initiated', new Date(upload.initiatedMs).toISOString()],
        ],
      ],
    ),
  ];
  return xmlAnswer(['ListMultipartUploadsResult', children]);
}
