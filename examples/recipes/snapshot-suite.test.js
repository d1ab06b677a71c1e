// Recipe: a regression suite for your own domains and plans, in the libvirt test-suite style:
// one folder per case holding domain.xml and plan.json, the expected output kept beside them as
// expected.xml. Compare with === (jest snapshots turn CRLF into LF, so they cannot prove bytes).
// UPDATE=1 npx jest rewrites the expected files; review the diff before committing.
const fs = require('node:fs');
const path = require('node:path');
const { transformDomain } = require('libvirt-passthrough');

const CASES = path.join(__dirname, 'cases');

describe.each(fs.readdirSync(CASES))('%s', (name) => {
  const read = (f) => fs.readFileSync(path.join(CASES, name, f), 'utf8');
  test('transforms to the expected domain', () => {
    const out = transformDomain(read('domain.xml'), JSON.parse(read('plan.json')));
    if (process.env.UPDATE) fs.writeFileSync(path.join(CASES, name, 'expected.xml'), out);
    expect(out).toBe(read('expected.xml'));
    expect(transformDomain(out, JSON.parse(read('plan.json')))).toBe(out); // idempotent
  });
});
