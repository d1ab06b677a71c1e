import { Lines, XmlStyle, attributes } from './style';

export const CLIQUE_PROPERTY = 'x-nv-gpudirect-clique';

export interface CliqueAssignment {
  alias: string;
  clique: number;
}

/** `<qemu:property>` that sets the clique: libvirt adds it to the device's JSON `-device`. */
export function cliquePropertyLine(prefix: string, clique: number, style: XmlStyle): string {
  return `<${prefix}:property${attributes([['name', CLIQUE_PROPERTY], ['type', 'unsigned'], ['value', clique]], style.quote)}/>`;
}

export function frontendLines(prefix: string, clique: number, style: XmlStyle): Lines {
  return [
    [0, `<${prefix}:frontend>`],
    [1, cliquePropertyLine(prefix, clique, style)],
    [0, `</${prefix}:frontend>`],
  ];
}

/** One `<qemu:device>` per GPU; never an empty one (that crashed libvirtd 8.4, libvirt issue 321). */
export function overrideDeviceLines(prefix: string, gpu: CliqueAssignment, style: XmlStyle): Lines {
  return [
    [0, `<${prefix}:device${attributes([['alias', gpu.alias]], style.quote)}>`],
    ...frontendLines(prefix, gpu.clique, style).map(([d, t]): [number, string] => [d + 1, t]),
    [0, `</${prefix}:device>`],
  ];
}

export function wrap(open: string, close: string, inner: Lines): Lines {
  return [[0, open], ...inner.map(([d, t]): [number, string] => [d + 1, t]), [0, close]];
}

/** For stacks where libvirt still gives QEMU key=value `-device` options (libvirt before 8.1). */
export function setArgLines(prefix: string, gpu: CliqueAssignment, style: XmlStyle): Lines {
  return [
    [0, `<${prefix}:arg${attributes([['value', '-set']], style.quote)}/>`],
    [0, `<${prefix}:arg${attributes([['value', setArgValue(gpu)]], style.quote)}/>`],
  ];
}

export function setArgValue(gpu: CliqueAssignment): string {
  return `device.${gpu.alias}.${CLIQUE_PROPERTY}=${gpu.clique}`;
}
