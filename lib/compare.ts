/**
 * Plain UTF-16 code-unit order for sorting names, domains and hours: the same on every machine, unlike
 * localeCompare, which follows the runtime's locale data.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
