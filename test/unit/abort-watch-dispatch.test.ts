/**
 * Review tests: lib/abort-watch.ts replaced one `addEventListener` per transfer with one listener per signal.
 * These check the dispatch keeps the guarantees the per-transfer listeners had (Node's EventTarget semantics):
 * a callback whose stop function has been called is not called, even when it was stopped by another callback
 * during the abort; and one callback that throws does not stop the others from being called.
 * Both FAIL against the code under review (fireAll snapshots the callbacks and calls them in a plain loop).
 */
import { onAbort } from '../../lib/abort-watch';

describe('onAbort dispatch', () => {
  it('does not call a callback stopped by an earlier callback during the same abort', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    let stopSecond: () => void = () => undefined;
    onAbort(controller.signal, () => {
      calls.push('first');
      stopSecond(); // e.g. a transfer whose cut-off synchronously settles another transfer
    });
    stopSecond = onAbort(controller.signal, () => calls.push('second'));

    controller.abort();

    expect(calls).toEqual(['first']);
  });

  it('still calls every other callback when one of them throws', () => {
    const controller = new AbortController();
    const before = jest.fn();
    const after = jest.fn();
    onAbort(controller.signal, before);
    onAbort(controller.signal, () => {
      throw new Error('a broken callback');
    });
    onAbort(controller.signal, after);
    // Node reports an exception thrown by an abort listener as uncaught; keep it from failing the run.
    const reported: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (err) => reported.push(err));
    try {
      controller.abort();
    } finally {
      // restored on the next tick, after Node has reported the error
    }
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        process.removeAllListeners('uncaughtException');
        for (const l of listeners) process.on('uncaughtException', l);
        expect(before).toHaveBeenCalledTimes(1);
        expect(after).toHaveBeenCalledTimes(1);
        resolve();
      });
    });
  });
});
