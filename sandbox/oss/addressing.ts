/**
 * Which bucket and key a request addresses. ali-oss 6.x (lib/common/utils/createRequest.js, client/getReqUrl.js):
 * - IP endpoint: connects to the IP but sends `Host: <bucket>.<region>.aliyuncs.com` and path `/<key>`;
 * - hostname endpoint: `Host: <bucket>.<host>` and `/<key>` (virtual-host style), or with `sldEnable: true`
 *   `Host: <host>` and `/<bucket>/<key>` (path style);
 * - `cname: true`: the host as given and `/<key>`: not addressable here, the bucket is unknowable.
 * So a host that is an IP, a single label (localhost) or a bare region endpoint names no bucket (path style);
 * any other host names the bucket in its first label (OSS bucket names never contain dots).
 */
import { isIP } from 'node:net';

export interface RequestTarget {
  style: 'virtual-host' | 'path';
  /** null for service-level requests (ListBuckets). */
  bucket: string | null;
  /** Decoded object key; '' when the request addresses the bucket itself. */
  key: string;
  query: URLSearchParams;
}

const REGION_ENDPOINT = /^oss-[a-z0-9-]+\.aliyuncs\.com$/;

function hostnameOf(hostHeader: string): string {
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

export function namesNoBucket(hostname: string): boolean {
  return isIP(hostname) !== 0 || !hostname.includes('.') || REGION_ENDPOINT.test(hostname);
}

function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    // Malformed escapes are kept as sent, as a lenient server would; the signature check then decides.
    return rawPath;
  }
}

export function resolveTarget(hostHeader: string | undefined, rawUrl: string): RequestTarget {
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart >= 0 ? rawUrl.slice(0, queryStart) : rawUrl;
  const query = new URLSearchParams(queryStart >= 0 ? rawUrl.slice(queryStart + 1) : '');
  const path = decodePath(rawPath).replace(/^\/+/, '');
  const hostname = hostnameOf(hostHeader ?? '');

  if (hostname && !namesNoBucket(hostname)) {
    return { style: 'virtual-host', bucket: hostname.slice(0, hostname.indexOf('.')), key: path, query };
  }
  if (path === '') return { style: 'path', bucket: null, key: '', query };
  const slash = path.indexOf('/');
  if (slash < 0) return { style: 'path', bucket: path, key: '', query };
  return { style: 'path', bucket: path.slice(0, slash), key: path.slice(slash + 1), query };
}
