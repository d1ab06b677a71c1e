import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../lib/cli/main';
import { CliIo, processIo } from '../lib/cli/io';
import * as remove from '../lib/remove';
import * as transform from '../lib/transform';
import { REPO } from './helpers/paths';

// --in-place against what other programs and users do to a folder (issue 21 item 5, issue 22): the file changes
// between our read and our write, links and FIFOs sit where the file or its backup go, earlier backups exist.
// "Between read and write" is exact: the other program acts while the transform runs (a spy on it).
const BIN = path.join(REPO, 'bin', 'libvirt-passthrough.js');
const PLAN = path.join(REPO, 'examples', 'npu.plan.json');
const DOMAIN = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
const EDITED = DOMAIN.replace('<name>', '<!-- edited by someone else -->\n  <name>');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-in-place-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

function folder(): { dir: string; file: string; other: string } {
  const dir = fs.mkdtempSync(path.join(root, 'd-'));
  const file = path.join(dir, 'vm.xml');
  const other = path.join(dir, 'other.xml');
  fs.writeFileSync(file, DOMAIN);
  fs.writeFileSync(other, DOMAIN);
  return { dir, file, other };
}

function cli(args: string[], meanwhile?: () => void) {
  if (meanwhile) {
    const real = transform.explainTransform;
    jest.spyOn(transform, 'explainTransform').mockImplementation((...args) => {
      meanwhile();
      return real(...args);
    });
  }
  let stdout = '';
  let stderr = '';
  const io: CliIo = { ...processIo, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) };
  return { code: runCli(args, io), stdout, stderr };
}

const list = (dir: string) => fs.readdirSync(dir).sort();
const read = (file: string) => fs.readFileSync(file, 'utf8');

describe('the file changes between our read and our write: nothing is written, and we say so', () => {
  test.each([
    [
      'another editor saves by rename (a new inode)',
      ({ dir, file }: ReturnType<typeof folder>) => {
        fs.writeFileSync(path.join(dir, 'save.tmp'), EDITED);
        fs.renameSync(path.join(dir, 'save.tmp'), file);
      },
      { 'vm.xml': EDITED, 'other.xml': DOMAIN },
    ],
    [
      'another editor rewrites it in place, same size, and puts the mtime back (only the hash sees it)',
      ({ file }: ReturnType<typeof folder>) => {
        const { atime, mtime } = fs.statSync(file);
        fs.writeFileSync(file, DOMAIN.replace('<name>', '<NAME>').replace('</name>', '</NAME>'));
        fs.utimesSync(file, atime, mtime);
      },
      { 'vm.xml': DOMAIN.replace('<name>', '<NAME>').replace('</name>', '</NAME>'), 'other.xml': DOMAIN },
    ],
    [
      'the file becomes a symlink to another file',
      ({ file }: ReturnType<typeof folder>) => {
        fs.rmSync(file);
        fs.symlinkSync('other.xml', file);
      },
      { 'other.xml': DOMAIN },
    ],
  ])('%s', (_name, meanwhile, after) => {
    const f = folder();
    const r = cli(['transform', '--plan', PLAN, f.file, '--in-place'], () => meanwhile(f));
    expect(r.stderr).toMatch(/--in-place: .*vm\.xml changed after it was read \(.*\): nothing was written; run the command again/);
    expect(r.code).toBe(1);
    for (const [name, text] of Object.entries(after)) expect(read(path.join(f.dir, name))).toBe(text);
    expect(list(f.dir)).toEqual(['other.xml', 'vm.xml']);
  });

  test('a symlink switched to another file: neither file is written', () => {
    const f = folder();
    const link = path.join(f.dir, 'current.xml');
    fs.symlinkSync('vm.xml', link);
    const r = cli(['transform', '--plan', PLAN, link, '--in-place'], () => {
      fs.rmSync(link);
      fs.symlinkSync('other.xml', link);
    });
    expect(r.stderr).toMatch(/current\.xml changed after it was read \(it now leads to another file\)/);
    expect(r.code).toBe(1);
    expect([read(f.file), read(f.other)]).toEqual([DOMAIN, DOMAIN]);
    expect(list(f.dir)).toEqual(['current.xml', 'other.xml', 'vm.xml']);
  });

  test('remove --in-place checks the same way', () => {
    const f = folder();
    expect(cli(['transform', '--plan', PLAN, f.file, '--in-place', '--no-backup']).code).toBe(0);
    const transformed = read(f.file);
    const real = remove.removePassthrough;
    jest.spyOn(remove, 'removePassthrough').mockImplementation((...args) => {
      fs.appendFileSync(f.file, '\n');
      return real(...args);
    });
    const r = cli(['remove', '--plan', PLAN, f.file, '--in-place']);
    expect(r.stderr).toMatch(/changed after it was read \(another program saved it\)/);
    expect(read(f.file)).toBe(`${transformed}\n`);
  });
});

/** The binary, stopped after 10 s: the old code waited forever on a FIFO. */
function bin(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stderr: r.stderr, signal: r.signal };
}

describe('what sits at the file or at FILE.bak is never opened through, written through or waited on', () => {
  test.each([
    ['a FIFO', (file: string) => spawnSync('mkfifo', [file]), /needs a regular file; .*vm\.xml is a FIFO/],
    ['a symlink to /dev/null', (file: string) => fs.symlinkSync('/dev/null', file), /needs a regular file; .*vm\.xml is a device/],
  ])('the file is %s: refused at once', (_name, make, message) => {
    const { file } = folder();
    fs.rmSync(file);
    make(file);
    const r = bin(['transform', '--plan', PLAN, file, '--in-place']);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(r.stderr).toMatch(message);
  });

  test.each([
    ['a symlink to a file elsewhere', (bak: string, victim: string) => fs.symlinkSync(victim, bak)],
    ['a dangling symlink', (bak: string, victim: string) => fs.symlinkSync(`${victim}.new`, bak)],
    ['a FIFO', (bak: string) => spawnSync('mkfifo', [bak])],
    ['an earlier backup', (bak: string) => fs.writeFileSync(bak, 'an earlier good backup\n')],
  ])('FILE.bak is %s: left as it is, the backup goes to FILE.bak.1', (_name, plant) => {
    const { dir, file } = folder();
    const victim = path.join(root, `victim-${path.basename(dir)}`);
    fs.writeFileSync(victim, 'not yours\n');
    plant(`${file}.bak`, victim);
    const before = fs.lstatSync(`${file}.bak`);
    const r = bin(['transform', '--plan', PLAN, file, '--in-place']);
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(r.stderr).toBe(`kept the old text as ${file}.bak.1 (${file}.bak was there already)\n`);
    expect(read(`${file}.bak.1`)).toBe(DOMAIN);
    expect(read(file)).toContain("bus='0x1b'");
    const after = fs.lstatSync(`${file}.bak`);
    expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
    expect(read(victim)).toBe('not yours\n');
    expect(fs.existsSync(`${victim}.new`)).toBe(false);
    expect(list(dir)).toEqual(['other.xml', 'vm.xml', 'vm.xml.bak', 'vm.xml.bak.1']);
  });

  test('every run that changes the file keeps one more backup; none is overwritten', () => {
    const { dir, file } = folder();
    const texts = [DOMAIN];
    for (const address of ['1b:00.0', '1c:00.0', '1d:00.0']) {
      const plan = path.join(dir, `${address}.json`);
      fs.writeFileSync(plan, JSON.stringify({ hostdevs: [{ address }] }));
      expect(cli(['transform', '--plan', plan, file, '--in-place']).code).toBe(0);
      texts.push(read(file));
    }
    expect([read(`${file}.bak`), read(`${file}.bak.1`), read(`${file}.bak.2`)]).toEqual(texts.slice(0, 3));
  });

  test('on a file system without hard links (link() refused) the backup still never replaces what is there', () => {
    const { dir, file } = folder();
    const victim = path.join(root, `victim-nolink-${path.basename(dir)}`);
    fs.writeFileSync(victim, 'not yours\n');
    fs.symlinkSync(victim, `${file}.bak`);
    const nodeFs = require('node:fs') as typeof fs;
    jest.spyOn(nodeFs, 'linkSync').mockImplementation(() => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    });
    const r = cli(['transform', '--plan', PLAN, file, '--in-place']);
    expect(r).toMatchObject({ code: 0, stderr: `kept the old text as ${file}.bak.1 (${file}.bak was there already)\n` });
    expect([read(`${file}.bak.1`), read(victim), fs.readlinkSync(`${file}.bak`)]).toEqual([DOMAIN, 'not yours\n', victim]);
    expect(list(dir)).toEqual(['other.xml', 'vm.xml', 'vm.xml.bak', 'vm.xml.bak.1']);
  });

  test('the backup has the mode of the file, the new file keeps it too', () => {
    const { file } = folder();
    fs.chmodSync(file, 0o640);
    expect(cli(['transform', '--plan', PLAN, file, '--in-place']).code).toBe(0);
    expect([fs.statSync(file).mode & 0o7777, fs.statSync(`${file}.bak`).mode & 0o7777]).toEqual([0o640, 0o640]);
  });
});

describe('temp files', () => {
  const deadPid = () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    return Number(child.stdout);
  };

  test("a killed run's temp files (its process gone) are removed by the next run; a running one's are not", () => {
    const { dir, file } = folder();
    const live = spawn('sleep', ['30']);
    const stale = `.vm.xml.lp-${deadPid()}-${'a'.repeat(24)}.tmp`;
    const running = `.vm.xml.lp-${live.pid}-${'b'.repeat(24)}.tmp`;
    const notOurs = '.vm.xml.lp-1-zzzz.tmp';
    for (const name of [stale, running, notOurs]) fs.writeFileSync(path.join(dir, name), DOMAIN.slice(0, 100), { mode: 0o600 });
    try {
      expect(cli(['transform', '--plan', PLAN, file, '--in-place']).code).toBe(0);
    } finally {
      live.kill();
    }
    expect(list(dir)).toEqual([running, notOurs, 'other.xml', 'vm.xml', 'vm.xml.bak'].sort());
  });

  test('a temp file is named unpredictably: two runs, two 96-bit random names', () => {
    const { file } = folder();
    const names: string[] = [];
    const nodeFs = require('node:fs') as typeof fs; // the module itself: the import above is a read-only view of it
    const real = nodeFs.openSync;
    jest.spyOn(nodeFs, 'openSync').mockImplementation(((name: fs.PathLike, ...rest: unknown[]) => {
      if (String(name).endsWith('.tmp')) names.push(path.basename(String(name)));
      return (real as (...a: unknown[]) => number)(name, ...rest);
    }) as typeof fs.openSync);
    expect(cli(['transform', '--plan', PLAN, file, '--in-place', '--no-backup']).code).toBe(0);
    fs.writeFileSync(file, DOMAIN);
    expect(cli(['transform', '--plan', PLAN, file, '--in-place', '--no-backup']).code).toBe(0);
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(new RegExp(`^\\.vm\\.xml\\.lp-${process.pid}-[0-9a-f]{24}\\.tmp$`));
    expect(names[0]).not.toBe(names[1]);
  });
});
