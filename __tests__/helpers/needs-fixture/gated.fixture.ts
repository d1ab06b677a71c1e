// Run only by needs.test.ts (nested jest): one suite with a need that is never met, one that always is.
import { command, needs } from '../needs';

const absent = needs(command('libvirt-passthrough-no-such-tool', 'install the no-such-tool package'));
const present = needs(command('node', 'install Node.js'));

absent.test('a test', () => undefined);
absent.test.each([1, 2])('a table row %d', () => undefined);
absent.describe('a block', () => {
  test('inside it', () => undefined);
});
present.test('a test whose need is met', () => expect(present.met).toBe(true));
