import { onAbort, watcherCapacity } from '../../lib/abort-watch';

describe('onAbort', () => {
  it('calls every callback still registered when the signal aborts, once each', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    onAbort(controller.signal, () => calls.push('a'));
    const stopB = onAbort(controller.signal, () => calls.push('b'));
    onAbort(controller.signal, () => calls.push('c'));
    stopB();

    controller.abort();
    controller.abort();

    expect(calls.sort()).toEqual(['a', 'c']);
  });

  it('calls a callback at once when the signal has already aborted, and its stop function does nothing', () => {
    const controller = new AbortController();
    controller.abort();
    const fn = jest.fn();

    const stop = onAbort(controller.signal, fn);
    stop();

    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('keeps a callback registered when another one in a reused slot is stopped twice', () => {
    const controller = new AbortController();
    const first = jest.fn();
    const second = jest.fn();
    const stopFirst = onAbort(controller.signal, first);
    stopFirst();
    const stopSecond = onAbort(controller.signal, second); // takes the freed slot
    stopFirst(); // a late second call must not empty the slot the other callback now holds

    controller.abort();

    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledTimes(1);
    stopSecond();
  });

  it('holds no more slots than callbacks ever registered at once, whatever the number registered over time', () => {
    const controller = new AbortController();
    const inFlight: (() => void)[] = [];
    for (let i = 0; i < 10_000; i++) {
      inFlight.push(onAbort(controller.signal, () => undefined));
      if (inFlight.length === 8) inFlight.splice(i % 8, 1)[0]();
    }

    expect(watcherCapacity(controller.signal)).toBe(8);
  });

  it('is a no-op without a signal', () => {
    const fn = jest.fn();
    onAbort(undefined, fn)();
    expect(fn).not.toHaveBeenCalled();
  });
});
