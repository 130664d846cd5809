import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_REFERENCE } from '../../lib/config';

const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

function readmeConfigRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| ([^|]*) \|/.exec(line);
    if (m) rows.set(m[1], m[2].trim());
  }
  return rows;
}

describe('README', () => {
  it('gives the two commands a new user runs', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });

  it('documents every configuration variable with the default the code uses', () => {
    const rows = readmeConfigRows();
    for (const variable of CONFIG_REFERENCE) {
      expect(rows.has(variable.name)).toBe(true);
      expect(`${variable.name}: ${rows.get(variable.name)}`).toBe(`${variable.name}: ${variable.defaultText}`);
    }
  });

  it('documents no variable the code does not read', () => {
    const known = new Set<string>(CONFIG_REFERENCE.map((v) => v.name));
    for (const name of readmeConfigRows().keys()) expect(known.has(name) ? name : `unknown ${name}`).toBe(name);
  });
});
