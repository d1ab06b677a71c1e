import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { runCli } from '../lib/cli/main';
import { CliIo, DEFAULT_READ_LIMIT, processIo } from '../lib/cli/io';
import { REPO } from './helpers/paths';
import { readableByNobody, removeNobodyCopy, unprivileged } from './helpers/nobody';
import { GPU, GUIDE_CMDLINE, makeSysfs } from './helpers/sysfs';

afterAll(removeNobodyCopy);

// Random command lines built from the documented commands and flags, with missing, unreadable and odd
// files and standard input up to past the size limit: whatever the input, the CLI ends with an exit
// status of 0, 1 or 2 and, without --debug, never prints a stack trace. Fixed seeds: a failure replays.
jest.setTimeout(120_000);
const STACK = /\n\s+at .+:\d+:\d+\)?\n|Error: .*\n\s+at /;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-fuzz-'));
fs.chmodSync(dir, 0o755);
const sysfs = makeSysfs({ cmdline: GUIDE_CMDLINE, devices: [{ path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 0, group: '3' }] });
afterAll(() => [dir, sysfs].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const put = (name: string, data: string | Uint8Array, mode = 0o644) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, data, { mode });
  fs.chmodSync(file, mode);
  return file;
};
const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
/** Files every run starts from (--in-place may rewrite the domain copies; they are restored each run). */
const ORIGINALS: Record<string, string | Uint8Array> = {
  'vm.xml': domain,
  'plan.json': fs.readFileSync(path.join(REPO, 'examples', '2gpu-k80.plan.json')),
  'npu.json': fs.readFileSync(path.join(REPO, 'examples', 'npu.plan.json')),
  'bad.json': '{"hostdevs": [{"adress": "1b:00.0"}',
  'utf16.json': Buffer.from('\ufeff{"hostdevs": []}', 'utf16le'),
  'binary.bin': Buffer.from([0, 1, 2, 0xff, 0xfe, 0x3c, 0x80]),
  'pc.xml': domain.replace("machine='pc-q35-7.2'", "machine='pc'"),
  'empty.xml': '',
  'lspci.txt': '3b:00.0 3D controller: NVIDIA\n00: de 10 b4 1d\n',
  'topo.txt': '\tGPU0\tGPU1\nGPU0\t X \tSYS\nGPU1\tSYS\t X\n',
};
const restore = () => {
  for (const [name, data] of Object.entries(ORIGINALS)) put(name, data);
  put('secret.xml', domain, 0o600);
  for (const f of fs.readdirSync(dir)) if (!(f in ORIGINALS) && f !== 'secret.xml' && f !== 'folder' && f !== 'dangling') fs.rmSync(path.join(dir, f), { recursive: true, force: true });
};
fs.mkdirSync(path.join(dir, 'folder'));
fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling'));
restore();

const FILES = [...Object.keys(ORIGINALS), 'secret.xml', 'folder', 'dangling', 'missing.xml', 'folder/deeper/missing.tar'].map((f) => path.join(dir, f));
const odd = fc.oneof(
  fc.constantFrom('', '-', '--', 'all', '1b:00.0', '0000:3b:00.0', '3b:00', 'zz:zz.z', '0', '-1', '1e99', 'NaN', 'on', 'off', 'hopper', 'kepler', '7.2.0', 'socket', 'switch', '../', '/', '/dev/null', '/dev/zero', sysfs),
  fc.constantFrom(...FILES),
  fc.string({ maxLength: 20 }),
  fc.string({ minLength: 1000, maxLength: 3000 }),
);

const FLAGS: Record<string, string[]> = {
  transform: ['--plan', '--explain', '--in-place', '--no-backup', '--max-bytes'],
  hostdev: ['--alias', '--unmanaged', '--rom-bar'],
  remove: ['--plan', '--address', '--alias', '--in-place', '--no-backup', '--max-bytes'],
  predict: ['--config', '--qemu', '--architecture', '--json'],
  'verify-guest': ['--domain', '--expect', '--lspci', '--json', '--sysfs', '--host', '--cpu'],
  host: ['--devices', '--sysfs', '--json', '--gpus', '--npus', '--policy', '--topo', '--bus-ids'],
  inspect: ['--json', '--max-bytes'],
};
const COMMANDS = Object.keys(FLAGS);
const SUBCOMMANDS: Record<string, string[]> = { host: ['check', 'plan', 'capture', 'frob'] };

/** A command line: a command (or nonsense), maybe a subcommand, flags with odd or real values, positionals. */
const argv = fc
  .tuple(fc.constantFrom(...COMMANDS, 'frobnicate', '--help', '--version', 'help'), fc.nat())
  .chain(([command, sub]) => {
    const flags = FLAGS[command] ?? ['--json'];
    const subcommand = SUBCOMMANDS[command] ? [SUBCOMMANDS[command][sub % SUBCOMMANDS[command].length]] : [];
    const item = fc.oneof(
      fc.tuple(fc.constantFrom(...flags, '--bogus', '-h'), odd).map(([flag, value]) => [flag, value]),
      fc.constantFrom(...flags).map((flag) => [flag]),
      odd.map((value) => [value]),
    );
    // host capture must write inside the scratch folder, not wherever a random string points.
    const safe = (args: string[]) => (subcommand[0] === 'capture' ? [...args.filter((a) => !a.startsWith('/') || a.startsWith(dir)), path.join(dir, 'out.tar')] : args);
    return fc.array(item, { maxLength: 6 }).map((items) => [command, ...subcommand, ...safe(items.flat())]);
  });

const stdin = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  fc.constant(domain),
  fc.uint8Array({ maxLength: 200 }),
  fc.constant('HUGE'),
);

function inProcess(args: string[], input: string | Uint8Array | undefined) {
  let out = '';
  const io: CliIo = {
    stdout: (t) => (out += t),
    stderr: (t) => (out += t),
    readStdin: (limit = DEFAULT_READ_LIMIT) => {
      if (input === undefined) return undefined;
      // A stream longer than any limit: only what the reader asks for is ever made.
      if (input === 'HUGE') return new Uint8Array(limit + 1).fill(0x20);
      return Buffer.from(input).subarray(0, limit + 1);
    },
    readFile: processIo.readFile,
  };
  return { code: runCli(args, io), out };
}

test('runCli in-process: 400 random command lines end in 0/1/2 without a stack trace', () => {
  fc.assert(
    fc.property(argv, stdin, (args, input) => {
      restore();
      const { code, out } = inProcess(args, input);
      expect([0, 1, 2]).toContain(code);
      expect(out).not.toMatch(STACK);
      if (code !== 0) expect(out.length).toBeGreaterThan(0);
    }),
    { seed: 15, numRuns: 400 },
  );
});

test('--debug changes only how much is said: same exit status, and the stack goes with it', () => {
  fc.assert(
    fc.property(argv, stdin, (args, input) => {
      restore();
      const plain = inProcess(args, input);
      restore();
      const debug = inProcess([...args, '--debug'], input);
      expect(debug.code).toBe(plain.code);
      // A reported failure (not a finding such as host check's exit 1) carries its stack under --debug.
      if (COMMANDS.includes(args[0]) && /^libvirt-passthrough [\w-]+: /m.test(plain.out)) expect(debug.out).toMatch(/\n\s+at /);
    }),
    { seed: 1515, numRuns: 100 },
  );
});

test('the real binary, as an unprivileged user (files it may not read): 30 random command lines', () => {
  fc.assert(
    fc.property(argv, fc.constantFrom<string | undefined>(undefined, '', domain, 'HUGE'), (args, input) => {
      restore();
      const run = spawnSync(...unprivileged([process.execPath, readableByNobody().bin, ...args]), {
        input: input === 'HUGE' ? Buffer.alloc(17 * 1024 * 1024, 0x20) : input,
        encoding: 'utf8',
        cwd: dir,
      });
      expect([0, 1, 2]).toContain(run.status);
      expect(run.stderr).not.toMatch(STACK);
      expect(run.stdout).not.toMatch(STACK);
    }),
    { seed: 150, numRuns: 30 },
  );
});
