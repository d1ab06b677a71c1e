import { Command } from './command';

// The command table: names, summaries and options only. Each command's help and body live in its own module,
// loaded when that command runs (the CLI sits on VM start paths; see docs/performance.md).
/* eslint-disable @typescript-eslint/no-require-imports */
const transform = () => require('./transform-command') as typeof import('./transform-command');
const apply = () => require('./apply-command') as typeof import('./apply-command');
const unapply = () => require('./unapply-command') as typeof import('./unapply-command');
const hostdev = () => require('./hostdev-command') as typeof import('./hostdev-command');
const remove = () => require('./remove-command') as typeof import('./remove-command');
const gpudirectHelp = () => require('./gpudirect-help') as typeof import('./gpudirect-help');
const gpudirect = () => require('./gpudirect-commands') as typeof import('./gpudirect-commands');
const host = () => require('./host-commands') as typeof import('./host-commands');
const inspect = () => require('./inspect-command') as typeof import('./inspect-command');
const ncclTopo = () => require('./nccl-topo-command') as typeof import('./nccl-topo-command');
const guestTree = () => (require('../layout/guest-tree') as typeof import('../layout/guest-tree')).guestTreeFromDomain;
/* eslint-enable @typescript-eslint/no-require-imports */

export const COMMANDS: Record<string, Command> = {
  transform: {
    summary: 'add the planned host devices (and GPUDirect cliques) to a domain XML',
    get help() {
      return transform().TRANSFORM_HELP;
    },
    options: {
      plan: { type: 'string' }, explain: { type: 'boolean' }, 'in-place': { type: 'boolean' }, 'no-backup': { type: 'boolean' },
      'max-bytes': { type: 'string' },
      libvirt: { type: 'string' }, qemu: { type: 'string' }, 'no-detect': { type: 'boolean' },
    },
    run: (args, io) => transform().runTransform(args, io),
  },
  apply: {
    summary: "transform libvirt domains' persistent definitions in place: dumpxml, transform, define, check",
    get help() {
      return apply().APPLY_HELP;
    },
    options: {
      plan: { type: 'string' }, connect: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' },
      timeout: { type: 'string' }, 'trust-plan-target': { type: 'boolean' },
    },
    run: ({ values, positionals }, io) => apply().runApply(values, positionals, io),
  },
  unapply: {
    summary: 'take back what apply added, through libvirt, with the same checks (and the root ports libvirt added)',
    get help() {
      return unapply().UNAPPLY_HELP;
    },
    options: {
      plan: { type: 'string' }, connect: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' },
      timeout: { type: 'string' },
    },
    run: ({ values, positionals }, io) => unapply().runUnapply(values, positionals, io),
  },
  hostdev: {
    summary: "print the <hostdev> snippet for 'virsh attach-device DOMAIN FILE --config'",
    get help() {
      return hostdev().HOSTDEV_HELP;
    },
    options: { alias: { type: 'string' }, unmanaged: { type: 'boolean' }, 'rom-bar': { type: 'string' } },
    run: (args, io) => hostdev().runHostdev(args, io),
  },
  remove: {
    summary: 'remove pass-through devices and their GPUDirect settings from a domain XML',
    get help() {
      return remove().REMOVE_HELP;
    },
    options: {
      plan: { type: 'string' }, address: { type: 'string', multiple: true }, alias: { type: 'string', multiple: true },
      'in-place': { type: 'boolean' }, 'no-backup': { type: 'boolean' }, 'max-bytes': { type: 'string' },
    },
    run: (args, io) => remove().runRemove(args, io),
  },
  predict: {
    summary: 'predict where QEMU will put the GPUDirect capability for a physical GPU',
    get help() {
      return gpudirectHelp().PREDICT_HELP;
    },
    options: { config: { type: 'string' }, qemu: { type: 'string' }, 'no-detect': { type: 'boolean' }, architecture: { type: 'string' }, address: { type: 'string' }, json: { type: 'boolean' } },
    run: ({ values, positionals }, io) => gpudirect().runPredict(values, positionals, io),
  },
  'verify-guest': {
    summary: 'inside the guest: check that each GPU carries the planned GPUDirect clique',
    get help() {
      return gpudirectHelp().VERIFY_GUEST_HELP;
    },
    options: {
      domain: { type: 'string' }, expect: { type: 'string' }, lspci: { type: 'string' }, json: { type: 'boolean' },
      sysfs: { type: 'string' }, host: { type: 'string' }, cpu: { type: 'string' },
    },
    run: ({ values, positionals }, io) => gpudirect().runVerifyGuest(values, positionals, io, (xml) => guestTree()(xml)),
  },
  host: {
    summary: 'check the host against the NPU guide, plan GPUs with cliques from the topology, capture a snapshot',
    get help() {
      return host().HOST_HELP;
    },
    options: {
      devices: { type: 'string' }, sysfs: { type: 'string' }, json: { type: 'boolean' }, gpus: { type: 'string' },
      npus: { type: 'string' }, policy: { type: 'string' }, topo: { type: 'string' }, 'bus-ids': { type: 'string' },
      qemu: { type: 'string' }, 'no-detect': { type: 'boolean' }, nics: { type: 'string' }, layout: { type: 'string' },
    },
    run: ({ values, positionals }, io) => host().runHost(values, positionals, io),
  },
  'nccl-topo': {
    summary: "print the guest's NCCL topology file (NCCL_TOPO_FILE) for a domain transformed with a layout",
    get help() {
      return ncclTopo().NCCL_TOPO_HELP;
    },
    options: { cpu: { type: 'string' } },
    run: ({ values, positionals }, io) => ncclTopo().runNcclTopo(values, positionals, io, (xml) => guestTree()(xml)),
  },
  inspect: {
    summary: 'show machine type, PCI host devices and GPUDirect cliques of a domain',
    get help() {
      return inspect().INSPECT_HELP;
    },
    options: { json: { type: 'boolean' }, 'max-bytes': { type: 'string' } },
    run: (args, io) => inspect().runInspect(args, io),
  },
};
