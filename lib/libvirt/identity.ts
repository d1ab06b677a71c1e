import { child } from '../domain/xml';
import { PassthroughError, excerpt } from '../errors';
import { textContent } from '../load/element';
import { loadDomainXml } from '../load/load';

/** The `<name>` and `<uuid>` of a domain definition. */
export function domainIdentity(xml: string): { name?: string; uuid?: string } {
  const doc = loadDomainXml(xml);
  const text = (name: string) => {
    const el = child(doc.root, name);
    return el ? textContent(doc.body, el).trim() : undefined;
  };
  return { name: text('name'), uuid: text('uuid') };
}

/**
 * Refuses (DOMAIN_MISMATCH) a dump that is not the domain asked for: its UUID must be the one the lock
 * was taken for, and its name the requested name (unless the domain was named by UUID or numeric ID).
 */
export function requireRequestedDomain(xml: string, vm: string, uuid: string): void {
  const found = domainIdentity(xml);
  const byUuid = sameUuid(vm, uuid);
  const byId = /^\d+$/.test(vm);
  const nameOk = byUuid || byId || found.name === vm;
  if (found.uuid !== undefined && sameUuid(found.uuid, uuid) && nameOk) return;
  throw new PassthroughError(
    'DOMAIN_MISMATCH',
    `virsh dumpxml for "${excerpt(vm, 60)}" returned the definition of "${excerpt(found.name ?? '?', 60)}" (UUID ${excerpt(found.uuid ?? 'none', 40)}), not of the domain with UUID ${excerpt(uuid, 40)}; nothing was defined. The domain may have been renamed or replaced meanwhile: run again.`,
  );
}

function sameUuid(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/-/g, '').toLowerCase();
  return /^[0-9a-f]{32}$/.test(norm(a)) && norm(a) === norm(b);
}
