import { pciAddressKey } from '../pci/address';

/**
 * What a transform adds inside what the user wrote, recorded in the metadata's `added` list (beside `created`,
 * the structure it created or opened), so that removal takes back exactly that: `hostdev:3b:00.0` (a new
 * `<hostdev>`), `alias:ua-x` (an `<alias>` written into the user's hostdev), `clique:ua-x` (the clique property
 * or `-set` pair), `pcihole64` and `fw_cfg` (the MMIO window's `<pcihole64>` and OVMF's `-fw_cfg` pair).
 * A record without the list (the first releases wrote none) is undone as those releases did (lib/remove/legacy.ts).
 */
export const added = {
  // As the plan writes it, domain 0 left out: `hostdev:3b:00.0`.
  hostdev: (addressKey: string) => `hostdev:${addressKey.startsWith('0000:') ? addressKey.slice(5) : addressKey}`,
  alias: (alias: string) => `alias:${alias}`,
  clique: (alias: string) => `clique:${alias}`,
  pcihole64: 'pcihole64',
  fwCfg: 'fw_cfg',
};

/** The record's `added` list read back, by kind. */
export interface AddedList {
  hostdevs: Set<string>;
  aliases: Set<string>;
  cliques: Set<string>;
  pcihole64: boolean;
  fwCfg: boolean;
}

export function readAdded(tokens: string[]): AddedList {
  const list: AddedList = { hostdevs: new Set(), aliases: new Set(), cliques: new Set(), pcihole64: false, fwCfg: false };
  for (const token of tokens) {
    const colon = token.indexOf(':');
    const [kind, arg] = colon < 0 ? [token, ''] : [token.slice(0, colon), token.slice(colon + 1)];
    if (kind === 'hostdev') list.hostdevs.add(pciAddressKey(arg) ?? arg);
    else if (kind === 'alias') list.aliases.add(arg);
    else if (kind === 'clique') list.cliques.add(arg);
    else if (token === added.pcihole64) list.pcihole64 = true;
    else if (token === added.fwCfg) list.fwCfg = true;
  }
  return list;
}
