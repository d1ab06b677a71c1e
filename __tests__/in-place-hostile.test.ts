import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../lib/cli/main';
import { CliIo, processIo } from '../lib/cli/io';
import { needs, root } from './helpers/needs';
import { readableByNobody, removeNobodyCopy } from './helpers/nobody';
import { REPO } from './helpers/paths';

// Other users, a tmpfs and FIFOs: root only (one skip line naming it, a failure under CI).
const asRoot = needs(root('to act as another user, mount a tmpfs and plant FIFOs'));

// --in-place where other users write, the disk fills and runs are killed (issue 21 item 5), as root: a second
// user plants links and FIFOs in a sticky world-writable folder, a small tmpfs runs full, and SIGKILL lands at
// random points of 200 runs.
const PLAN = path.join(REPO, 'examples', 'npu.plan.json');
const DOMAIN = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
const VICTIM = 61001; // no passwd entry needed: setpriv takes numbers
const ATTACKER = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-in-place-hostile-'));
afterAll(() => {
  removeNobodyCopy();
  fs.rmSync(base, { recursive: true, force: true });
});

const read = (file: string) => fs.readFileSync(file, 'utf8');
const list = (dir: string) => fs.readdirSync(dir).sort();
const isTemp = (name: string) => /\.tmp$/.test(name);

/** `cmd` as uid `as` (setpriv), stopped after 10 s: the old code waited forever on a planted FIFO. */
function run(as: number | string[], args: string[]) {
  const who = Array.isArray(as) ? as : [`--reuid=${as}`, `--regid=${as}`, '--clear-groups'];
  const r = spawnSync('setpriv', [...who, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stderr: r.stderr, signal: r.signal };
}

asRoot.describe('--in-place in a sticky world-writable folder, another user planting', () => {
  // The victim is root, or an ordinary user whose secret sits in a folder only they may enter.
  const cases = [
    ['root', 0],
    ['an ordinary user', VICTIM],
  ] as const;

  function scene(victim: number) {
    fs.chmodSync(base, 0o755);
    const shared = fs.mkdtempSync(path.join(base, 'shared-'));
    fs.chmodSync(shared, 0o1777);
    const home = fs.mkdtempSync(path.join(base, 'home-'));
    const secret = path.join(home, 'secret.xml');
    fs.writeFileSync(secret, 'the victim\'s own file\n', { mode: 0o600 });
    const file = path.join(shared, 'vm.xml');
    fs.writeFileSync(file, DOMAIN, { mode: 0o644 });
    for (const p of [home, secret, file]) fs.chownSync(p, victim, victim);
    fs.chmodSync(home, 0o700);
    const plan = readableByNobody().example('npu.plan.json');
    const transform = (target = file) => run(victim, [process.execPath, readableByNobody().bin, 'transform', '--plan', plan, target, '--in-place']);
    return { shared, home, secret, file, transform };
  }

  test.each(cases)('a symlink planted as FILE.bak is neither followed nor replaced (victim: %s)', (_who, victim) => {
    const s = scene(victim);
    expect(run(ATTACKER, ['ln', '-s', s.secret, `${s.file}.bak`]).code).toBe(0);
    const r = s.transform();
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(fs.readFileSync(s.secret, 'utf8')).toBe('the victim\'s own file\n');
    expect(fs.readlinkSync(`${s.file}.bak`)).toBe(s.secret);
    expect(read(`${s.file}.bak.1`)).toBe(DOMAIN);
    expect(fs.statSync(`${s.file}.bak.1`)).toMatchObject({ uid: victim, mode: fs.constants.S_IFREG | 0o644 });
    expect(read(s.file)).toContain("bus='0x1b'");
  });

  test.each(cases)('a FIFO planted as FILE.bak does not block the run (victim: %s)', (_who, victim) => {
    const s = scene(victim);
    expect(run(ATTACKER, ['mkfifo', `${s.file}.bak`]).code).toBe(0);
    const r = s.transform();
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(fs.lstatSync(`${s.file}.bak`).isFIFO()).toBe(true);
    expect(read(`${s.file}.bak.1`)).toBe(DOMAIN);
  });

  test.each(cases)("the file is the other user's symlink to the victim's file: refused, not followed (victim: %s)", (_who, victim) => {
    const s = scene(victim);
    fs.writeFileSync(s.secret, DOMAIN); // a domain, so the old code had something to transform and write
    fs.rmSync(s.file);
    expect(run(ATTACKER, ['ln', '-s', s.secret, s.file]).code).toBe(0);
    const r = s.transform();
    expect(r.stderr).toMatch(/--in-place will not follow .*vm\.xml: it is a symbolic link of another user \(uid 65534\) in a folder anyone may write to/);
    expect(r.code).toBe(1);
    expect(read(s.secret)).toBe(DOMAIN);
    expect(list(s.shared)).toEqual(['vm.xml']);
  });

  test("root's killed run left a temp file already given to the file's owner: root's next run removes it, not another user's", () => {
    const s = scene(VICTIM);
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const owners = { [`.vm.xml.lp-${dead}-${'a'.repeat(24)}.tmp`]: VICTIM, [`.vm.xml.lp-${dead}-${'b'.repeat(24)}.tmp`]: 65534 };
    for (const [name, uid] of Object.entries(owners)) {
      fs.writeFileSync(path.join(s.shared, name), 'partial', { mode: 0o600 });
      fs.chownSync(path.join(s.shared, name), uid, uid);
    }
    expect(run(0, [process.execPath, readableByNobody().bin, 'transform', '--plan', readableByNobody().example('npu.plan.json'), s.file, '--in-place'])).toMatchObject({ code: 0 });
    expect(list(s.shared)).toEqual([`.vm.xml.lp-${dead}-${'b'.repeat(24)}.tmp`, 'vm.xml', 'vm.xml.bak']);
    expect(fs.statSync(s.file).uid).toBe(VICTIM);
  });

  test("the victim's own symlink in that folder is followed as before", () => {
    const s = scene(VICTIM);
    const link = path.join(s.shared, 'current.xml');
    fs.symlinkSync('vm.xml', link);
    fs.lchownSync(link, VICTIM, VICTIM);
    expect(s.transform(link)).toMatchObject({ code: 0 });
    expect(read(s.file)).toContain("bus='0x1b'");
  });
});

asRoot.describe('--in-place on a full disk (a 1 MiB tmpfs)', () => {
  let mnt: string;
  beforeAll(() => {
    mnt = fs.mkdtempSync(path.join(base, 'tmpfs-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'lp-in-place-test', mnt], { encoding: 'utf8' });
    if (m.status !== 0) throw new Error(`mount -t tmpfs failed: ${m.stderr}`);
  });
  afterAll(() => spawnSync('umount', [mnt]));

  // The domain is padded to 200 KB so the free space can be set between "nothing fits" and "the new file fits, its backup does not".
  const big = DOMAIN.replace('<name>', `<!--${'p'.repeat(200_000)}-->\n  <name>`);
  const free = () => {
    const s = fs.statfsSync(mnt);
    return s.bavail * s.bsize;
  };

  test.each([
    ['the new file does not fit', 50_000],
    ['the new file fits, its backup does not', 300_000],
  ])('%s: an earlier good .bak survives, the file is unchanged, and the message is true', (_name, leave) => {
    for (const name of fs.readdirSync(mnt)) fs.rmSync(path.join(mnt, name));
    const file = path.join(mnt, 'vm.xml');
    fs.writeFileSync(file, big);
    fs.writeFileSync(`${file}.bak`, 'an earlier good backup\n');
    fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(Math.max(0, free() - leave)));
    let stderr = '';
    const io: CliIo = { ...processIo, stdout: () => undefined, stderr: (t) => (stderr += t) };
    const code = runCli(['transform', '--plan', PLAN, file, '--in-place'], io);
    expect(stderr).toMatch(/--in-place could not replace .*vm\.xml: no space left on the device \(ENOSPC\); the file is unchanged\n$/);
    expect(code).toBe(1);
    expect(read(file)).toBe(big);
    expect(read(`${file}.bak`)).toBe('an earlier good backup\n');
    expect(list(mnt)).toEqual(['filler', 'vm.xml', 'vm.xml.bak']);
  });
});

asRoot.describe('--in-place killed at random points', () => {
  const KILLS = Number(process.env.LP_KILLS ?? 200);

  test(`${KILLS} SIGKILLs: the file is old or new, every backup complete, temp files unreadable to others and removed by the next run`, async () => {
    const dir = fs.mkdtempSync(path.join(base, 'kill-'));
    const file = path.join(dir, 'vm.xml');
    // Megabytes, so the write takes long enough to be hit; mode 0640 so a temp file that is "no wider" can be told apart.
    const original = DOMAIN.replace('<name>', `<!--${'k'.repeat(4_000_000)}-->\n  <name>`);
    const reset = () => {
      fs.writeFileSync(`${file}.reset`, original, { mode: 0o640 });
      fs.renameSync(`${file}.reset`, file);
      for (const name of fs.readdirSync(dir)) if (name.includes('.bak')) fs.rmSync(path.join(dir, name));
    };
    reset();
    const started = Date.now();
    expect(spawnSync(process.execPath, [path.join(REPO, 'bin', 'libvirt-passthrough.js'), 'transform', '--plan', PLAN, file, '--in-place']).status).toBe(0);
    const duration = Date.now() - started;
    const updated = read(file);
    expect(updated).not.toBe(original);

    const seen = { old: 0, new: 0, backups: 0, withTemps: 0, maxTemps: 0 };
    for (let i = 0; i < KILLS; i++) {
      reset();
      // Half the kills anywhere in a run; half just after the first temp file appears (where the writing is).
      await killedRun(file, i % 2 === 0 ? { after: Math.random() * duration * 1.1 } : { afterTemp: Math.random() * 40 });
      // Megabytes: compared as labels, so a failure prints what the file is, not 4 MB of diff.
      const text = read(file);
      expect(text === original ? 'old' : text === updated ? 'new' : `neither (${text.length} characters)`).toMatch(/^(old|new)$/);
      seen[text === original ? 'old' : 'new']++;
      const names = fs.readdirSync(dir);
      for (const bak of names.filter((n) => n.includes('.bak'))) {
        const backup = read(path.join(dir, bak));
        expect(backup === original ? 'the old text' : `${backup.length} characters`).toBe('the old text');
        seen.backups++;
      }
      const temps = names.filter(isTemp);
      for (const t of temps) expect(fs.statSync(path.join(dir, t)).mode & 0o077 & ~0o040).toBe(0);
      if (temps.length) seen.withTemps++;
      seen.maxTemps = Math.max(seen.maxTemps, temps.length);
    }
    reset();
    expect(spawnSync(process.execPath, [path.join(REPO, 'bin', 'libvirt-passthrough.js'), 'transform', '--plan', PLAN, file, '--in-place']).status).toBe(0);
    expect(list(dir)).toEqual(['vm.xml', 'vm.xml.bak']);
    console.info(`in-place kills: ${JSON.stringify(seen)} over ${KILLS} (a full run took ${duration} ms)`);
    expect(seen.old).toBeGreaterThan(0);
  }, 600_000);
});

function killedRun(file: string, when: { after: number } | { afterTemp: number }): Promise<void> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [path.join(REPO, 'bin', 'libvirt-passthrough.js'), 'transform', '--plan', PLAN, file, '--in-place'], { stdio: 'ignore' });
    const kill = () => child.kill('SIGKILL');
    let watcher: fs.FSWatcher | undefined;
    if ('after' in when) setTimeout(kill, when.after);
    else {
      watcher = fs.watch(path.dirname(file), (_event, name) => {
        if (name && isTemp(name)) {
          watcher?.close();
          setTimeout(kill, when.afterTemp);
        }
      });
    }
    child.on('exit', () => {
      watcher?.close();
      resolve();
    });
  });
}
