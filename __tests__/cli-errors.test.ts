import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../lib/cli/main';
import { DEFAULT_MAX_BYTES } from '../lib';
import { CliIo, DEFAULT_READ_LIMIT, processIo } from '../lib/cli/io';
import { needs, root } from './helpers/needs';
import { REPO } from './helpers/paths';
import { readableByNobody, removeNobodyCopy } from './helpers/nobody';
import { GPU, GUIDE_CMDLINE, NPU, makeSysfs } from './helpers/sysfs';

afterAll(removeNobodyCopy);

// What ordinary mistakes and environments do to the CLI (issue 15): every failure is one line and an
// exit status, never a stack trace; every answer names what it could not find.
const BIN = path.join(REPO, 'bin', 'libvirt-passthrough.js');
const example = (f: string) => path.join(REPO, 'examples', f);
const DOMAIN = fs.readFileSync(example('domain.xml'), 'utf8');
// Files owned by root and runs as nobody: root only (skipped with one line otherwise, failed under CI).
const asRoot = needs(root('to run the CLI as nobody and give files other owners'));
const STACK = /^\s+at .*\(.*:\d+:\d+\)$|^\s+at .*:\d+:\d+$/m;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-errors-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, data: string | Uint8Array) => {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return file;
};

function bin(args: string[], options: { input?: string | Buffer; shell?: string; asNobody?: boolean } = {}) {
  const argv = [process.execPath, options.asNobody ? readableByNobody().bin : BIN, ...args];
  const run = options.shell
    ? spawnSync('sh', ['-c', options.shell.replace('$LP', argv.map((a) => `'${a}'`).join(' '))], { encoding: 'utf8', cwd: dir })
    : options.asNobody
      ? spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv], { encoding: 'utf8', cwd: dir, input: options.input })
      : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', cwd: dir, input: options.input });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** runCli in this process, with standard input from a buffer (read with the same limit as the real one). */
function cli(args: string[], stdin?: string | Uint8Array) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    readStdin: (limit = DEFAULT_READ_LIMIT) => (stdin === undefined ? undefined : Buffer.from(stdin).subarray(0, limit + 1)),
    readFile: processIo.readFile,
  };
  const code = runCli(args, io);
  return { code, stdout, stderr };
}

const sysfs = makeSysfs({
  cmdline: GUIDE_CMDLINE,
  devices: [
    { path: ['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], vendor: 0x10de, device: 0x20b0, classCode: GPU, numa: 0, group: '3' },
    { path: ['pci0000:00', '0000:00:03.0', '0000:1b:00.0'], vendor: 0x19e5, device: 0xd801, classCode: NPU, numa: 0, group: '5' },
  ],
});
const noGpus = makeSysfs({ devices: [{ path: ['pci0000:00', '0000:00:03.0', '0000:1b:00.0'], vendor: 0x19e5, device: 0xd801, classCode: NPU, group: '5' }] });
afterAll(() => [sysfs, noGpus].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('failures that printed a Node stack trace: one line and exit 1 through the real binary', () => {
  test.each([
    ['host capture into a missing folder', () => ['host', 'capture', path.join(dir, 'no', 'such', 'out.tar'), '--sysfs', sysfs], /folder .* does not exist/],
    ['host check --sysfs on a missing path', () => ['host', 'check', '--sysfs', '/nonexistent'], /\/nonexistent.*ENOENT/],
    ['host check --sysfs on a file that is not a tar', () => ['host', 'check', '--sysfs', write('not-a.tar', 'hello\n')], /not a tar file from host capture/],
    ['host check --sysfs on a tar that is not a capture', () => {
      const other = fs.mkdtempSync(path.join(dir, 'tar-'));
      fs.writeFileSync(path.join(other, 'readme'), 'hi');
      spawnSync('tar', ['-cf', path.join(dir, 'other.tar'), '-C', other, '.']);
      return ['host', 'check', '--sysfs', path.join(dir, 'other.tar')];
    }, /other.tar is a tar file but holds no sys\/bus\/pci\/devices/],
    ['host plan --topo on a missing file', () => ['host', 'plan', '--gpus', 'all', '--sysfs', sysfs, '--topo', path.join(dir, 'nope.txt')], /cannot read .*nope.txt: no such file/],
    ['a domain file that is a folder', () => ['inspect', dir], /cannot read .*: it is a folder \(EISDIR\)/],
    ['standard input that is a folder', () => ['inspect', '-'], /cannot read standard input: it is a folder \(EISDIR\)/],
    ['a missing plan', () => ['transform', '--plan', path.join(dir, 'missing.json'), example('domain.xml')], /cannot read .*missing.json: no such file or folder \(ENOENT\)/],
  ])('%s', (name, args, message) => {
    const r = name.includes('standard input') ? bin([], { shell: `$LP ${args().join(' ')} < /` }) : bin(args());
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(1);
  });

  test('standard output on a full device (/dev/full): one line, exit 1', () => {
    const r = bin([], { shell: '$LP hostdev 1b:00.0 > /dev/full' });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toMatch(/^libvirt-passthrough: cannot write standard output: ENOSPC: no space left on device, write\n$/);
    expect(r.code).toBe(1);
  });

  test('a 600 MB file or pipe is refused after reading the limit, as XML_TOO_LARGE with the CLI flag to raise it', () => {
    const sparse = path.join(dir, 'huge.xml');
    fs.writeFileSync(sparse, '');
    fs.truncateSync(sparse, 600 * 1024 * 1024);
    // ulimit: a reader without a limit must fail here on memory, not take the machine's.
    const capped = (cmd: string) => bin([], { shell: `ulimit -v 4000000; ${cmd}` });
    for (const r of [capped(`$LP inspect '${sparse}'`), capped('head -c 700000000 /dev/zero | $LP inspect'), capped('$LP inspect /dev/zero')]) {
      expect(r.stderr).not.toMatch(STACK);
      expect(r.stderr).toMatch(/XML_TOO_LARGE: .*larger than 16777216 bytes; give --max-bytes N/);
      expect(r.stderr).not.toMatch(/maxBytes/);
      expect(r.code).toBe(1);
    }
    fs.rmSync(sparse);
  });

  test("the CLI's default read limit is the library's default maxBytes", () => {
    expect(DEFAULT_READ_LIMIT).toBe(DEFAULT_MAX_BYTES);
  });

  test('--max-bytes raises and lowers the limit, and is checked', () => {
    expect(cli(['inspect', '--max-bytes', '100'], DOMAIN).stderr).toMatch(/XML_TOO_LARGE: The domain XML \(<stdin>\) is larger than 100 bytes/);
    expect(cli(['inspect', '--max-bytes', String(DOMAIN.length)], DOMAIN).code).toBe(0);
    expect(cli(['inspect', '--max-bytes', 'lots'], DOMAIN)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--max-bytes takes a whole number/) });
    // 17 comments of 1 MiB: past 16 MiB in all, each under libxml2's 10,000,000-byte limit for one comment.
    const big = DOMAIN.replace('</domain>', `<!--${' '.repeat(1024 * 1024)}-->\n`.repeat(17) + '</domain>');
    expect(cli(['inspect'], big).code).toBe(1);
    expect(cli(['inspect', '--max-bytes', String(32 * 1024 * 1024)], big).code).toBe(0);
  });

  test('a file read without an explicit limit is refused past 16 MiB, not silently cut', () => {
    const big = path.join(dir, 'big.bin');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 20 * 1024 * 1024);
    const r = cli(['predict', '--config', big, '--qemu', '8.2.0']);
    fs.rmSync(big);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/big.bin is larger than 16777216 bytes\n$/);
  });

  test('standard input is read only up to the limit (a generated stream, counted)', () => {
    let asked = -1;
    const io: CliIo = { stdout: () => undefined, stderr: () => undefined, readFile: processIo.readFile, readStdin: (limit = -1) => ((asked = limit), new Uint8Array(limit + 1)) };
    expect(runCli(['inspect', '--max-bytes', '4096'], io)).toBe(1);
    expect(asked).toBe(4096);
  });

  asRoot.test('--in-place where the temp file cannot be created (non-root, root-owned folder)', () => {
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const file = path.join(locked, 'vm.xml');
    fs.writeFileSync(file, DOMAIN, { mode: 0o666 });
    fs.chmodSync(file, 0o666);
    const r = bin(['transform', '--plan', readableByNobody().example('npu.plan.json'), file, '--in-place'], { asNobody: true });
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).toMatch(/--in-place cannot create a temporary file in .*locked: permission denied \(EACCES\)/);
    expect(r.code).toBe(1);
    expect(fs.readFileSync(file, 'utf8')).toBe(DOMAIN);
    expect(fs.readdirSync(locked)).toEqual(['vm.xml']);
  });

  asRoot.test('--in-place refuses to hand a file to a new owner (non-root, a writable file owned by root)', () => {
    fs.chmodSync(dir, 0o755);
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const file = path.join(open, 'vm.xml');
    fs.writeFileSync(file, DOMAIN);
    fs.chmodSync(file, 0o666);
    const r = bin(['transform', '--plan', readableByNobody().example('npu.plan.json'), file, '--in-place'], { asNobody: true });
    expect(r.stderr).toMatch(/--in-place would change the owner of .*vm.xml \(uid 0, gid 0\) to yours/);
    expect(r.code).toBe(1);
    expect(fs.statSync(file).uid).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(DOMAIN);
    expect(fs.readdirSync(open)).toEqual(['vm.xml']);
  });

  test('any other failure is one line naming it; --debug adds the stack', () => {
    const io = (): CliIo & { err: string } => {
      const box = {
        err: '',
        stdout: () => {
          throw new TypeError('the terminal went away');
        },
        stderr: (t: string) => (box.err += t),
        readStdin: () => Buffer.from(DOMAIN),
        readFile: processIo.readFile,
      };
      return box;
    };
    const plain = io();
    expect(runCli(['inspect'], plain)).toBe(1);
    expect(plain.err).toBe('libvirt-passthrough inspect: unexpected error: TypeError: the terminal went away (run again with --debug for the stack trace, and please report it)\n');
    const debug = io();
    expect(runCli(['inspect', '--debug'], debug)).toBe(1);
    expect(debug.err).toMatch(/^libvirt-passthrough inspect: unexpected error: TypeError: the terminal went away\nTypeError: the terminal went away\n\s+at /);
    const passthrough = cli(['--debug', 'inspect'], '<x/>');
    expect(passthrough.stderr).toMatch(/^libvirt-passthrough inspect: <stdin>:1:1: NOT_A_DOMAIN: .*\nPassthroughError: /);
  });
});

describe('answers that were silently wrong', () => {
  test.each([
    ['a GPU that is not on the host', ['--gpus', 'af:00.0'], 1, /--gpus: 0000:af:00.0 is not on this host/],
    ['a malformed address', ['--gpus', '3b:00'], 2, /--gpus: '3b:00' is not a PCI address/],
    ['one of two missing', ['--gpus', '3b:00.0', '--npus', '1b:00.0,5e:00.0'], 1, /--npus: 0000:5e:00.0 is not on this host/],
  ])('host plan: %s fails, naming it', (_name, args, code, message) => {
    const r = cli(['host', 'plan', '--sysfs', sysfs, ...args]);
    expect(r).toMatchObject({ code, stdout: '' });
    expect(r.stderr).toMatch(message);
  });

  test('host plan says when --gpus all finds no GPU, and writes no empty plan', () => {
    const some = cli(['host', 'plan', '--gpus', 'all', '--npus', 'all', '--sysfs', noGpus]);
    expect(some.code).toBe(0);
    expect(some.stderr).toMatch(/^--gpus all: no NVIDIA GPUs found on this host$/m);
    const none = cli(['host', 'plan', '--gpus', 'all', '--sysfs', noGpus]);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toMatch(/no NVIDIA GPUs found[\s\S]*nothing to write/);
  });

  test.each([
    [['host', 'check', '1b:00.0', '--sysfs', sysfs], /host check takes no arguments/],
    [['host', 'plan', '--gpus', 'all', 'extra', '--sysfs', sysfs], /host plan takes no arguments/],
    [['inspect', 'a.xml', 'b.xml'], /inspect takes at most one domain file/],
    [['host', 'check', '--devices', 'all', '--sysfs', sysfs], /--devices takes PCI addresses/],
    [['host', 'check', '--devices', 'zz', '--sysfs', sysfs], /--devices: 'zz' is not a PCI address/],
    [['host', 'plan', '--gpus', 'all', '--bus-ids', 'x', '--sysfs', sysfs], /--bus-ids goes with --topo/],
    // A malformed address is a usage mistake, as docs/errors.md says (these were exit 1).
    [['hostdev', 'zz'], /^libvirt-passthrough hostdev: 'zz' is not a PCI address: write it as lspci prints it/],
    [['hostdev', '1b:00'], /'1b:00' is not a PCI address/],
    [['remove', '--address', 'zz', example('domain.xml')], /^libvirt-passthrough remove: --address: 'zz' is not a PCI address/],
    [['predict', '--config', example('domain.xml'), '--qemu', '8.2.0', '--address', '3b:00'], /--address: ['"]3b:00['"] is not a PCI address/],
  ])('%j is refused with usage', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Usage:/);
  });
});

describe('--in-place', () => {
  const plan = example('npu.plan.json');
  const fresh = (name: string) => {
    const sub = fs.mkdtempSync(path.join(dir, `${name}-`));
    const file = path.join(sub, 'vm.xml');
    fs.writeFileSync(file, DOMAIN);
    return { sub, file };
  };

  test('writes through a symlink: the link stays, the target changes, the .bak sits beside the target', () => {
    const { sub, file } = fresh('link');
    const link = path.join(sub, 'current.xml');
    fs.symlinkSync('vm.xml', link);
    expect(cli(['transform', '--plan', plan, link, '--in-place']).code).toBe(0);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toContain("bus='0x1b'");
    expect(fs.readFileSync(`${file}.bak`, 'utf8')).toBe(DOMAIN);
    expect(fs.readdirSync(sub).sort()).toEqual(['current.xml', 'vm.xml', 'vm.xml.bak']);
  });

  asRoot.test('keeps the mode and the owner', () => {
    const { file } = fresh('mode');
    fs.chmodSync(file, 0o640);
    fs.chownSync(file, 65534, 65534);
    expect(cli(['transform', '--plan', plan, file, '--in-place', '--no-backup']).code).toBe(0);
    const after = fs.statSync(file);
    expect({ mode: after.mode & 0o7777, uid: after.uid, gid: after.gid }).toEqual({ mode: 0o640, uid: 65534, gid: 65534 });
  });

  test('leaves an unchanged file untouched: same inode, same mtime, no .bak', () => {
    const { sub, file } = fresh('same');
    expect(cli(['transform', '--plan', plan, file, '--in-place']).code).toBe(0);
    fs.rmSync(`${file}.bak`);
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(file, past, past);
    const before = fs.statSync(file);
    expect(cli(['transform', '--plan', plan, file, '--in-place']).code).toBe(0);
    const after = fs.statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(fs.readdirSync(sub)).toEqual(['vm.xml']);
  });
});

describe('plans as people save them', () => {
  const domain = write('vm.xml', DOMAIN);
  const planText = '{\n  "hostdevs": [\n    { "address": "1b:00.0" }\n  ]\n}\n';
  const utf16le = (s: string, bom: boolean) => Buffer.concat([Buffer.from(bom ? [0xff, 0xfe] : []), Buffer.from(s, 'utf16le')]);

  test.each([
    ['a UTF-8 byte order mark is accepted', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(planText)]), 0, /^$/],
    ['UTF-16 with a BOM is a plan encoding problem', utf16le(planText, true), 1, /PLAN_INVALID: The plan .*bom.json is UTF-16 text: the plan's encoding must be UTF-8/],
    ['UTF-16 without a BOM too', utf16le(planText, false), 1, /PLAN_INVALID: The plan .* is UTF-16 text/],
    ['Latin-1 bytes', Buffer.from('{"hostdevs": [{"address": "1b:00.0", "alias": "n\xe9"}]}', 'latin1'), 1, /PLAN_INVALID: The plan .* is not valid UTF-8/],
    ['a syntax error gives line:column', Buffer.from('{\n  "hostdevs": [\n    { "address": "1b:00.0" }\n    { "address": "1c:00.0" }\n  ]\n}\n'), 1, /bom.json:4:5: PLAN_INVALID: The plan is not valid JSON: Expected ',' or ']' after array element\.\n$/],
    ['a truncated plan', Buffer.from('{\n  "hostdevs": [\n'), 1, /bom.json:3:1: PLAN_INVALID: The plan is not valid JSON: the text ends before the JSON does\.\n$/],
    // Node 20 names no position for an unexpected token: it was put at the end of the file (6:1).
    ['a trailing comma is located where it is', Buffer.from('{\n  "hostdevs": [\n    { "address": "1b:00.0" },\n  ]\n}\n'), 1, /bom.json:4:3: PLAN_INVALID: The plan is not valid JSON: [^\n]*\(JSON allows no comma before \]\)\.\n$/],
    ['a trailing comma in an object', Buffer.from('{\n  "hostdevs": [\n    { "address": "1b:00.0", }\n  ]\n}\n'), 1, /bom.json:3:29: PLAN_INVALID: The plan is not valid JSON: [^\n]*\(JSON allows no comma before \}\)\.\n$/],
    ['a misspelt literal', Buffer.from('{\n  "hostdevs": [\n    { "address": "1b:00.0", "managed": ture }\n  ]\n}\n'), 1, /bom.json:3:41: PLAN_INVALID: The plan is not valid JSON: /],
    ['an unknown key gets a did-you-mean', Buffer.from('{"hostdevs": [{"adress": "1b:00.0"}]}'), 1, /bom.json: PLAN_INVALID: The plan is invalid: unknown key "adress" in hostdevs\[0\]; did you mean "address"\?/],
  ])('%s', (_name, bytes, code, message) => {
    const plan = write('bom.json', bytes);
    const r = cli(['transform', '--plan', plan, domain]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });
});

describe('echoed values are clipped; domain errors name the file', () => {
  const huge = 'x'.repeat(1_000_000);
  // Names stop at libxml2's 50,000 bytes (XML_TOO_LARGE, the parser's); one just under it reaches NOT_A_DOMAIN.
  test.each([
    ['NOT_A_DOMAIN with a huge root name', `<${'x'.repeat(49_000)}/>`, /NOT_A_DOMAIN: The root element is <x+…>/],
    ['MACHINE_NOT_Q35 with a huge machine', DOMAIN.replace("machine='pc-q35-7.2'", `machine='${huge}'`), /MACHINE_NOT_Q35: The machine type is 'x+…', not q35/],
    ['MACHINE_NOT_Q35 with a huge arch', DOMAIN.replace("arch='x86_64'", `arch='${huge}'`), /MACHINE_NOT_Q35: The domain's architecture is x+…;/],
  ])('%s', (_name, xml, message) => {
    const r = cli(['transform', '--plan', example('npu.plan.json')], xml);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.length).toBeLessThan(1000);
  });

  test('a domain error names the file as file:line:column, and standard input as <stdin>', () => {
    const file = write('pc.xml', DOMAIN.replace("machine='pc-q35-7.2'", "machine='pc'"));
    const line = DOMAIN.split('\n').findIndex((l) => l.includes("machine='pc-q35-7.2'")) + 1;
    const column = DOMAIN.split('\n')[line - 1].indexOf('<type') + 1;
    const r = cli(['transform', '--plan', example('npu.plan.json'), file]);
    expect(r.stderr).toBe(`libvirt-passthrough transform: ${file}:${line}:${column}: MACHINE_NOT_Q35: ${r.stderr.split(': MACHINE_NOT_Q35: ')[1]}`);
    expect(r.stderr).not.toMatch(/\(line \d+, column \d+\)/);
    expect(cli(['inspect'], '<domain>\n<os>\n</domain>').stderr).toMatch(/^libvirt-passthrough inspect: <stdin>:3:1: XML_MALFORMED: /);
  });

  test.each([
    ['out of range', ['hostdev', '1b:20.0'], 2, /'1b:20.0' is not a PCI address/],
    ['100,000 characters', ['hostdev', 'z'.repeat(100_000)], 2, /'z+…' is not a PCI address/],
    ['bad alias', ['hostdev', '1b:00.0', '--alias', '9lives'], 1, /--alias '9lives' is not an alias libvirt keeps/],
    ['bad rom bar', ['hostdev', '1b:00.0', '--rom-bar', 'maybe'], 2, /--rom-bar takes on or off, not 'maybe'/],
  ])('hostdev echoes the bad value (%s)', (_name, args, code, message) => {
    const r = cli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')[0].length).toBeLessThan(300);
  });
});

describe('transform --plan - reads the plan from standard input', () => {
  const plan = fs.readFileSync(example('npu.plan.json'), 'utf8');

  test.each([['transform'], ['remove']])('%s --plan - with a domain file works; a plan error names <stdin>', (command) => {
    const input = command === 'transform' ? example('domain.xml') : write('planned.xml', cli(['transform', '--plan', example('npu.plan.json'), example('domain.xml')]).stdout);
    const r = cli([command, '--plan', '-', input], plan);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.includes("bus='0x1b'")).toBe(command === 'transform');
    const bad = cli([command, '--plan', '-', input], '{\n  "hostdevs": [1,]\n}\n');
    expect(bad.stderr).toMatch(new RegExp(`^libvirt-passthrough ${command}: <stdin>:2:18: PLAN_INVALID: `));
  });

  test.each([[[]], [['-']]])('plan and domain both from standard input is refused with usage (%j)', (domain) => {
    const r = cli(['transform', '--plan', '-', ...domain], plan);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--plan - reads the plan from standard input, so the domain XML cannot come from there too: give DOMAIN\.xml/);
  });

  test('host plan … | transform --plan - DOMAIN.xml, through the binary', () => {
    const r = bin([], { shell: `$LP host plan --gpus all --npus all --sysfs '${sysfs}' --qemu 8.2.0 2>/dev/null | $LP transform --plan - '${example('domain.xml')}'`.replace(/\$LP/g, `'${process.execPath}' '${BIN}'`) });
    expect(r.stderr).toMatch(/^target: /);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("bus='0x3b'");
    expect(r.stdout).toContain("bus='0x1b'");
  });
});

describe('host check', () => {
  test('findings that share a fix (each missing kernel parameter) print it once', () => {
    const bare = makeSysfs({ cmdline: 'BOOT_IMAGE=/vmlinuz ro', devices: [{ path: ['pci0000:00', '0000:00:03.0', '0000:1b:00.0'], vendor: 0x19e5, device: 0xd801, classCode: NPU, group: '5' }] });
    try {
      const r = cli(['host', 'check', '--sysfs', bare]);
      const missing = r.stdout.split('\n').filter((l) => /^WARNING kernel parameter .* is missing$/.test(l));
      expect(missing.length).toBeGreaterThan(4);
      expect(r.stdout.match(/^ +fix: add "transparent_hugepage=madvise/gm)).toHaveLength(1);
      expect(r.stdout.match(/^ +why: the NPU pass-through guide recommends it/gm)).toHaveLength(1);
      const json = JSON.parse(cli(['host', 'check', '--sysfs', bare, '--json']).stdout) as { fix?: string }[];
      expect(json.filter((f) => f.fix?.startsWith('add "transparent_hugepage')).length).toBe(missing.length);
    } finally {
      fs.rmSync(bare, { recursive: true, force: true });
    }
  });
});
