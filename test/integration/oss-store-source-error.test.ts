import { PassThrough } from 'node:stream';
import { createOssStore } from '../../lib/oss-store';
import { SANDBOX_STS } from '../../sandbox/contracts';
import { startOssEmulator, type OssEmulator } from '../../sandbox/oss-emulator';

const BUCKET = 'source-error-bucket';
const MIB = 1024 * 1024;

describe('a source stream that fails before the upload reads it', () => {
  let oss: OssEmulator;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);

  beforeAll(async () => {
    oss = await startOssEmulator({ buckets: [BUCKET] });
    process.on('uncaughtException', onUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await oss.close();
  });

  it('rejects the multipart putStream with the source error instead of crashing the process', async () => {
    const store = createOssStore({
      bucket: BUCKET,
      endpoint: oss.endpoint,
      region: oss.region,
      pathStyle: false,
      credentials: SANDBOX_STS,
      multipartThresholdBytes: MIB,
      partSizeBytes: MIB,
    });
    // The download breaks while InitiateMultipartUpload is still in flight: nothing reads the body yet.
    oss.faults.setDelayMs(100);
    const source = new PassThrough();
    const put = store.putStream('logs/broken.gz', source, { size: 2 * MIB, forbidOverwrite: true });
    source.write(Buffer.alloc(1000));
    setTimeout(() => source.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), 10);

    await expect(put).rejects.toThrow('aborted');
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(uncaught).toEqual([]);
    expect(oss.listKeys(BUCKET)).toEqual([]);
    expect(oss.pendingUploads(BUCKET)).toEqual([]);
  });
});
