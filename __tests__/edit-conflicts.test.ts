import { PassthroughError, transformDomain } from '../lib';
import type { Plan } from '../lib';

// Issue 15: HOSTDEV_CONFLICT / OVERRIDE_CONFLICT quoted values read from the domain in full, so a huge alias,
// tag name (up to 50,000 bytes), ROM file or clique put megabytes into one error line. Each is clipped now.
const HUGE = 'x'.repeat(1_000_000);
const LONG_NAME = 'x'.repeat(49_000); // names stop at libxml2's 50,000 bytes (XML_TOO_LARGE)
const domainWith = (devices: string, tail = '') =>
  `<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  <name>d</name>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n  <devices>\n${devices}\n  </devices>\n${tail}</domain>\n`;
const hostdev = (inner: string) =>
  `    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n        <address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>\n      </source>\n${inner}\n    </hostdev>`;
const gpu: Plan = { hostdevs: [{ address: '3b:00.0', alias: 'gpu0', gpudirect: { clique: 0, architecture: 'ampere' } }] };
const npu: Plan = { hostdevs: [{ address: '3b:00.0', alias: 'npu0' }] };

test.each<[string, string, Plan, string]>([
  ['an existing alias', domainWith(hostdev(`      <alias name='ua-${HUGE}'/>`)), npu, 'HOSTDEV_CONFLICT'],
  ['a libvirt-assigned alias', domainWith(hostdev(`      <alias name='${HUGE}'/>`)), gpu, 'HOSTDEV_CONFLICT'],
  ['the tag name of the device owning the alias', domainWith(`    <${LONG_NAME}><alias name='ua-npu0'/></${LONG_NAME}>`), { hostdevs: [{ address: '5e:00.0', alias: 'npu0' }] }, 'HOSTDEV_CONFLICT'],
  ['a ROM file', domainWith(hostdev(`      <rom file='/${HUGE}'/>`)), { hostdevs: [{ address: '3b:00.0', rom: { file: '/a.rom' } }] }, 'HOSTDEV_CONFLICT'],
  ['a ROM bar', domainWith(hostdev(`      <rom bar='${HUGE}'/>`)), { hostdevs: [{ address: '3b:00.0', rom: { bar: 'off' } }] }, 'HOSTDEV_CONFLICT'],
  [
    'an existing clique value',
    domainWith(hostdev("      <alias name='ua-gpu0'/>"), `  <qemu:override>\n    <qemu:device alias='ua-gpu0'>\n      <qemu:frontend>\n        <qemu:property name='x-nv-gpudirect-clique' type='unsigned' value='${HUGE}'/>\n      </qemu:frontend>\n    </qemu:device>\n  </qemu:override>\n`),
    gpu,
    'OVERRIDE_CONFLICT',
  ],
])('%s of up to a million characters is clipped in the message', (_name, xml, plan, code) => {
  let caught: unknown;
  try {
    transformDomain(xml, plan);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PassthroughError);
  expect((caught as PassthroughError).code).toBe(code);
  expect((caught as PassthroughError).message.length).toBeLessThan(600);
  expect((caught as PassthroughError).message).toContain('xxxxxxxx…');
});
