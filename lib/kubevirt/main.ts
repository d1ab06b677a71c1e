import { parseArgs } from 'node:util';
import { isPassthroughError } from '../errors';
import { onDefineDomain } from './hook';

export interface HookIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = `Usage: onDefineDomain --vmi VMI_JSON --domain DOMAIN_XML

KubeVirt's sidecar-shim runs this for the onDefineDomain hook (every hook version, v1alpha1 to v1alpha3,
passes the same two arguments). Prints the domain XML with the GPUDirect clique of each GPU the VMI's
libvirt-passthrough.io/gpudirect annotation names, and nothing else; diagnostics go to standard error.
Exit 0 done (the domain unchanged without the annotation), 1 refused (the VM must not start), 2 usage.
`;

/** The whole hook as a function of its arguments; returns the exit status. */
export function runOnDefineDomain(argv: string[], io: HookIo): number {
  let vmi: string | undefined;
  let domain: string | undefined;
  try {
    ({ vmi, domain } = parseArgs({ args: argv, options: { vmi: { type: 'string' }, domain: { type: 'string' } }, strict: true, allowPositionals: false }).values);
  } catch (err) {
    io.stderr(`onDefineDomain: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (vmi === undefined || domain === undefined) {
    io.stderr(`onDefineDomain: needs --vmi and --domain\n\n${USAGE}`);
    return 2;
  }
  try {
    const result = onDefineDomain(vmi, domain);
    for (const w of result.warnings) io.stderr(`onDefineDomain: warning: ${w}\n`);
    io.stdout(result.xml);
    return 0;
  } catch (err) {
    // Any failure refuses the domain: virt-launcher then does not start the VM without its cliques.
    io.stderr(isPassthroughError(err) ? `onDefineDomain: ${err.code}: ${err.message}\n` : `onDefineDomain: internal error: ${(err as Error).message}\n`);
    return 1;
  }
}
