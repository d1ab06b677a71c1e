import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ERROR_CODES,
  readConfigSpace,
  PassthroughError,
  cliquesFromTopology,
  decodeP2PCapability,
  encodeP2PCapability,
  explainTransform,
  inspectDomain,
  lookupNvidiaDevice,
  removePassthrough,
  renderHostdev,
  transformDomain,
} from '../lib';
import { CASES_DIR, REPO } from './helpers/paths';

const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');

function errorOf(fn: () => unknown): PassthroughError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PassthroughError) return err;
    throw err;
  }
  throw new Error('expected a PassthroughError');
}

describe('renderHostdev', () => {
  // The NPU guide, step 2, between `cat > npu-device.xml << EOF` and `EOF`.
  const guide = [
    "<hostdev mode='subsystem' type='pci' managed='yes'>",
    '  <source>',
    "    <address domain='0x0000' bus='0x1b' slot='0x00' function='0x0'/>",
    '  </source>',
    '</hostdev>',
    '',
  ].join('\n');

  test.each(['0000:1b:00.0', '1b:00.0', '0000:1B:00.0'])('gives the guide snippet byte for byte for %s', (address) => {
    expect(renderHostdev({ address })).toBe(guide);
  });

  test('writes alias, rom and unmanaged in libvirt attribute form', () => {
    expect(renderHostdev({ address: '3b:00.1', alias: 'npu1', managed: false, rom: { bar: 'off' } })).toBe(
      [
        "<hostdev mode='subsystem' type='pci' managed='no'>",
        '  <source>',
        "    <address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>",
        '  </source>',
        "  <alias name='ua-npu1'/>",
        "  <rom bar='off'/>",
        '</hostdev>',
        '',
      ].join('\n'),
    );
  });

  test('refuses gpudirect: a clique cannot be attached with attach-device', () => {
    expect(errorOf(() => renderHostdev({ address: '3b:00.0', gpudirect: { clique: 0, architecture: 'volta' } })).code).toBe('PLAN_INVALID');
  });
});

describe('explainTransform', () => {
  test('reports each change with its line in the output', () => {
    const plan = {
      target: { libvirt: '11.3.0', qemu: '10.0.0' },
      hostdevs: [{ address: '1b:00.0' }, { address: '3b:00.0', alias: 'gpu0', device: '10de:2330', gpudirect: { clique: 3 } }],
    };
    const { xml, changes, warnings } = explainTransform(domain, plan);
    const lines = xml.split('\n');
    for (const c of changes.filter((c) => c.kind !== 'namespace-added')) {
      const text = lines[c.line! - 1];
      const expected = { 'hostdev-added': '<hostdev ', 'clique-added': '<qemu:device ', 'metadata-written': '<passthrough:gpudirect ' }[c.kind as string];
      expect(text).toContain(expected);
    }
    expect(changes.find((c) => c.kind === 'clique-added')).toMatchObject({ alias: 'ua-gpu0', clique: 3, capabilityOffset: '0xd4', architecture: 'hopper' });
    expect(warnings).toEqual([]);
  });

  test('warns when GPUDirect is planned without a target: no silent assumption about the stack', () => {
    const plan = { hostdevs: [{ address: '3b:00.0', device: '10de:2330', gpudirect: { clique: 3 } }] };
    expect(explainTransform(domain, plan).warnings).toEqual([
      expect.stringMatching(/^GPUDirect is planned without target.libvirt/),
      expect.stringMatching(/^Turing-or-later GPUs are planned for GPUDirect without target.qemu/),
    ]);
  });

  test('warns when the domain hides KVM from the guest', () => {
    const hidden = domain.replace('<apic/>', "<apic/>\n    <kvm>\n      <hidden state='on'/>\n    </kvm>");
    const { warnings } = explainTransform(hidden, { hostdevs: [{ address: '3b:00.0', gpudirect: { clique: 0, architecture: 'ampere' } }] });
    expect(warnings.join()).toMatch(/hides KVM/);
  });

  test('warns when the plan architecture disagrees with pci.ids', () => {
    const { warnings } = explainTransform(domain, { hostdevs: [{ address: '3b:00.0', device: '10de:2330', gpudirect: { clique: 0, architecture: 'ampere' } }] });
    expect(warnings.join()).toMatch(/hopper in pci.ids/);
  });
});

describe('inspectDomain', () => {
  test('reads back hostdevs, cliques and offsets written by the transform', () => {
    const plan = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', '4plus4-k80.plan.json'), 'utf8'));
    const info = inspectDomain(transformDomain(domain, plan));
    expect(info).toMatchObject({ machine: 'pc-q35-7.2', isQ35: true, arch: 'x86_64', name: 'vm-name', hidesKvm: false });
    expect(info.hostdevs).toHaveLength(8);
    expect(Object.entries(info.gpudirect).map(([a, g]) => [a, g.clique, g.capabilityOffset])).toEqual([
      ['ua-gpu0', 0, '0xc8'], ['ua-gpu1', 0, '0xc8'], ['ua-gpu2', 0, '0xc8'], ['ua-gpu3', 0, '0xc8'],
      ['ua-gpu4', 1, '0xc8'], ['ua-gpu5', 1, '0xc8'], ['ua-gpu6', 1, '0xc8'], ['ua-gpu7', 1, '0xc8'],
    ]);
  });

  test('reads the -set form of old stacks', () => {
    const info = inspectDomain(fs.readFileSync(path.join(CASES_DIR, 'h100-8x-libvirt-7.0', 'expected.xml'), 'utf8'));
    expect(info.gpudirect['ua-gpu7']).toMatchObject({ clique: 0, via: 'commandline', capabilityOffset: '0xd4' });
  });
});

describe('errors outside the case folders', () => {
  test.each([
    ['INPUT_INVALID', () => transformDomain(undefined as unknown as string, { hostdevs: [] })],
    ['XML_TOO_LARGE', () => transformDomain(domain, { hostdevs: [] }, { maxBytes: 100 })],
    ['PLAN_INVALID', () => transformDomain(domain, { hostdevs: [{ address: '1b:00.0', extra: 1 }] } as never)],
    ['PLAN_INVALID', () => transformDomain(domain, null as never)],
    ['XML_MALFORMED', () => transformDomain('<domain>\u0000</domain>', { hostdevs: [] })],
    ['TOPOLOGY_INVALID', () => cliquesFromTopology({ topo: 'GPU0 GPU1' })],
    ['REMOVE_NOT_FOUND', () => removePassthrough(domain, { aliases: ['gpu9'] })],
    ['CONFIG_SPACE_UNREADABLE', () => readConfigSpace('3b:00.0 3D controller: NVIDIA Corporation Device 1eb8\n\tCapabilities: <access denied>\n')],
  ])('%s', (code, fn) => {
    expect(errorOf(fn).code).toBe(code);
  });

  test('every error code is produced by some test case', () => {
    // Codes the table above produces; the rest come from the case folders.
    // apply*.test.ts (against real libvirt) and kubevirt.test.ts produce the integration codes.
    const produced = new Set(['INPUT_INVALID', 'XML_TOO_LARGE', 'TOPOLOGY_INVALID', 'LIBVIRT_REFUSED', 'LIBVIRT_DROPPED', 'HOSTDEV_MISSING', 'REMOVE_NOT_FOUND', 'CONFIG_SPACE_UNREADABLE']);
    for (const code of ['LIBVIRT_TIMEOUT', 'CONCURRENT_CHANGE', 'DOMAIN_MISMATCH', 'VM_LOCKED', 'TARGET_MISMATCH']) produced.add(code);
    for (const dir of fs.readdirSync(CASES_DIR)) {
      const file = path.join(CASES_DIR, dir, 'expected-error.json');
      if (fs.existsSync(file)) produced.add(JSON.parse(fs.readFileSync(file, 'utf8')).code);
    }
    expect(ERROR_CODES.filter((c) => !produced.has(c))).toEqual([]);
  });

  test('plan errors name the JSON path and what is wrong', () => {
    const err = errorOf(() => transformDomain(domain, { hostdevs: [{ address: '1b:00.0', gpudirect: { clique: '1' } }] } as never));
    expect(err.path).toBe('hostdevs[0].gpudirect.clique');
    expect(err.message).toMatch(/must be an integer/);
  });

  test('an unknown key is named', () => {
    const err = errorOf(() => transformDomain(domain, { hostdevs: [{ address: '1b:00.0', clique: 1 }] } as never));
    expect(err.message).toMatch(/unknown key "clique"/);
    expect(err.path).toBe('hostdevs[0]');
  });
});

test('a PassthroughError keeps its reason without the location the message ends with', () => {
  const err = new PassthroughError('XML_MALFORMED', 'the tag is never closed', { line: 3, column: 7 });
  expect(err.message).toBe('the tag is never closed (line 3, column 7)');
  expect(err.reason).toBe('the tag is never closed');
});

test('messages quote input printably: control characters of binary input never reach a terminal', () => {
  const binary = 'x\u0001\u001b[31m\u007f\u0085y'.repeat(3);
  const err = (() => {
    try {
      readConfigSpace(binary);
    } catch (e) {
      return e as Error;
    }
  })();
  expect(err?.message).toMatch(/x\ufffd\ufffd\[31m\ufffd\ufffdy/);
  expect(err?.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
});

describe('NVIDIA device table (generated from pci.ids)', () => {
  test.each([
    ['102d', 'kepler', 'K80'],
    ['15f8', 'pascal', 'P100'],
    ['1db4', 'volta', 'V100'],
    ['1eb8', 'turing', 'T4'],
    ['20b0', 'ampere', 'A100'],
    ['26b9', 'ada', 'L40S'],
    ['2330', 'hopper', 'H100'],
  ])('10de:%s is %s (%s)', (id, architecture, name) => {
    const known = lookupNvidiaDevice({ vendor: 0x10de, device: parseInt(id, 16) });
    expect(known).toMatchObject({ architecture, isGpu: true });
    expect(known!.name).toContain(name);
  });

  test('board functions that are not the GPU are marked', () => {
    expect(lookupNvidiaDevice({ vendor: 0x10de, device: 0x10f0 })).toMatchObject({ isGpu: false });
  });
});

describe('P2P capability bytes (the spec examples)', () => {
  test.each([
    [0, [0x09, 0x00, 0x08, 0x50, 0x32, 0x50, 0x00, 0x00]],
    [1, [0x09, 0x00, 0x08, 0x50, 0x32, 0x50, 0x08, 0x00]],
    [8, [0x09, 0x00, 0x08, 0x50, 0x32, 0x50, 0x40, 0x00]],
    [15, [0x09, 0x00, 0x08, 0x50, 0x32, 0x50, 0x78, 0x00]],
  ])('clique %i', (clique, bytes) => {
    const encoded = encodeP2PCapability(clique);
    expect([...encoded]).toEqual(bytes);
    const view = new DataView(encoded.buffer);
    expect(view.getUint32(0, true)).toBe(0x50080009);
    expect(view.getUint32(4, true)).toBe(0x5032 | ((clique << 3) << 16));
    expect(decodeP2PCapability(encoded)).toEqual({ ok: true, clique, version: 0, nextPointer: 0 });
  });

  test('refuses clique 16 and a wrong signature', () => {
    expect(errorOf(() => encodeP2PCapability(16)).code).toBe('INPUT_INVALID');
    expect(decodeP2PCapability([0x09, 0, 8, 0x50, 0x32, 0x51, 0, 0])).toMatchObject({ ok: false });
  });
});
