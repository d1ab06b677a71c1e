import { parseArgs } from 'node:util';
import { excerpt, isPassthroughError } from '../errors';
import { onDefineDomain } from './hook';

export interface HookIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const USAGE = `Usage: onDefineDomain --vmi VMI_JSON --domain DOMAIN_XML
       onDefineDomain --help

KubeVirt's sidecar-shim runs this for the onDefineDomain hook (every hook version, v1alpha1 to v1alpha3,
passes the same two arguments). Prints the domain XML with the GPUDirect clique of each GPU the VMI's
libvirt-passthrough.io/gpudirect annotation names, and nothing else; diagnostics go to standard error.
Exit 0 done (the domain unchanged without the annotation), 1 refused (the VM must not start), 2 usage.

  libvirt-passthrough.io/gpudirect: '{"gpus": {"gpu1": 0, "gpu2": 0}, "architecture": "hopper"}'

gpus: VMI GPU name (spec.domain.devices.gpus or hostDevices) -> clique 0-15, or
{"clique": N, "architecture": "...", "offset": "0xc8"}; target: {"libvirt": "...", "qemu": "..."} of the
virt-launcher image. See docs/integrations.md.
`;

/** The whole hook as a function of its arguments; returns the exit status. */
export function runOnDefineDomain(argv: string[], io: HookIo): number {
  let vmi: string | undefined;
  let domain: string | undefined;
  let help: boolean | undefined;
  try {
    const options = { vmi: { type: 'string' }, domain: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
    ({ vmi, domain, help } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values);
  } catch (err) {
    io.stderr(`onDefineDomain: ${excerpt((err as Error).message, 200)}\n\n${USAGE}`);
    return 2;
  }
  if (help) {
    io.stdout(USAGE);
    return 0;
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
    io.stderr(isPassthroughError(err) ? `onDefineDomain: ${err.code}: ${err.message}\n` : `onDefineDomain: internal error: ${excerpt(String((err as Error).message), 300)}\n`);
    return 1;
  }
}
