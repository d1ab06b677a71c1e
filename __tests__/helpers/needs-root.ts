/**
 * Suites that act as other users, mount a small tmpfs or plant FIFOs need root (and util-linux's setpriv and
 * mount, which every Linux with Node has). Without root they are skipped with one message; under CI, where the
 * runner is root, a missing root fails instead of passing silently.
 */
export const IS_ROOT = process.getuid?.() === 0;

let warned = false;

export function describeAsRoot(name: string, body: () => void): void {
  if (IS_ROOT) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => test('needs root', () => {
      throw new Error(`${name}: needs root (CI runs the tests as root; run them with sudo)`);
    }));
  } else {
    if (!warned) console.warn(`libvirt-passthrough: skipping the suites of ${expect.getState().testPath?.split('/').pop()} that need root (run the tests as root, e.g. sudo npm test)`);
    warned = true;
    describe.skip(name, body);
  }
}
