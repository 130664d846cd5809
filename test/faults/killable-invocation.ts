/**
 * One archiver invocation in a process of its own, for the fault matrix's "killed mid-transfer" row: the parent
 * runs the emulators and SIGKILLs this process while a large file is in flight, as Function Compute does to an
 * instance that times out or crashes. Nothing here may depend on being allowed to finish.
 *
 * Configuration is the process environment (the parent passes its emulators' endpoints); the event and the parts of
 * the invocation context come from FAULT_EVENT, FAULT_REQUEST_ID and FAULT_TIMEOUT_SEC. Log lines go to stderr,
 * the report (if the process lives that long) to stdout.
 */
import { createArchiver } from '../../lib/archiver';
import { SANDBOX_STS } from '../../sandbox/contracts';

async function main(): Promise<void> {
  const archive = createArchiver({ env: process.env, logSink: (line) => process.stderr.write(`${line}\n`) });
  const report = await archive(Buffer.from(process.env.FAULT_EVENT ?? ''), {
    requestId: process.env.FAULT_REQUEST_ID,
    credentials: { ...SANDBOX_STS },
    function: { name: 'live-log-archiver', timeout: Number(process.env.FAULT_TIMEOUT_SEC ?? '60') },
    service: { name: 'live-log-archiver' },
  });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`killable invocation failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
