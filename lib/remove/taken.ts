import type { XmlElement } from '../load/element';
import { DomainFacts, ExistingHostdev } from '../domain/facts';
import { child } from '../domain/xml';
import { AddedList, added, readAdded } from '../edit/added';
import { pciAddressKey } from '../pci/address';
import { Wanted } from './selection';

/** What removal takes out for a selection: hostdevs, aliases written into the user's hostdevs, clique settings, the window. */
export interface Taken {
  hostdevs: ExistingHostdev[];
  /** `<alias>` elements the library wrote into hostdevs that stay. */
  aliasElements: XmlElement[];
  /** Aliases whose clique setting goes. */
  cliques: Set<string>;
  /** Aliases whose metadata entry goes. */
  metadataAliases: Set<string>;
  pcihole64: boolean;
  fwCfg: boolean;
  /** The record's `added` list after removal; undefined for a record without one. */
  remainingAdded?: string[];
}

/**
 * With the record's `added` list: only what it lists, narrowed to the selection (a hostdev at a selected address
 * or alias; an alias, clique setting or metadata entry of a selected alias or of the hostdev at a selected address).
 * Without it (a record of the first releases, or none): as those releases removed — every PCI hostdev at a selected
 * address or alias, and the clique settings of the selected aliases.
 */
export function takenFor(facts: DomainFacts, wanted: Wanted[], removeMmio: boolean): Taken {
  const addresses = new Set(wanted.flatMap((w) => w.addresses));
  const aliases = new Set(wanted.flatMap((w) => w.aliases));
  const selected = (h: ExistingHostdev) => h.kind === 'hostdev' && (addresses.has(h.sourceKey) || (h.alias !== undefined && aliases.has(h.alias)));
  if (facts.metadataAdded === undefined) {
    const hostdevs = facts.hostdevs.filter(selected);
    const all = new Set([...aliases, ...hostdevs.flatMap((h) => (h.alias ? [h.alias] : []))]);
    return { hostdevs, aliasElements: [], cliques: all, metadataAliases: all, pcihole64: removeMmio, fwCfg: removeMmio };
  }
  const list = readAdded(facts.metadataAdded);
  const hostdevs = facts.hostdevs.filter((h) => selected(h) && list.hostdevs.has(h.sourceKey));
  const selectedAliases = new Set([...aliases, ...facts.hostdevs.flatMap((h) => (h.alias && addresses.has(h.sourceKey) ? [h.alias] : []))]);
  const gone = new Set(hostdevs.map((h) => h.element));
  const aliasElements = facts.hostdevs.flatMap((h) => {
    const element = child(h.element, 'alias');
    return h.alias && list.aliases.has(h.alias) && selectedAliases.has(h.alias) && !gone.has(h.element) && element ? [element] : [];
  });
  const cliques = new Set([...list.cliques].filter((a) => selectedAliases.has(a)));
  const taken = { hostdevs, aliasElements, cliques, metadataAliases: selectedAliases, pcihole64: removeMmio && list.pcihole64, fwCfg: removeMmio && list.fwCfg };
  return { ...taken, remainingAdded: remaining(facts.metadataAdded, list, taken, selectedAliases) };
}

function remaining(tokens: string[], list: AddedList, taken: Omit<Taken, 'remainingAdded'>, selectedAliases: Set<string>): string[] {
  const goneHostdevs = new Set(taken.hostdevs.map((h) => h.sourceKey));
  return tokens.filter((token) => {
    if (token.startsWith('hostdev:') && goneHostdevs.has(pciAddressKey(token.slice(8)) ?? '')) return false;
    if (token.startsWith('alias:') && selectedAliases.has(token.slice(6)) && list.aliases.has(token.slice(6))) return false;
    if (token.startsWith('clique:') && taken.cliques.has(token.slice(7))) return false;
    if (token === added.pcihole64 && taken.pcihole64) return false;
    if (token === added.fwCfg && taken.fwCfg) return false;
    return true;
  });
}

/** Everything the record lists, as a selection (removal without one). */
export function everythingRecorded(facts: DomainFacts): Wanted[] {
  const list = readAdded(facts.metadataAdded ?? []);
  const aliases = [...new Set([...list.aliases, ...list.cliques, ...facts.metadataGpus.map((g) => g.alias)])];
  return [{ label: 'everything the metadata records', addresses: [...list.hostdevs], aliases }];
}
