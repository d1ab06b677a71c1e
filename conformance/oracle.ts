import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { argvWords, deviceOptions, jsonDevices, vfioDevices, VfioDevice } from './argv';
import { droppedFacts } from './facts';
import { hasKvm, tcgTwin, withVfioDrivers } from './prepare';
import { REPO } from './repo';
import { prefetchQemu, qemuAcceptsDevice, QemuRequest } from './qemu';
import { Stack } from './stacks';

export interface OracleInput {
  name: string;
  xml: string;
}

/** What real libvirt and QEMU said about one domain file; each field "ok" or the tool's message. */
export interface OracleVerdict {
  name: string;
  rng: string;
  define: string;
  /** Present in the file but missing from libvirt's dumpxml (or overrides that reach no device). */
  dropped: string[];
  argv: string;
  /** vfio-pci devices of the QEMU command line. */
  devices: VfioDevice[];
  /** Every JSON `-device` of the command line (controllers included). */
  deviceJson: string[];
  /** The values of every -global and -fw_cfg option of the command line. */
  globals: string[];
  fwCfg: string[];
  qemu: string;
}

const ORACLE_SCRIPT = path.join(REPO, 'scripts', 'libvirt-oracle.sh');

/** Runs every input through one stack's libvirt (in `parallel` batches, each one embedded driver) and QEMU. */
export async function runOracle(inputs: OracleInput[], stack: Stack, parallel = Math.min(2, os.cpus().length)): Promise<OracleVerdict[]> {
  const dir = fs.mkdtempSync(path.join(stack.jobsUnderTmp ? '/tmp' : os.tmpdir(), 'libvirt-passthrough-oracle-'));
  try {
    // The script runs from the job folder, the one folder a chroot stack sees.
    const script = path.join(dir, 'libvirt-oracle.sh');
    fs.copyFileSync(ORACLE_SCRIPT, script);
    const batches = Array.from({ length: Math.max(1, parallel) }, (_, b) => path.join(dir, `batch${b}`));
    batches.forEach((b) => fs.mkdirSync(b));
    const twin = !hasKvm();
    inputs.forEach((input, i) => writeJob(path.join(batches[i % batches.length], String(i)), input.xml, twin));
    const results = await Promise.allSettled(batches.map((b) => runBatch(stack.command(['bash', script, b], dir))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const bases = inputs.map((_, i) => path.join(batches[i % batches.length], String(i)));
    prefetchQemu(bases.flatMap(qemuRequests), stack, dir);
    return inputs.map((input, i) => readVerdict(input, bases[i], stack));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function writeJob(base: string, xml: string, twin: boolean): void {
  const forLibvirt = twin ? tcgTwin(xml) : xml;
  fs.writeFileSync(`${base}.rng.xml`, xml);
  fs.writeFileSync(`${base}.define.xml`, forLibvirt);
  fs.writeFileSync(`${base}.argv.xml`, withVfioDrivers(forLibvirt));
}

function runBatch([cmd, args]: [string, string[]]): Promise<void> {
  const batch = args[args.length - 1];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && fs.existsSync(path.join(batch, '.complete'))) resolve();
      else reject(new Error(`libvirt oracle failed (exit ${code}): ${stderr.trim() || 'no message'}`));
    });
  });
}

/** The QEMU checks one file's command line needs (see qemuVerdict). */
function qemuRequests(base: string): QemuRequest[] {
  if (!fs.existsSync(base + '.argv')) return [];
  const words = argvWords(fs.readFileSync(base + '.argv', 'utf8'));
  const devices = vfioDevices(words);
  const options = deviceOptions(words);
  if (devices.length === 0) return options.length === 0 ? [] : [{ options }];
  return devices.map((device) => ({ device, options }));
}

function readVerdict(input: OracleInput, base: string, stack: Stack): OracleVerdict {
  const read = (suffix: string) => (fs.existsSync(base + suffix) ? fs.readFileSync(base + suffix, 'utf8') : undefined);
  const rng = oneLine(read('.rng') ?? 'not run', base);
  const define = oneLine(read('.define') ?? 'not run', base);
  const dump = read('.dump.xml');
  const dropped = define === 'ok' && dump !== undefined ? droppedFacts(read('.define.xml')!, dump) : [];
  const commandLine = read('.argv');
  const argv = commandLine === undefined ? oneLine(read('.argv.err') ?? 'failed', base) : 'ok';
  const words = commandLine === undefined ? [] : argvWords(commandLine);
  const devices = vfioDevices(words);
  const options = deviceOptions(words);
  const valuesOf = (flag: string) => words.flatMap((w, i) => (words[i - 1] === flag ? [w] : []));
  return {
    name: input.name, rng, define, dropped, argv, devices, deviceJson: jsonDevices(words), globals: valuesOf('-global'), fwCfg: valuesOf('-fw_cfg'),
    qemu: commandLine === undefined ? 'not run: no argv' : qemuVerdict(devices, options, stack),
  };
}

function qemuVerdict(devices: VfioDevice[], options: string[], stack: Stack): string {
  if (devices.length === 0) return options.length === 0 ? 'ok' : qemuAcceptsDevice(undefined, options, stack);
  for (const device of devices) {
    const verdict = qemuAcceptsDevice(device, options, stack);
    if (verdict !== 'ok') return verdict;
  }
  return 'ok';
}

/** libvirt's and xmllint's messages, without log noise and temp paths, on one line. */
function oneLine(text: string, base: string): string {
  const lines = text
    .split('\n')
    .filter((l) => l.trim() && !/^\d{4}-\d\d-\d\d [\d:.]+\+\d{4}: \d+: /.test(l))
    .filter((l) => !/^error: Failed to define domain from /.test(l) && !/ fails to validate$/.test(l) && !/^\s*\^?\s*$/.test(l))
    .map((l) => l.replace(/^error: /, '').replace(/Relax-NG validity error : /, '').split(base).join('<file>'));
  const joined = lines.join('; ');
  return (joined.length > 600 ? joined.slice(0, 600) + '…' : joined) || 'failed';
}
