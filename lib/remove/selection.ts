import { DomainFacts } from '../domain/facts';
import { PassthroughError, excerpt } from '../errors';
import { userAlias } from '../plan/normalize';
import { PlanAddress } from '../plan/types';
import { readPlanAddress, validatePlan } from '../plan/validate';
import { formatPciAddress } from '../pci/address';
import { closest } from '../suggest';
import { readLayoutRecord } from '../edit/layout-record';

/** Which pass-through configuration to remove: host addresses and/or aliases, or a whole plan. */
export interface RemoveSelection {
  addresses?: PlanAddress[];
  aliases?: string[];
}

/** One thing the caller asked to remove (an address, an alias, or a plan entry's address and alias): it must be found. */
export interface Wanted {
  label: string;
  addresses: string[];
  aliases: string[];
}

/** What the selection names, each item of which must be found; no selection: every GPU (and laid-out device) the metadata records. */
export function resolveSelection(facts: DomainFacts, selection: RemoveSelection | { hostdevs: unknown[] } | undefined): Wanted[] {
  if (selection === undefined) {
    const aliases = [...new Set([...facts.metadataGpus.map((g) => g.alias), ...(readLayoutRecord(facts)?.devices.map((d) => d.alias).filter((a) => facts.aliases.has(a)) ?? [])])];
    return aliases.map((alias) => ({ label: `alias ${alias}`, addresses: [], aliases: [alias] }));
  }
  if (selection === null || typeof selection !== 'object' || Array.isArray(selection)) {
    throw new PassthroughError('INPUT_INVALID', 'The selection must be a plan ({ hostdevs: [...] }) or { addresses: [...], aliases: [...] }.');
  }
  if ('hostdevs' in selection) {
    validatePlan(selection);
    return selection.hostdevs.map((h, i) => {
      const address = formatPciAddress(readPlanAddress(h.address, `hostdevs[${i}].address`));
      const alias = h.alias === undefined ? [] : [userAlias(h.alias)];
      return { label: `hostdevs[${i}] (${[address, ...alias].join(', ')})`, addresses: [address], aliases: alias };
    });
  }
  checkSelectionKeys(selection);
  const addresses = (selection.addresses ?? []).map((a, i) => formatPciAddress(readPlanAddress(a, `addresses[${i}]`)));
  const aliases = (selection.aliases ?? []).map((a) => userAlias(a));
  return [
    ...addresses.map((a) => ({ label: `address ${a}`, addresses: [a], aliases: [] })),
    ...aliases.map((a) => ({ label: `alias ${excerpt(a, 80)}`, addresses: [], aliases: [a] })),
  ];
}

const SELECTION_KEYS = ['addresses', 'aliases'];

function checkSelectionKeys(selection: object): asserts selection is RemoveSelection {
  for (const key of Object.keys(selection)) {
    if (SELECTION_KEYS.includes(key)) continue;
    const near = closest(key, SELECTION_KEYS);
    throw new PassthroughError(
      'INPUT_INVALID',
      `The selection has an unknown key "${excerpt(key, 40)}"${near ? ` (did you mean "${near}"?)` : ''}; it takes addresses and aliases, or is a plan.`,
    );
  }
  const { addresses, aliases } = selection as Record<string, unknown>;
  const isAddress = (a: unknown) => typeof a === 'string' || (typeof a === 'object' && a !== null && !Array.isArray(a));
  if (addresses !== undefined && !(Array.isArray(addresses) && addresses.every(isAddress))) {
    throw new PassthroughError('INPUT_INVALID', 'The selection\'s addresses must be an array of PCI addresses (`3b:00.0` or { bus, slot, function }).');
  }
  if (aliases !== undefined && !(Array.isArray(aliases) && aliases.every((a) => typeof a === 'string'))) {
    throw new PassthroughError('INPUT_INVALID', 'The selection\'s aliases must be an array of strings.');
  }
}

/** Everything asked for must be in the domain (as a hostdev, a clique setting or a metadata entry): a typo must not pass as done. */
export function requireFound(facts: DomainFacts, wanted: Wanted[], removedSources: string[], nothingRecorded: boolean): void {
  if (wanted.length === 0 && nothingRecorded) {
    throw new PassthroughError(
      'REMOVE_NOT_FOUND',
      'Nothing to remove: without a selection only what the library recorded in the domain\'s metadata is removed (GPUs, the MMIO window), and it records none. Name the devices (--address, --alias, or --plan).',
    );
  }
  const sources = new Set(removedSources);
  const knownAliases = new Set([
    ...facts.hostdevs.flatMap((h) => (h.kind === 'hostdev' && h.alias ? [h.alias] : [])),
    ...facts.cliques.keys(),
    ...facts.metadataGpus.map((g) => g.alias),
  ]);
  const missing = wanted.filter((w) => !w.addresses.some((a) => sources.has(a)) && !w.aliases.some((a) => knownAliases.has(a)));
  if (missing.length === 0) return;
  const shown = missing.slice(0, 5).map((w) => w.label).join('; ') + (missing.length > 5 ? `; and ${missing.length - 5} more` : '');
  throw new PassthroughError(
    'REMOVE_NOT_FOUND',
    `Not in the domain, so nothing was removed: ${shown}. Check the addresses and aliases with \`libvirt-passthrough inspect\` (aliases are compared with their ua- prefix).`,
  );
}
