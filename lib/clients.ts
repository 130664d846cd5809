/**
 * SDK clients, created lazily once per instance and reused by warm invocations. Function Compute hands every
 * invocation the role's current STS keys; when they rotate, the clients are built again with the new ones.
 */
import type { Config } from './config';
import { openDownload, type DownloadResponse } from './download';
import { hostAllowlist } from './listing';
import { createLiveLister, type LiveLister } from './live-client';
import { createOssStore } from './oss-store';
import type { Credentials, ObjectStore } from './types';

export interface Clients {
  lister: LiveLister;
  store: ObjectStore;
  openDownload: (url: string, signal?: AbortSignal) => Promise<DownloadResponse>;
}

/** Large simple PUTs stream a whole file through one request; the per-request timeout must cover that. */
const STORE_REQUEST_TIMEOUT_MS = 10 * 60_000;

export function buildClients(config: Config, credentials: Credentials): Clients {
  const allowHost = hostAllowlist(config.logHostAllowlist);
  return {
    lister: createLiveLister({
      endpoint: config.liveEndpoint,
      regionId: config.liveRegion,
      credentials,
      scheme: config.logUrlScheme,
      allowHost,
      maxQps: config.liveMaxQps,
    }),
    store: createOssStore({
      bucket: config.ossBucket,
      region: config.ossRegion,
      endpoint: config.ossEndpoint,
      pathStyle: config.ossPathStyle,
      credentials,
      multipartThresholdBytes: config.multipartThresholdBytes,
      partSizeBytes: config.partSizeBytes,
      timeoutMs: STORE_REQUEST_TIMEOUT_MS,
    }),
    openDownload: (url, signal) =>
      openDownload(url, { allowHost, idleTimeoutMs: config.downloadTimeoutMs, signal }),
  };
}

/** Keeps one set of clients per (config, credentials); a new AccessKeyId or token replaces them. */
export class ClientCache {
  private cached: { config: Config; identity: string; clients: Clients } | null = null;

  constructor(private readonly build: (config: Config, credentials: Credentials) => Clients = buildClients) {}

  get(config: Config, credentials: Credentials): Clients {
    const identity = `${credentials.accessKeyId}\u0000${credentials.accessKeySecret}\u0000${credentials.securityToken ?? ''}`;
    if (this.cached && this.cached.config === config && this.cached.identity === identity) return this.cached.clients;
    const clients = this.build(config, credentials);
    this.cached = { config, identity, clients };
    return clients;
  }
}
