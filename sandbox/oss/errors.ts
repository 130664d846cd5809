/**
 * OSS error answers: the HTTP status, the service's error code and a message, rendered as OSS's XML by the server.
 * Messages never carry credentials, tokens or signatures.
 */

export class OssError extends Error {
  override readonly name = 'OssError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra elements OSS adds to some errors (Key, BucketName, UploadId...), in order. */
    readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const ossErrors = {
  accessDenied: (message: string) => new OssError(403, 'AccessDenied', message),
  invalidAccessKeyId: () =>
    new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.'),
  signatureDoesNotMatch: () =>
    new OssError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    ),
  invalidSecurityToken: () =>
    new OssError(403, 'InvalidSecurityToken', 'The security token you provided is invalid.'),
  securityTokenExpired: () =>
    new OssError(403, 'SecurityTokenExpired', 'The security token you provided has expired.'),
  requestTimeTooSkewed: () =>
    new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'),
  noSuchBucket: (bucket: string) =>
    new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket }),
  noSuchKey: (key: string) => new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new OssError(
      404,
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  invalidDigest: (message: string) => new OssError(400, 'InvalidDigest', message),
  fileAlreadyExists: (key: string) =>
    new OssError(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', {
      Key: key,
    }),
  notImplemented: (what: string) =>
    new OssError(501, 'NotImplemented', `A header or operation you provided implies functionality that is not implemented: ${what}.`),
  invalidPart: (message: string) => new OssError(400, 'InvalidPart', message),
  invalidPartOrder: () =>
    new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.'),
  entityTooSmall: () =>
    new OssError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.'),
  entityTooLarge: () => new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.'),
  invalidArgument: (message: string) => new OssError(400, 'InvalidArgument', message),
  invalidObjectName: () => new OssError(400, 'InvalidObjectName', 'The specified object name is not valid.'),
  malformedXml: () =>
    new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.'),
  missingContentLength: () =>
    new OssError(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.'),
  preconditionFailed: () =>
    new OssError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.'),
  internalError: () => new OssError(500, 'InternalError', 'We encountered an internal error. Please try again.'),
  serviceUnavailable: () =>
    new OssError(503, 'ServiceUnavailable', 'Please reduce your request rate.'),
};
