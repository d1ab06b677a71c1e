import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What KubeVirt's sidecar-shim does for the onDefineDomain hook point, step by step as in
 * kubevirt/kubevirt cmd/sidecars/sidecar_shim.go (commit d923fdb8): parseCommandLineArgs accepts
 * --version v1alpha1, v1alpha2 or v1alpha3; each version's OnDefineDomain calls runOnDefineDomain, which
 * finds `onDefineDomain` with exec.LookPath, refuses a VMI that does not unmarshal, runs
 * exec.Command("onDefineDomain", "--vmi", vmiJSON, "--domain", domainXML) (no stdin: /dev/null), logs
 * the hook's stderr and returns command.Output(): stdout is the new domain, a non-zero exit an error
 * (the VM does not start). The stderr log is logStderr's: a bufio.Scanner line by line with a 512 KiB
 * buffer, which stops at a longer line with "failed to read hook logs" (shims from v1.3.0, commit
 * ad4157345a; older ones log no stderr at all).
 */
export const HOOK_VERSIONS = ['v1alpha1', 'v1alpha2', 'v1alpha3'] as const;

/** bufio.Scanner's buffer in logStderr: scanner.Buffer(make([]byte, 1024), 512*1024). */
const LOG_LINE_MAX = 512 * 1024;

export interface ShimOutcome {
  /** The domain XML the shim hands back to virt-launcher, or undefined when it returns an error. */
  domain?: string;
  error?: string;
  /** The hook's stderr, as the shim logs it line by line. */
  log: string[];
  argv: string[];
}

export interface ShimOptions {
  /**
   * A command the hook runs under, as the container it lives in would run it: e.g. `unshare --mount … sh -c
   * 'mount --bind …; exec "$@"'` for a ConfigMap mounted at hookPath. The lookup on PATH happens outside, as in the shim.
   */
  inside?: string[];
  /** Stop the hook after this many milliseconds (virt-launcher gives up on a hook that never returns). */
  timeoutMs?: number;
}

export function shimOnDefineDomain(version: string, vmiJson: string, domainXml: string, searchPath: string, options: ShimOptions = {}): ShimOutcome {
  if (!(HOOK_VERSIONS as readonly string[]).includes(version)) throw new Error(`Version ${version} is not supported.`);
  const bin = lookPath('onDefineDomain', searchPath);
  if (!bin) return { error: 'Failed in finding onDefineDomain in $PATH', log: [], argv: [] };
  try {
    JSON.parse(vmiJson);
  } catch {
    return { error: 'Failed to unmarshal given VMI spec', log: [], argv: [] };
  }
  const argv = ['--vmi', vmiJson, '--domain', domainXml];
  const [command, ...args] = [...(options.inside ?? []), bin, ...argv];
  const run = spawnSync(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, PATH: searchPath },
    timeout: options.timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const log = logStderr(run.stderr ?? '');
  if (run.error) return { error: String(run.error), log, argv };
  if (run.status !== 0) return { error: `exit status ${run.status}`, log, argv };
  return { domain: run.stdout, log, argv };
}

function logStderr(stderr: string): string[] {
  const log: string[] = [];
  for (const line of stderr.split('\n').filter((l) => l !== '')) {
    if (Buffer.byteLength(line) > LOG_LINE_MAX) {
      log.push('failed to read hook logs: bufio.Scanner: token too long');
      break;
    }
    log.push(line);
  }
  return log;
}

function lookPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
