import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lockFolder } from '../lib/libvirt/lock';
import { Embedded, cli, cliAsync, defineVm, dump, example, startEmbedded, virsh, wrapper, writePlan } from './helpers/embedded-apply';
import { KVM, LIBVIRT, needs } from './helpers/needs';

// apply against races, hangs, option-looking names and kills, on real libvirt (the embedded driver, see
// helpers/embedded-apply.ts). Each case is one of issue 21's failures. LP_APPLY_TRIALS sets the number of
// random-timing trials (default 3; docs/integrations.md records a run with 30).
const TRIALS = Number(process.env.LP_APPLY_TRIALS ?? 3);
jest.setTimeout(60_000 + TRIALS * 40_000);

const gate = needs(LIBVIRT, KVM);
let e: Embedded;
beforeAll(() => {
  if (!gate.met) return;
  if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build');
  e = startEmbedded('lp-apply-races-');
});
afterAll(() => e && fs.rmSync(e.dir, { recursive: true, force: true }));

const NPU = example('npu.plan.json'); // hostdev 1b:00.0
const second = () => writePlan(e, 'second', { hostdevs: [{ address: '3b:00.0' }] });
const has = (xml: string, bus: string) => new RegExp(`<source>\\s*<address domain='0x0000' bus='0x${bus}'`).test(xml);
const VCPUS_12 = />12<\/vcpu>/;

/** Another tool's edit (vcpus 16 -> 12) of VM, once (a marker file), as sh for a wrapper. */
function otherToolOnce(vm: string, marker: string): string {
  // Through a file, not a pipe: define would take the serialising lock first and wait for dumpxml, which waits for the lock.
  const file = `${marker}.xml`;
  return `if [ ! -e "${marker}" ]; then : > "${marker}"; "${e.virshProgram}" "--connect=${e.uri}" dumpxml --inactive --security-info --domain '${vm}' | sed 's/>16<\\/vcpu>/>12<\\/vcpu>/' > "${file}" && "${e.virshProgram}" "--connect=${e.uri}" define --file "${file}" >/dev/null; fi`;
}

gate.describe('concurrent changes', () => {
  test('two apply runs on one VM at once: both changes end up defined, and each success is true (lock)', async () => {
    const outcomes = { falseSuccess: 0, bothLost: 0, bothOk: 0 };
    for (let i = 0; i < TRIALS; i++) {
      const vm = `lp-pair-${i}`;
      defineVm(e, vm);
      const [a, b] = [cliAsync(e, ['apply', vm, '--plan', NPU]), cliAsync(e, ['apply', vm, '--plan', second()])];
      const [ra, rb] = await Promise.all([a.done, b.done]);
      const final = dump(e, vm);
      if ((ra.code === 0 && !has(final, '1b')) || (rb.code === 0 && !has(final, '3b'))) outcomes.falseSuccess++;
      if (!has(final, '1b') && !has(final, '3b')) outcomes.bothLost++;
      if (ra.code === 0 && rb.code === 0) outcomes.bothOk++;
      else console.log(`trial ${i}: ${JSON.stringify([ra.code, ra.stderr.replace(/^target: .*\n/, ''), rb.code, rb.stderr.replace(/^target: .*\n/, '')])}`);
    }
    console.log(`apply races, two runs on one VM, ${TRIALS} trials: ${JSON.stringify(outcomes)}`);
    expect(outcomes).toEqual({ falseSuccess: 0, bothLost: 0, bothOk: TRIALS });
  });

  test('another tool defines between dumpxml and define: CONCURRENT_CHANGE, its change stays, nothing of ours is defined', () => {
    defineVm(e, 'lp-before');
    const w = wrapper(e, 'virsh-other-before', `[ "$cmd" = domstate ] && { ${otherToolOnce('lp-before', path.join(e.dir, 'm-before'))}; }`);
    const r = cli(e, ['apply', 'lp-before', '--plan', NPU], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lp-before: CONCURRENT_CHANGE: The definition changed while this run prepared its own \(1 line\(s\) differ; first at line \d+: `<vcpu placement='static'>16<\/vcpu>` is now `<vcpu placement='static'>12<\/vcpu>`\); nothing was defined\. Run again/);
    const final = dump(e, 'lp-before');
    expect([VCPUS_12.test(final), has(final, '1b')]).toEqual([true, false]);
    expect(cli(e, ['apply', 'lp-before', '--plan', NPU]).code).toBe(0); // run again: on top of the other change
    expect([VCPUS_12.test(dump(e, 'lp-before')), has(dump(e, 'lp-before'), '1b')]).toEqual([true, true]);
  });

  test('another tool defines between define and read-back: CONCURRENT_CHANGE, not LIBVIRT_DROPPED, and no rollback erases it', () => {
    defineVm(e, 'lp-after');
    const marker = path.join(e.dir, 'm-after');
    // After our define went through, the other tool defines its edit of the definition from before ours.
    const before = path.join(e.dir, 'lp-after.before.xml');
    fs.writeFileSync(before, dump(e, 'lp-after').replace('>16</vcpu>', '>12</vcpu>'));
    const w = wrapper(e, 'virsh-other-after', `if [ "$cmd" = define ] && [ ! -e "${marker}" ]; then : > "${marker}"; "${e.virshProgram}" "$@" && "${e.virshProgram}" "--connect=${e.uri}" define --file "${before}" >/dev/null; exit $?; fi`);
    const r = cli(e, ['apply', 'lp-after', '--plan', NPU], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lp-after: CONCURRENT_CHANGE: After this run defined the domain, someone else defined it \(\+<vcpu placement='static'>12<\/vcpu>.*\); what this run added is not all there \(missing: hostdev 0000:1b:00\.0\)\. Not rolled back/);
    expect(VCPUS_12.test(dump(e, 'lp-after'))).toBe(true);
  });

  test('another tool defines between read-back and rollback: the rollback does not happen', () => {
    defineVm(e, 'lp-rollback');
    const marker = path.join(e.dir, 'm-rollback');
    const count = path.join(e.dir, 'dumps-rollback');
    // libvirt "drops" the overrides (as before 8.2); the other tool defines after our read-back (the 3rd dump).
    const w = wrapper(
      e,
      'virsh-other-rollback',
      `if [ "$cmd" = define ] && [ ! -e "${marker}.defined" ]; then : > "${marker}.defined"; perl -0777 -pe 's{\\s*<qemu:override>.*?</qemu:override>}{}s' | "${e.virshProgram}" "$@"; exit $?; fi
if [ "$cmd" = dumpxml ]; then echo >> "${count}"; [ "$(wc -l < "${count}")" = 4 ] && { ${otherToolOnce('lp-rollback', marker)}; }; fi`,
    );
    const r = cli(e, ['apply', 'lp-rollback', '--plan', example('2gpu-k80.plan.json')], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lp-rollback: LIBVIRT_DROPPED: libvirt accepted the definition but did not keep override ua-gpu0 .*; not rolled back: the definition changed after ours was defined \(.*12<\/vcpu>.*\), so this run defines nothing more/);
    expect(VCPUS_12.test(dump(e, 'lp-rollback'))).toBe(true);
  });

  // The window no check can close without a compare-and-swap in libvirt: a define by another tool after the
  // re-dump and before ours is overwritten by ours (docs/integrations.md). Counted, not asserted; the claims are.
  test('another tool at a random moment: apply never claims a change that is not there, and never rolls back over it', async () => {
    const outcomes = { overwrittenInWindow: 0, falseSuccess: 0, applyOk: 0, applyRefused: 0, otherLostWhileRefused: 0 };
    for (let i = 0; i < TRIALS; i++) {
      const vm = `lp-random-${i}`;
      defineVm(e, vm);
      const run = cliAsync(e, ['apply', vm, '--plan', NPU]);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3000)));
      const other = cliAsync(e, ['--version']); // keeps the timing of a process start
      await other.done;
      const otherDump = dump(e, vm);
      virsh(e, 'define', '--file', writeTemp(`${vm}.other.xml`, otherDump.replace('>16</vcpu>', '>12</vcpu>')));
      const r = await run.done;
      const final = dump(e, vm);
      if (r.code === 0) outcomes.applyOk++;
      else {
        outcomes.applyRefused++;
        console.log(`trial ${i}: ${JSON.stringify(r.stderr)}`);
      }
      // The other tool read before defining: if ours is gone, the other tool lost our update, not we its.
      if (!VCPUS_12.test(final) && r.code === 0) outcomes.overwrittenInWindow++;
      if (!VCPUS_12.test(final) && r.code !== 0) outcomes.otherLostWhileRefused++;
      // Success while our hostdev is missing, though the other tool's copy already had it (so it cannot have removed it).
      if (r.code === 0 && !has(final, '1b') && has(otherDump, '1b')) outcomes.falseSuccess++;
    }
    console.log(`apply races, another tool at a random moment, ${TRIALS} trials: ${JSON.stringify(outcomes)}`);
    expect([outcomes.falseSuccess, outcomes.otherLostWhileRefused]).toEqual([0, 0]);
  });

  test('dumpxml answers with another domain: DOMAIN_MISMATCH, neither domain is defined', () => {
    const mine = defineVm(e, 'lp-mine');
    const other = defineVm(e, 'lp-other');
    const w = wrapper(e, 'virsh-wrong-domain', `[ "$cmd" = dumpxml ] && exec "${e.virshProgram}" "--connect=${e.uri}" dumpxml --inactive --security-info --domain lp-other`);
    const r = cli(e, ['apply', 'lp-mine', '--plan', NPU], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lp-mine: DOMAIN_MISMATCH: virsh dumpxml for "lp-mine" returned the definition of "lp-other" \(UUID 6f2a8e4c-[-0-9a-f]+\), not of the domain with UUID 6f2a8e4c-[-0-9a-f]+; nothing was defined/);
    expect([dump(e, 'lp-mine'), dump(e, 'lp-other')]).toEqual([mine, other]);
  });
});

function writeTemp(name: string, text: string): string {
  const file = path.join(e.dir, name);
  fs.writeFileSync(file, text);
  return file;
}

gate.describe('a hung virsh', () => {
  test.each([
    ['dumpxml', 1, /virsh dumpxml \(dumpxml\) did not answer within 8 s and was killed; nothing was defined/],
    ['define', 1, /virsh define \(define\) did not answer within 8 s and was killed; libvirt may or may not have the new definition/],
    ['dumpxml', 3, /virsh dumpxml \(read-back\) did not answer within 8 s and was killed; the new definition is in place but was not checked/],
  ])('%s (call %i) hangs: LIBVIRT_TIMEOUT names the step and the state, and its whole process group is killed', (command, nth, message) => {
    const vm = `lp-hang-${command}-${nth}`;
    defineVm(e, vm);
    const pids = path.join(e.dir, `${vm}.pids`);
    const count = path.join(e.dir, `${vm}.count`);
    // The hung call has a child (as virsh has ssh for qemu+ssh://): both must go.
    const w = wrapper(e, `virsh-hang-${vm}`, `if [ "$cmd" = ${command} ]; then echo >> "${count}"; if [ "$(wc -l < "${count}")" = ${nth} ]; then sleep 1000 & echo "$$ $!" > "${pids}"; wait; fi; fi`);
    // 8 s: every call of the run has this limit, and a busy machine must not make an answered call late.
    const r = cli(e, ['apply', vm, '--plan', NPU, '--timeout', '8'], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^${vm}: LIBVIRT_TIMEOUT: ${message.source}`));
    for (const pid of fs.readFileSync(pids, 'utf8').trim().split(' ')) expect(running(Number(pid))).toBe(false);
  });
});

/** Alive and not a zombie waiting for its (killed) parent's reaper; a killed process may take a moment to go. */
function running(pid: number): boolean {
  for (let i = 0; i < 50; i++) {
    let state: string;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return false;
    }
    if (state === 'Z') return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  return true;
}

gate.describe('names and URIs that look like options', () => {
  const names = ['--domain=lp-victim', '--xpath=name', '-c', "a b 'c\" d", '--'];
  test.each(names)('apply %j edits that domain and never lp-victim (CLI and applyPlan)', (name) => {
    const victim = defineVm(e, 'lp-victim');
    defineVm(e, name);
    const r = cli(e, ['apply', '--plan', NPU, '--', name]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(has(dump(e, name), '1b')).toBe(true);
    const { applyPlan } = require('../dist/index.js');
    const lib = applyPlan(name, { hostdevs: [{ address: '3b:00.0' }] }, { connect: e.uri, virsh: e.virshProgram });
    expect(lib).toMatchObject({ code: 'OK' });
    expect(dump(e, 'lp-victim')).toBe(victim);
  });

  test('a name no domain has is refused, even when it names a domain as an option would', () => {
    const victim = defineVm(e, 'lp-victim2');
    const r = cli(e, ['apply', '--plan', NPU, '--', '--domain=lp-victim2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^--domain=lp-victim2: LIBVIRT_REFUSED: virsh domuuid failed: failed to get domain '--domain=lp-victim2'/);
    expect(dump(e, 'lp-victim2')).toBe(victim);
  });

  test('a URI that looks like an option is a URI', () => {
    const { applyPlan } = require('../dist/index.js');
    const r = applyPlan('lp-victim', { hostdevs: [{ address: '3b:00.0' }] }, { connect: '--readonly', virsh: e.virshProgram });
    expect(r.code).toBe('LIBVIRT_REFUSED');
    expect(r.message).toMatch(/^virsh uri failed: .*--readonly/);
  });
});

gate.describe('no secret on disk', () => {
  // Made here, so no source file or cache holds it; VNC passwords have at most 8 characters.
  const PASSWORD = randomBytes(6).toString('base64').replace(/[^A-Za-z0-9]/g, 'x');
  const withVnc = fs.readFileSync(example('domain.xml'), 'utf8').replace('</devices>', `  <graphics type='vnc' port='-1' passwd='${PASSWORD}'/>\n  </devices>`);

  test('runs killed at random moments leave no file holding the definition, and the next run takes over the lock', async () => {
    defineVm(e, 'lp-kill', withVnc);
    const leftovers: string[] = [];
    const kills = Math.max(TRIALS * 3, 8);
    for (let i = 0; i < kills; i++) {
      if (i % 2 === 1) virsh(e, 'define', '--file', writeTemp('lp-kill.xml', withVnc.replace('<name>vm-name</name>', '<name>lp-kill</name>').replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuidOf(dump(e, 'lp-kill'))}</uuid>`)));
      const run = cliAsync(e, ['apply', 'lp-kill', '--plan', NPU]);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 4000)));
      run.child.kill('SIGKILL');
      await run.done;
      leftovers.push(...holding(e.tmp, PASSWORD), ...holding(os.tmpdir(), PASSWORD), ...holding(lockFolder(), PASSWORD));
    }
    expect(leftovers).toEqual([]);
    const final = cli(e, ['apply', 'lp-kill', '--plan', NPU, '--timeout', '20']);
    expect(final.code).toBe(0);
    expect(dump(e, 'lp-kill')).toContain(PASSWORD); // the password is kept (--security-info) ...
    expect(has(dump(e, 'lp-kill'), '1b')).toBe(true); // ... and the change made
  });
});

const uuidOf = (xml: string) => /<uuid>([^<]*)<\/uuid>/.exec(xml)![1];

const started = Date.now();

/** Files under `dir` changed since this suite started (not following links, not the test's own folder) whose content holds `secret`. */
function holding(dir: string, secret: string): string[] {
  const found: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const p = path.join(dir, entry.name);
    if (p === e.dir) continue; // the test's own files (its copy of the definition), but for e.tmp, searched on its own
    if (entry.isDirectory()) found.push(...holding(p, secret));
    else if (entry.isFile()) {
      try {
        const st = fs.statSync(p);
        if (st.mtimeMs >= started - 1000 && st.size < 1 << 22 && fs.readFileSync(p, 'utf8').includes(secret)) found.push(p);
      } catch {
        // gone meanwhile, or unreadable
      }
    }
  }
  return found;
}
