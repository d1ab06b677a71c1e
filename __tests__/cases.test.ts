import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError } from '../lib';
import { checkedTransform } from './helpers/invariants';
import { CASES_DIR, readCase } from './helpers/paths';

// One folder per case, like libvirt's tests/qemuxml2argvdata: domain.xml + plan.json, and either
// expected.xml (compared byte for byte, so CRLF and BOMs count) or expected-error.json.
// UPDATE_CASES=1 rewrites expected.xml; review the diff by eye before committing.
const cases = fs.readdirSync(CASES_DIR).filter((d) => fs.statSync(path.join(CASES_DIR, d)).isDirectory()).sort();

describe.each(cases)('case %s', (name) => {
  const domain = readCase(name, 'domain.xml')!;
  const plan = JSON.parse(readCase(name, 'plan.json')!);
  const expectedError = readCase(name, 'expected-error.json');

  if (expectedError) {
    test('is refused with the expected code and position', () => {
      const want = JSON.parse(expectedError);
      let caught: unknown;
      try {
        checkedTransform(domain, plan);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PassthroughError);
      const err = caught as PassthroughError;
      expect({ code: err.code, line: err.line, column: err.column, path: err.path }).toEqual({
        code: want.code,
        line: want.line,
        column: want.column,
        path: want.path,
      });
      expect(err.message.length).toBeGreaterThan(40);
    });
    return;
  }

  test('gives the expected XML, byte for byte', () => {
    const result = checkedTransform(domain, plan);
    const file = path.join(CASES_DIR, name, 'expected.xml');
    if (process.env.UPDATE_CASES) fs.writeFileSync(file, result.xml);
    expect(result.xml).toBe(fs.readFileSync(file, 'utf8'));
    expect({ changes: result.changes, warnings: result.warnings }).toMatchSnapshot();
  });
});
