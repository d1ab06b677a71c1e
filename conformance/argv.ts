/** Splits libvirt's shell-quoted command line (`domxml-to-native qemu-argv`) into words. */
export function argvWords(commandLine: string): string[] {
  const words: string[] = [];
  const word = /(?:[^\s'\\]+|'[^']*'|\\.)+/gs;
  // A backslash-newline is a shell line continuation, not part of a word.
  for (const m of commandLine.replace(/\\\n/g, ' ').matchAll(word)) {
    words.push(m[0].replace(/'([^']*)'|\\(.)/gs, (_w, quoted: string | undefined, escaped: string | undefined) => quoted ?? escaped ?? ''));
  }
  return words;
}

export interface VfioDevice {
  id: string;
  json: string;
  /** The raw JSON value of x-nv-gpudirect-clique, if set (a string property shows quoted). */
  clique?: string;
}

/** Each `-device {"driver":"vfio-pci",…}` of the command line. */
export function vfioDevices(words: string[]): VfioDevice[] {
  const devices: VfioDevice[] = [];
  words.forEach((w, i) => {
    if (words[i - 1] !== '-device' || !w.startsWith('{') || !w.includes('"driver":"vfio-pci"')) return;
    const id = /"id":"([^"]*)"/.exec(w)?.[1] ?? '';
    const clique = /"x-nv-gpudirect-clique":("[^"]*"|[^,}]+)/.exec(w)?.[1];
    devices.push({ id, json: w, clique });
  });
  return devices;
}

/** Every `-device` given as JSON (libvirt 8.2+ with QEMU 6.2+; both stacks here). */
export function jsonDevices(words: string[]): string[] {
  return words.filter((w, i) => words[i - 1] === '-device' && w.startsWith('{'));
}

/** `-set` and `-global` options, which apply to devices and so belong in the QEMU check. */
export function deviceOptions(words: string[]): string[] {
  const options: string[] = [];
  words.forEach((w, i) => {
    if ((w === '-set' || w === '-global') && i + 1 < words.length) options.push(w, words[i + 1]);
  });
  return options;
}
