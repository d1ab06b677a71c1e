import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassthroughError, readHostSnapshot } from '../lib';
import { CliIo } from '../lib/cli/io';
import { runCli } from '../lib/cli/main';
import { GPU, makeSysfs } from './helpers/sysfs';

// A --sysfs folder that is not a whole sysfs tree (copied by hand, a capture cut short) gets one TOPOLOGY_INVALID
// line saying what is missing, not "unexpected error: ENOENT".
const roots: string[] = [];
afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));

const oneGpu = () => {
  const root = makeSysfs({ devices: [{ path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x20b2, classCode: GPU, numa: 0 }] });
  roots.push(root);
  return root;
};

const BROKEN: [string, (root: string) => void, RegExp][] = [
  ['without sys/devices (only the bus links)', (root) => fs.rmSync(path.join(root, 'sys', 'devices'), { recursive: true }), /sys\/devices.*(does not exist|missing)/],
  ['a device link that leads nowhere', (root) => fs.rmSync(path.join(root, 'sys', 'devices', 'pci0000:00', '0000:00:02.0', '0000:3b:00.0'), { recursive: true }), /0000:3b:00\.0/],
];

function runHostCheck(root: string): { code: number; stderr: string } {
  let stderr = '';
  const io: CliIo = {
    stdout: () => undefined,
    stderr: (t) => void (stderr += t),
    readStdin: () => undefined,
    readFile: (file) => fs.readFileSync(file),
    runTool: () => undefined,
  };
  return { code: runCli(['host', 'check', '--sysfs', root], io), stderr };
}

describe.each(BROKEN)('a sysfs tree %s', (_, breakIt, names) => {
  test('readHostSnapshot: TOPOLOGY_INVALID naming what is missing', () => {
    const root = oneGpu();
    breakIt(root);
    let caught: unknown;
    try {
      readHostSnapshot(root);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PassthroughError);
    expect((caught as PassthroughError).code).toBe('TOPOLOGY_INVALID');
    expect((caught as Error).message).toMatch(names);
  });

  test('host check --sysfs: one clear line, no "unexpected error"', () => {
    const root = oneGpu();
    breakIt(root);
    const { code, stderr } = runHostCheck(root);
    expect(code).not.toBe(0);
    expect(stderr).not.toMatch(/unexpected error|ENOENT/);
    expect(stderr).toMatch(/TOPOLOGY_INVALID|sys\/devices|0000:3b:00\.0/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
