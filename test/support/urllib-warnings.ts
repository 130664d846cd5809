/**
 * urllib (under ali-oss) calls back twice when a request's body stream fails (pump's error, then the socket's
 * hang-up) and console.warns "[urllib:warn] ... callback twice" about itself. Expected in tests that fail or cut
 * bodies on purpose; every other warning still prints. Returns the function that restores console.warn.
 */
export function silenceUrllibWarnings(): () => void {
  const warn = console.warn.bind(console);
  const spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('[urllib:warn]')) return;
    warn(...args);
  });
  return () => spy.mockRestore();
}
