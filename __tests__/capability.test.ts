import fc from 'fast-check';
import {
  decodeP2PCapability,
  encodeP2PCapability,
  expectationFromDomain,
  explainPlanFromHost,
  findP2PCapability,
  parseLspciDump,
  parseQemuVersion,
  predictP2PPlacement,
  readConfigSpace,
  readConfigSpaces,
  readHostSnapshot,
  transformDomain,
  verifyGuest,
  walkCapabilities,
} from '../lib';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './helpers/paths';
import { runCli } from '../lib/cli/main';
import { GPU, makeSysfs } from './helpers/sysfs';
import { TURING_CAPS, VOLTA_CAPS, gpuConfig, lspciText, p2pCap } from './helpers/config-space';

describe('walking the capability list', () => {
  test('a Volta-like list ends before C8h', () => {
    const walk = walkCapabilities(gpuConfig(VOLTA_CAPS));
    expect(walk.capabilities).toEqual([{ offset: 0x60, id: 0x01 }, { offset: 0x68, id: 0x05 }, { offset: 0x78, id: 0x10 }]);
    expect(walk.problems).toEqual([]);
  });

  test.each([
    ['a loop', gpuConfig([{ offset: 0x60, id: 1 }, { offset: 0x68, id: 5 }]).map((b, i) => (i === 0x69 ? 0x60 : b)), /loops back to 0x60/],
    ['a pointer below 40h', gpuConfig([], { firstPointer: 0x20 }), /outside 40h-FCh/],
    ['no capability list bit', gpuConfig(VOLTA_CAPS).map((b, i) => (i === 0x06 ? 0 : b)), /bit 4 is clear/],
    ['a truncated dump', gpuConfig(VOLTA_CAPS).subarray(0, 0x40), /ends at 0x40/],
    ['a header-only dump', gpuConfig(VOLTA_CAPS).subarray(0, 0x20), /less than the 64-byte header/],
  ])('%s is reported, not followed', (_name, config, problem) => {
    const walk = walkCapabilities(config as Uint8Array);
    expect(walk.problems.join()).toMatch(problem);
    expect(findP2PCapability(config as Uint8Array).found).toBeNull();
  });
});

describe('predicting where QEMU puts the capability', () => {
  test.each([
    ['Volta, QEMU 7.2', VOLTA_CAPS, '7.2.0', 'volta', 0xc8, true],
    ['Volta, QEMU 8.2', VOLTA_CAPS, '8.2.0', 'volta', 0xc8, true],
    ['Turing, QEMU 8.2: MSI-X at C8h, so D4h', TURING_CAPS, '8.2.0', 'turing', 0xd4, true],
    ['Turing, QEMU 7.2: C8h clashes with MSI-X', TURING_CAPS, '7.2.0', 'turing', null, undefined],
    ['C8h and D4h both taken', [...TURING_CAPS.slice(0, 3), { offset: 0xc8, id: 0x11 }, { offset: 0xd4, id: 0x09, body: [0x08] }], '8.2.0', 'hopper', null, undefined],
  ] as const)('%s', (_name, caps, qemu, arch, offset, agrees) => {
    const p = predictP2PPlacement(gpuConfig([...caps]), qemu, arch);
    expect(p.offset).toBe(offset);
    expect(p.agrees).toBe(agrees);
    if (offset === null) expect(p.error).toMatch(/invalid config space|overlaps/);
  });

  test('QEMU 8.1 choosing C8h on a GPU the spec says wants D4h is reported as disagreement', () => {
    expect(predictP2PPlacement(gpuConfig(VOLTA_CAPS), '8.1.0', 'ampere')).toMatchObject({ offset: 0xc8, recommended: 0xd4, agrees: false });
  });
});

describe('lspci -xxx dumps', () => {
  test('several functions with their headers; a short dump stays short', () => {
    const text =
      lspciText('3b:00.0', '3D controller: NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB] (rev a1)', gpuConfig(VOLTA_CAPS)) +
      '\n' +
      lspciText('0000:5e:00.0', '3D controller: NVIDIA Corporation Device 2330', gpuConfig(TURING_CAPS, { device: 0x2330 }).subarray(0, 64));
    const [a, b] = parseLspciDump(text);
    expect(a).toMatchObject({ address: '3b:00.0', vendor: 0x10de, device: 0x1db4, classCode: 0x0302 });
    expect(a.config).toHaveLength(256);
    expect(b).toMatchObject({ address: '0000:5e:00.0', device: 0x2330 });
    expect(b.config).toHaveLength(64);
  });
});

describe('verifying the guest', () => {
  const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
  const plan = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', '4plus4-k80.plan.json'), 'utf8'));
  const expected = expectationFromDomain(transformDomain(domain, plan));
  const guestGpu = (i: number, clique: number | null, offset = 0xc8) =>
    parseLspciDump(
      lspciText(`0${i + 1}:00.0`, '3D controller: NVIDIA Corporation GK210GL [Tesla K80]', gpuConfig(clique === null ? VOLTA_CAPS : [...VOLTA_CAPS, p2pCap(offset, clique)], { device: 0x102d })),
    )[0];

  test('the spec’s 4+4 example reaches the guest: four GPUs in clique 0, four in clique 1, at C8h', () => {
    const guest = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => guestGpu(i, i < 4 ? 0 : 1));
    const report = verifyGuest(expected, guest);
    expect(report).toMatchObject({ ok: true, problems: [], warnings: [] });
    expect(report.gpus.map((g) => g.clique)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  test.each([
    ['a GPU without the capability', (i: number) => guestGpu(i, i === 3 ? null : i < 4 ? 0 : 1), /did not reach the guest/],
    ['cliques swapped across sockets', (i: number) => guestGpu(i, i % 2), /clique 0: expected 4 GPUs, found 4|clique/],
    ['a GPU in the wrong clique', (i: number) => guestGpu(i, i === 7 ? 0 : i < 4 ? 0 : 1), /clique 0: expected 4 GPUs, found 5/],
    ['the capability at D4h where C8h was expected', (i: number) => guestGpu(i, i < 4 ? 0 : 1, i === 0 ? 0xd4 : 0xc8), /expected 0xc8/],
  ])('%s is reported', (_name, make, problem) => {
    const report = verifyGuest(expected, [0, 1, 2, 3, 4, 5, 6, 7].map(make));
    if (_name === 'cliques swapped across sockets') {
      // 4 GPUs in each clique either way: the guest cannot tell which physical GPU is which, so this passes.
      expect(report.ok).toBe(true);
      return;
    }
    expect(report.ok).toBe(false);
    expect([...report.problems, ...report.gpus.flatMap((g) => g.problems)].join(' | ')).toMatch(problem);
  });

  test('a domain that hides KVM gets a warning', () => {
    const hidden = domain.replace('<apic/>', "<apic/>\n    <kvm><hidden state='on'/></kvm>");
    expect(verifyGuest(expectationFromDomain(transformDomain(hidden, plan)), []).warnings.join()).toMatch(/hides KVM/);
  });
});

test('property: every clique at both offsets survives encode → place → find → decode', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 15 }), fc.constantFrom(0xc8, 0xd4), (clique, offset) => {
      const config = gpuConfig([...VOLTA_CAPS, p2pCap(offset, 0)]);
      config.set(encodeP2PCapability(clique), offset);
      const found = findP2PCapability(config).found;
      const decoded = decodeP2PCapability(config.subarray(offset, offset + 8));
      return found !== null && found.offset === offset && found.clique === clique && decoded.ok && decoded.clique === clique;
    }),
    { numRuns: 200, seed: 42 },
  );
});

// ---------------------------------------------------------------- reading what users have (issue 14)

const CAPTURES = path.join(REPO, '__tests__', 'captures');
const capture = (file: string) => fs.readFileSync(path.join(CAPTURES, file), 'utf8');
const starts = (caps: { offset: number }[]) => caps.map((c) => c.offset.toString(16));

describe('real captures (SOURCES lists where each comes from)', () => {
  // [file, address, architecture, capability starts, QEMU >= 8.1, QEMU < 8.1, the spec's offset, complete]
  test.each([
    ['kepler-k40c-ssd-gpu-dma-issue8.lspci-vvv.txt', undefined, 'kepler', ['60', '68', '78'], 0xc8, 0xc8, 0xc8, false],
    ['pascal-gtx1080-geerlingguy-issue123.lspci-vvvv.txt', undefined, 'pascal', ['60', '68', '78'], 0xc8, 0xc8, 0xc8, false],
    ['turing-mobile-rtx2080super-razer-blade15.lspci-vvnn.txt', undefined, 'turing', ['60', '68', '78'], 0xc8, 0xc8, 0xd4, true],
    ['turing-t4-cloud-hypervisor-issue434.lspci-vvv.txt', undefined, 'turing', ['60', '68', '78'], 0xc8, 0xc8, 0xd4, false],
    ['ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt', undefined, 'ampere', ['60', '68', '78', 'b4'], 0xc8, 0xc8, 0xd4, true],
    ['ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt', '0000:01:00.0', 'ampere', ['60', '68', '78', 'b4'], 0xc8, 0xc8, 0xd4, true],
    ['ampere-a100-sxm4-hwloc-issue653.lspci-vvnn.txt', undefined, 'ampere', ['60', '68', '78'], 0xc8, 0xc8, 0xd4, false],
    ['ampere-rtxa6000-supermicro-as4124gs.lspci-vvnn.txt', undefined, 'ampere', ['60', '68', '78', 'b4'], 0xc8, 0xc8, 0xd4, true],
    ['ada-mobile-rtx4070-razer-blade14.lspci-vvnn.txt', undefined, 'ada', ['60', '68', '78', 'b4'], 0xc8, 0xc8, 0xd4, true],
    ['blackwell-gb10-nixpkgs-pr527847.lspci-vvv.txt', undefined, 'blackwell', ['40', '48', '60'], 0xc8, 0xc8, 0xd4, false],
    // Data-centre cards with MSI-X at C8h: QEMU >= 8.1 moves to D4h, QEMU < 8.1 refuses to start
    ['turing-t4-host-cuda-notes.lspci-vv.txt', undefined, 'turing', ['60', '68', '78', 'c8'], 0xd4, null, 0xd4, true],
    ['ada-l20-msix-pba-notes.lspci-vvs.txt', undefined, 'ada', ['60', '68', '78', 'b4', 'c8'], 0xd4, null, 0xd4, true],
    ['ampere-a30-cloud-hypervisor-issue5251.lspci-vv-nn.txt', undefined, 'ampere', ['60', '68', '78'], 0xc8, 0xc8, 0xd4, false],
    ['ampere-a10-stevescargall-blog.lspci-vvv.txt', undefined, 'ampere', ['60', '68', '78'], 0xc8, 0xc8, 0xd4, false],
  ] as const)('%s (%s): %s', (file, address, arch, caps, modern, legacy, recommended, complete) => {
    const reading = readConfigSpace(capture(file), { address });
    expect(reading.source).toBe('text');
    expect(starts(reading.capabilities)).toEqual(caps);
    const p = predictP2PPlacement(reading, '8.2.0');
    expect(p).toMatchObject({ architecture: arch, recommended, complete });
    expect(p.qemu81.offset).toBe(modern);
    expect(p.qemuBefore81.offset).toBe(legacy);
    // Turing and later without a capability at C8h: QEMU keeps C8h where the spec says D4h
    expect(p.agrees).toBe(modern === recommended);
    if (!p.agrees) expect(p.meaning).toMatch(/NVIDIA's spec recommends 0xd4/);
    if (!complete) expect(p.warnings.join()).toMatch(/may stop before the capability list does|lines the capture leaves out would change the answer/);
    // an incomplete list never claims that nothing starts at C8h
    if (!complete && modern === 0xc8) expect(p.qemu81.reason).toMatch(/no capability the capture shows starts at C8h \(it does not show them all\)/);
  });

  test('T4 inside a cloud VM (lspci -vnn): an 8-byte vendor capability at D4h right after MSI-X at C8h, as QEMU >= 8.1 places GPUDirect', () => {
    const guest = readConfigSpace(capture('turing-t4-cloud-guest-centos-notes.lspci-vnn.txt'));
    expect(guest).toMatchObject({ address: '00:0c.0', vendor: 0x10de, device: 0x1eb8, source: 'text', complete: true });
    expect(starts(guest.capabilities)).toEqual(['60', '68', '78', 'c8', 'd4']);
    expect(guest.capabilities.find((c) => c.offset === 0xd4)).toMatchObject({ id: 0x09, length: 8, lengthSource: 'text' });
    // Passing this guest's GPU through once more: both offsets are taken, no QEMU can add another one
    const p = predictP2PPlacement(guest, '8.2.0');
    expect(p.qemu81.error).toMatch(/invalid config space/);
    expect(p.qemuBefore81.error).toMatch(/overlaps existing capability c8/);
  });

  test('A10 (stevescargall.com): the `lspci | grep` line above the block is not a second device, and "[...snip...]" inside PCIe leaves the list open', () => {
    const text = capture('ampere-a10-stevescargall-blog.lspci-vvv.txt');
    expect(readConfigSpaces(text)).toHaveLength(1);
    const a10 = readConfigSpace(text, { address: '99:00.0' });
    expect(a10).toMatchObject({ device: 0x2236, complete: false });
    expect(a10.notes.join()).toMatch(/leaves lines out \("\[\.\.\.snip\.\.\.\]"\) after 0x78/);
    // The same block with the elision removed reads as complete: the marker, not the Kernel driver line, decides
    expect(readConfigSpace(text.replace(/^\t\t\[\.\.\.snip\.\.\.\]\n/m, '')).complete).toBe(true);
    // and the prediction's warning blames the left-out lines, not a missing end of the list
    const warnings = predictP2PPlacement(a10, '8.2.0').warnings.join('\n');
    expect(warnings).toMatch(/a capability in the lines the capture leaves out would change the answer/);
    expect(warnings).not.toMatch(/no "Kernel driver" line/);
  });

  test('Hopper H20 (nvtrust #128): the block without a header still reads; the cut one is refused, not guessed', () => {
    const text = capture('hopper-h20-nvtrust-issue128.lspci-v-nn.txt');
    expect(() => readConfigSpace(text)).toThrow(expect.objectContaining({ code: 'CONFIG_SPACE_UNREADABLE', message: expect.stringMatching(/0a:00.0 \(10de:2329\)/) }));
    const [h20, cut] = readConfigSpaces(text);
    expect(starts(h20.capabilities)).toEqual(['40', '48', '60', '9c', 'b0']);
    expect(h20.capabilities.find((c) => c.offset === 0x9c)).toMatchObject({ length: 0x14, lengthSource: 'text' });
    expect(h20.capabilities.find((c) => c.offset === 0x48)).toMatchObject({ length: 24, lengthSource: 'text' });
    expect(cut).toMatchObject({ address: '0a:00.0', device: 0x2329, complete: false, capabilities: [] });
    const p = predictP2PPlacement(h20, '8.2.0', 'hopper');
    expect(p).toMatchObject({ offset: 0xc8, recommended: 0xd4, agrees: false, complete: true });
    expect(p.qemuBefore81.offset).toBe(0xc8);
    // The refusal points at the block that has a list, and `#N` reaches a block without an address
    expect(() => readConfigSpace(text)).toThrow(expect.objectContaining({ message: expect.stringMatching(/holds #1 \(no address\); 0a:00\.0 .*choose another with --address/) }));
    expect(starts(readConfigSpace(text, { address: '#1' }).capabilities)).toEqual(['40', '48', '60', '9c', 'b0']);
    expect(() => readConfigSpace(text, { address: '#3' })).toThrow(expect.objectContaining({ code: 'INPUT_INVALID', message: expect.stringMatching(/has no block #3/) }));
  });

  test.each([
    ['the GPU audio function', 'ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt', '01:00.1', /unsupported PCI class/],
    ['an Intel Wi-Fi card with PM at C8h', 'ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt', '02:00.0', /invalid device vendor/],
    ['an NVMe drive', 'ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt', '03:00.0', /invalid device vendor/],
    ['an Intel I219-V NIC (lspci -vvxxx, hex cut short)', 'negative-nic-i219v-gfx803-issue6.lspci-vvxxx.txt', '00:1f.6', /invalid device vendor/],
    // Without -nn the header names Intel but no ID; C8h is free, and QEMU still refuses the vendor (issue 22)
    ['an Intel iGPU pasted without -nn', 'negative-intel-hd530-compute-runtime-issue198.lspci-v.txt', undefined, /invalid device vendor/],
  ])('negative: %s gets no placement from either QEMU', (_name, file, address, error) => {
    const p = predictP2PPlacement(readConfigSpace(capture(file), { address }), '8.2.0');
    expect(p.offset).toBeNull();
    expect(p.qemu81.error).toMatch(error);
    expect(p.qemuBefore81.error).toMatch(error);
  });

  test('the I219-V capture merges text and the 80 bytes of hex it holds; without --address it is ambiguous', () => {
    const text = capture('negative-nic-i219v-gfx803-issue6.lspci-vvxxx.txt');
    expect(() => readConfigSpace(text)).toThrow(expect.objectContaining({ code: 'INPUT_INVALID', message: expect.stringMatching(/00:1f.6 Ethernet controller/) }));
    const nic = readConfigSpace(text, { address: '00:1f.6' });
    expect(nic).toMatchObject({ vendor: 0x8086, device: 0x15b8, classCode: 0x0200, source: 'text' });
    expect(nic.config).toHaveLength(0x50);
    expect(starts(nic.capabilities)).toEqual(['c8', 'd0', 'e0']);
  });

  test('a header without IDs names the vendor: not NVIDIA is said, and the bytes win when the capture has them', () => {
    const intel = readConfigSpace(capture('negative-intel-hd530-compute-runtime-issue198.lspci-v.txt'));
    expect(intel).toMatchObject({ address: '00:02.0', classCode: 0x0300, otherVendor: 'Intel Corporation HD Graphics 530' });
    expect(intel.vendor).toBeUndefined();
    expect(predictP2PPlacement(intel, '8.2.0').reason).toMatch(/names the device "Intel Corporation HD Graphics 530", not an NVIDIA one/);
    expect(readConfigSpace(capture('negative-nic-i219v-gfx803-issue6.lspci-vvxxx.txt'), { address: '00:1f.6' }).otherVendor).toBeUndefined();
    const noIds = lspciText('00:02.0', 'VGA compatible controller: Device 1234:1111 (rev 02)', gpuConfig(VOLTA_CAPS)).split('\n')[0];
    expect(readConfigSpaces(noIds)[0]).toMatchObject({ vendor: 0x1234, device: 0x1111 }); // lspci without pci.ids prints both IDs
  });

  test('a multi-device capture without the asked address lists what it holds', () => {
    expect(() => readConfigSpace(capture('ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt'), { address: '3b:00.0' })).toThrow(
      /has no device 3b:00.0; it holds 01:00.0 VGA compatible controller.*03:00.0 Non-Volatile/,
    );
  });
});

describe('text as people publish it', () => {
  const original = capture('turing-mobile-rtx2080super-razer-blade15.lspci-vvnn.txt');
  const expected = readConfigSpace(original);
  test.each([
    ['CRLF line ends', (t: string) => t.replace(/\n/g, '\r\n')],
    ['tabs turned into spaces', (t: string) => t.replace(/\t/g, '    ')],
    ['no-break spaces', (t: string) => t.replace(/ /g, '\u00a0')],
    ['e-mail quoting', (t: string) => t.replace(/^/gm, '> ')],
    ['quoting twice', (t: string) => t.replace(/^/gm, '>> ')],
    ['a prompt before it and other output after it', (t: string) => `user@host:~$ sudo lspci -vvv -nn -s 01:00.0\n${t}user@host:~$ nvidia-smi\nNVIDIA-SMI 535.54.03   Driver Version: 535.54.03\n`],
    ['a header wrapped inside its ID by a mail client', (t: string) => t.replace('[10de:1e93]', '[10de:\n1e93]')],
    ['a capability line wrapped by a mail client', (t: string) => t.replace('Express (v2) Legacy Endpoint, MSI 00', 'Express (v2) Legacy\nEndpoint')],
    ['a markdown code fence around it', (t: string) => '```\n' + t + '```\n'],
  ])('%s', (_name, mangle) => {
    const r = readConfigSpace(mangle(original));
    expect(r).toMatchObject({ address: '01:00.0', vendor: 0x10de, device: 0x1e93, classCode: 0x0300, complete: true });
    expect(r.capabilities.map((c) => [c.offset, c.id])).toEqual(expected.capabilities.map((c) => [c.offset, c.id]));
  });

  test('a hex dump quoted in an e-mail is read, not refused; text and hex of one device merge', () => {
    const bytes = gpuConfig(TURING_CAPS, { device: 0x1eb8 });
    const hex = lspciText('3b:00.0', '3D controller [0302]: NVIDIA Corporation TU104GL [Tesla T4] [10de:1eb8] (rev a1)', bytes);
    const quoted = hex.replace(/^/gm, '> ');
    expect(readConfigSpace(quoted)).toMatchObject({ source: 'bytes', device: 0x1eb8 });
    const merged = hex.replace('\n', '\n\tCapabilities: [60] Power Management version 3\n\tCapabilities: [c8] MSI-X: Enable+ Count=6 Masked-\n');
    const r = readConfigSpace(merged);
    expect(r.source).toBe('text+bytes');
    expect(starts(r.capabilities)).toEqual(['60', '68', '78', 'c8']);
    expect(r.notes.join()).toMatch(/the text lists capabilities at 60 c8, the bytes at 60 68 78 c8; using the bytes/);
  });

  test('a mail-wrapped hex row is rejoined', () => {
    const hex = lspciText('3b:00.0', '3D controller: NVIDIA Corporation Device 1eb8', gpuConfig(TURING_CAPS, { device: 0x1eb8 }));
    const wrapped = hex.replace(/^(c0: (?:[0-9a-f]{2} ){7}[0-9a-f]{2}) /m, '$1\n');
    expect(starts(readConfigSpace(wrapped).capabilities)).toEqual(['60', '68', '78', 'c8']);
  });
});

/** The sysfs config of an Intel I219-V (8086:15b8, Ethernet) whose status register says it has no capability list. */
function intelNicBytes(): Uint8Array {
  const c = gpuConfig([]);
  c.set([0x86, 0x80, 0xb8, 0x15], 0);
  c[0x06] = 0x00;
  c[0x0a] = 0x00;
  c[0x0b] = 0x02;
  return c;
}

describe('never a confident answer from nothing', () => {
  test.each([
    ['empty input', '', /Found no PCI device/],
    ['a log without lspci output', 'kernel: vfio-pci 0000:3b:00.0: enabling device\n', /Found no PCI device/],
    ['lspci run without root', '3b:00.0 3D controller: NVIDIA Corporation Device 1eb8 (rev a1)\n\tCapabilities: <access denied>\n\tKernel driver in use: nvidia\n', /access denied/],
    ['lspci -x: only the header', lspciText('3b:00.0', '3D controller: NVIDIA Corporation Device 1eb8', gpuConfig(TURING_CAPS).subarray(0, 64)), /only the 64-byte header/],
    ['lspci without -v: no capability lines', '3b:00.0 3D controller: NVIDIA Corporation TU104GL [Tesla T4] (rev a1)\n', /no "Capabilities:" lines/],
    ['sysfs bytes with the capability bit clear', gpuConfig(TURING_CAPS).map((b, i) => (i === 6 ? 0 : b)), /capability-list bit is clear/],
    ['a 16-byte file', gpuConfig(TURING_CAPS).subarray(0, 16), /only 16 bytes/],
  ] as const)('%s → CONFIG_SPACE_UNREADABLE', (_name, input, message) => {
    expect(() => readConfigSpace(input as string | Uint8Array)).toThrow(expect.objectContaining({ code: 'CONFIG_SPACE_UNREADABLE', message: expect.stringMatching(message) }));
  });

  // A capture read as root that has no list is not helped by root: say so, and say when it is no GPU at all (issue 22).
  test.each([
    ['sysfs bytes of a NIC whose status says no list', intelNicBytes(), /capability-list bit is clear\. It is not an NVIDIA device \(vendor 8086, not 10de\): QEMU refuses the GPUDirect clique on it/],
    ['sysfs bytes of a GPU whose status says no list', gpuConfig(TURING_CAPS).map((b, i) => (i === 6 ? 0 : b)), /capability-list bit is clear\. The device has no capability list at all \(reading it as root changes nothing\)/],
    ['lspci -vvv of a device printing "Status: Cap-"', '00:1f.4 SMBus [0c05]: Intel Corporation Sunrise Point-H SMBus [8086:a123] (rev 31)\n\tStatus: Cap- 66MHz- UDF-\n\tKernel driver in use: i801_smbus\n', /"Status: Cap-"\. It is not an NVIDIA device \(vendor 8086/],
    ['a non-root capture of a NIC', '00:1f.6 Ethernet controller [0200]: Intel Corporation Ethernet Connection (2) I219-V [8086:15b8]\n\tCapabilities: <access denied>\n\tKernel driver in use: e1000e\n', /access denied.*It is not an NVIDIA device/],
  ] as const)('%s: no "capture it as root"', (_name, input, message) => {
    expect(() => readConfigSpace(input as string | Uint8Array)).toThrow(expect.objectContaining({ code: 'CONFIG_SPACE_UNREADABLE', message: expect.stringMatching(message) }));
    expect(() => readConfigSpace(input as string | Uint8Array)).toThrow(expect.objectContaining({ message: expect.not.stringMatching(/as root with/) }));
  });

  test.each([
    ['a string instead of bytes', () => predictP2PPlacement('3b:00.0 3D controller' as never, '8.2.0')],
    ['a QEMU version that is a word', () => predictP2PPlacement(gpuConfig(TURING_CAPS), 'seven')],
    ['an empty QEMU version', () => predictP2PPlacement(gpuConfig(TURING_CAPS), '')],
    ['an unknown architecture', () => predictP2PPlacement(gpuConfig(TURING_CAPS), '8.2.0', 'fermi' as never)],
    ['clique 16', () => encodeP2PCapability(16)],
    ['clique -1', () => encodeP2PCapability(-1)],
  ])('%s → INPUT_INVALID', (_name, call) => {
    expect(call).toThrow(expect.objectContaining({ name: 'PassthroughError', code: 'INPUT_INVALID' }));
  });

  // Which forms parse, and that every entry point agrees: __tests__/versions.test.ts.
  test.each([['8.2.0'], ['7.2'], ['1:7.2+dfsg-7+deb12u6'], ['10.0.2-rc1']])('QEMU version %j parses', (v) => {
    expect(parseQemuVersion(v)).toHaveLength(3);
  });
});

describe('QEMU sizes capabilities its own way', () => {
  const at = (offset: number, id: number, body: number[] = []) => ({ offset, id, body });
  test.each([
    ['MSI-X at C0h reaches into C8h (12 bytes)', [at(0x60, 0x01), at(0xc0, 0x11)], null, null],
    ['64-bit maskable MSI at BCh reaches D3h', [at(0x60, 0x01), at(0xbc, 0x05, [0x80, 0x01])], null, null],
    ['PCIe at 78h as the last capability: QEMU trims it at C8h', [at(0x60, 0x01), at(0x78, 0x10)], 0xc8, 0xc8],
    ['a capability starting at CCh, inside C8h-CFh', [at(0x60, 0x01), at(0xcc, 0x0d)], null, null],
    ['MSI-X at C8h: D4h for 8.1, refusal before', [at(0x60, 0x01), at(0xc8, 0x11)], 0xd4, null],
  ])('%s', (_name, caps, modern, legacy) => {
    const p = predictP2PPlacement(gpuConfig(caps), '8.2.0');
    expect(p.qemu81.offset).toBe(modern);
    expect(p.qemuBefore81.offset).toBe(legacy);
    if (modern === null) expect(p.qemu81.error).toMatch(/Attempt to add PCI capability .* overlaps existing capability/);
  });

  test('a vendor capability declaring 14h bytes from C0h: QEMU starts, but the P2P bytes cover its tail', () => {
    const p = predictP2PPlacement(gpuConfig([at(0x60, 0x01), at(0xc0, 0x09, [0x14])]), '8.2.0');
    expect(p).toMatchObject({ offset: 0xc8, collides: true });
    expect(p.warnings.join()).toMatch(/Vendor Specific capability at 0xc0 declares 20 bytes \(to 0xd3, from the bytes\)/);
  });

  test('extents not read from the device are listed as assumed', () => {
    const p = predictP2PPlacement(gpuConfig(TURING_CAPS), '8.2.0');
    expect(p.assumed).toEqual(['0x78 PCI Express: 80 bytes, to the next capability (as QEMU sizes it)']);
    expect(p.capabilities.map((c) => c.lengthSource)).toEqual(['spec', 'bytes', 'assumed', 'spec']);
  });
});

describe('predict on the command line', () => {
  const files = new Map<string, Uint8Array>();
  /** `tools`: what local tools print (none by default: nothing of this machine is read). */
  const run = (args: string[], tools: Record<string, string> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const ran: string[] = [];
    const io = {
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      readStdin: () => undefined,
      readFile: (f: string) => {
        const data = files.get(f);
        if (!data) throw Object.assign(new Error(`ENOENT: ${f}`), { code: 'ENOENT' });
        return data;
      },
      runTool: (command: string, args: string[]) => {
        ran.push(`${command} ${args.join(' ')}`);
        return tools[`${command} ${args.join(' ')}`];
      },
    };
    const code = runCli(args, io);
    return { code, stdout: out.join(''), stderr: err.join(''), ran };
  };
  // The form people paste: lspci -vvv -nn of a data-centre Turing card (T4-like: MSI-X at C8h), with the prompt.
  const T4_LIKE = [
    '$ sudo lspci -vvv -nn -s 3b:00.0',
    '3b:00.0 3D controller [0302]: NVIDIA Corporation TU104GL [Tesla T4] [10de:1eb8] (rev a1)',
    '\tSubsystem: NVIDIA Corporation TU104GL [Tesla T4] [10de:12a2]',
    '\tCapabilities: [60] Power Management version 3',
    '\tCapabilities: [68] #00 [0080]',
    '\tCapabilities: [78] Express (v2) Endpoint, MSI 00',
    '\tCapabilities: [c8] MSI-X: Enable+ Count=6 Masked-',
    '\tCapabilities: [100 v1] Virtual Channel',
    '\tKernel driver in use: nvidia',
  ].join('\n');
  files.set('t4.txt', new TextEncoder().encode(T4_LIKE));
  files.set('ampere.txt', new TextEncoder().encode(capture('ampere-mobile-rtx3070-razer-blade14.lspci-vvnn.txt')));

  files.set('intel.txt', new TextEncoder().encode(capture('negative-intel-hd530-compute-runtime-issue198.lspci-v.txt')));
  files.set('nic.config', intelNicBytes());

  test('without --qemu, predict reads the local QEMU as transform and host plan do, and says so', () => {
    const found = run(['predict', '--config', 't4.txt'], { 'qemu-system-x86_64 --version': 'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n' });
    expect(found.stderr).toBe('target: QEMU 7.2.22 (from qemu-system-x86_64 --version)\n');
    expect(found.stdout).toMatch(/QEMU 7.2.22 will refuse to start/);
    expect(found.code).toBe(1);
    const none = run(['predict', '--config', 't4.txt'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^libvirt-passthrough predict: predict needs --qemu VERSION \(qemu-system-x86_64 not found here\)/);
    const given = run(['predict', '--config', 't4.txt', '--qemu', '8.2.0'], { 'qemu-system-x86_64 --version': 'QEMU emulator version 7.2.22\n' });
    expect(given.stderr).toBe('target: QEMU 8.2.0 (from --qemu)\n');
    expect(given.ran).toEqual([]);
    const off = run(['predict', '--config', 't4.txt', '--no-detect'], { 'qemu-system-x86_64 --version': 'QEMU emulator version 7.2.22\n' });
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/predict needs --qemu VERSION \(--no-detect\)/);
    expect(off.ran).toEqual([]);
  });

  test('an Intel GPU pasted without -nn: QEMU refuses the vendor, not a confident offset', () => {
    const r = run(['predict', '--config', 'intel.txt', '--qemu', '8.2.0']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/QEMU 8.2.0 will refuse to start: NVIDIA GPUDirect Clique ID: invalid device vendor/);
    expect(r.stdout).not.toMatch(/places it at/);
  });

  test('a non-GPU read as root: no "capture it as root"', () => {
    const r = run(['predict', '--config', 'nic.config', '--qemu', '8.2.0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CONFIG_SPACE_UNREADABLE: .*It is not an NVIDIA device \(vendor 8086, not 10de\)/);
    expect(r.stderr).not.toMatch(/as root/);
  });

  test('a T4-like lspci -vvv -nn paste: D4h for QEMU 8.2, exit 0', () => {
    const r = run(['predict', '--config', 't4.txt', '--qemu', '8.2.0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/QEMU 8.2.0 places it at 0xd4; the spec recommends 0xd4 for turing \(agrees\)/);
    expect(r.stdout).toMatch(/QEMU before 8.1: refuses to start/);
  });

  test('the same paste with QEMU 7.2: "QEMU 7.2 will refuse to start", exit 1', () => {
    const r = run(['predict', '--config', 't4.txt', '--qemu', '7.2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/QEMU 7.2 will refuse to start: Attempt to add PCI capability 11 at offset c8 overlaps existing capability c8/);
  });

  test('--json: the documented shape', () => {
    const r = run(['predict', '--config', 'ampere.txt', '--qemu', '8.2.0', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json)).toEqual([
      'address', 'deviceId', 'architecture', 'source', 'complete', 'qemu', 'offset', 'reason', 'collides', 'qemu81', 'qemuBefore81',
      'recommended', 'agrees', 'meaning', 'capabilities', 'assumed', 'warnings',
    ]);
    expect(json).toMatchObject({ address: '01:00.0', deviceId: '10de:249d', architecture: 'ampere', offset: '0xc8', recommended: '0xd4', agrees: false });
    expect(json.capabilities[3]).toEqual({ offset: '0xb4', id: '0x09', name: 'Vendor Specific', length: 20, lengthSource: 'text' });
    expect(json.qemuBefore81).toEqual({ offset: '0xc8', reason: 'QEMU before 8.1 always uses C8h', shadows: [] });
  });

  test.each([
    ['a missing file', 1, ['predict', '--config', 'nope.txt', '--qemu', '8.2.0'], /cannot read nope.txt: no such file or folder \(ENOENT\)/],
    ['a positional argument', 2, ['predict', '--config', 't4.txt', '--qemu', '8.2.0', 'extra'], /takes no positional arguments/],
    ['verify-guest with a positional argument', 2, ['verify-guest', '--expect', 'plan.json', 'extra'], /takes no positional arguments/],
    ['--qemu seven', 2, ['predict', '--config', 't4.txt', '--qemu', 'seven'], /predict: --qemu: "seven" is not a QEMU version/],
    ['--qemu ""', 2, ['predict', '--config', 't4.txt', '--qemu', ''], /--qemu: "" is not a QEMU version/],
    ['an address the capture lacks', 1, ['predict', '--config', 'ampere.txt', '--qemu', '8.2.0', '--address', '3b:00.0'], /has no device 3b:00.0/],
  ])('%s → exit %d, no stack trace', (_name, code, args, message) => {
    const r = run(args as string[]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('host plan predicts the offset from each GPU\'s sysfs config, and verify-guest expects it', () => {
  const roots: string[] = [];
  afterAll(() => roots.forEach((r) => fs.rmSync(r, { recursive: true, force: true })));
  /** Two GPUs on one root port; `configs` writes their sysfs config files (undefined: none, as in a capture). */
  const host = (device: number, configs: (Uint8Array | undefined)[]) => {
    const paths = [['pci0000:00', '0000:00:02.0', '0000:3b:00.0'], ['pci0000:00', '0000:00:02.0', '0000:3c:00.0']];
    const root = makeSysfs({ devices: paths.map((p) => ({ path: p, vendor: 0x10de, device, classCode: GPU, numa: 0 })) });
    roots.push(root);
    paths.forEach((p, i) => configs[i] && fs.writeFileSync(path.join(root, 'sys', 'devices', ...p, 'config'), configs[i]!));
    return readHostSnapshot(root);
  };
  const t4 = gpuConfig(TURING_CAPS, { device: 0x1eb8 });
  const consumerTuring = gpuConfig(VOLTA_CAPS, { device: 0x1e93 });

  test.each([
    ['T4-like, QEMU 8.2: D4h recorded', 0x1eb8, [t4, t4], '8.2.0', ['0xd4', '0xd4'], /QEMU 8.2.0 puts the GPUDirect capability at 0xd4/],
    ['consumer Turing, QEMU 8.2: C8h recorded, the spec\'s D4h noted', 0x1e93, [consumerTuring, consumerTuring], '8.2.0', ['0xc8', '0xc8'], /at 0xc8 \(the spec recommends 0xd4 for turing\)/],
    ['consumer Turing, no --qemu: every QEMU agrees on C8h', 0x1e93, [consumerTuring, consumerTuring], undefined, ['0xc8', '0xc8'], /every QEMU puts the GPUDirect capability at 0xc8/],
    ['T4-like, no --qemu: QEMU generations disagree, the spec\'s offset stays', 0x1eb8, [t4, t4], undefined, [undefined, undefined], /give --qemu VERSION/],
    ['no config in the snapshot', 0x1eb8, [undefined, undefined], '8.2.0', [undefined, undefined], /no config space in the snapshot/],
    ['a 64-byte config (read without root)', 0x1eb8, [t4.subarray(0, 64), t4.subarray(0, 64)], '8.2.0', [undefined, undefined], /CONFIG_SPACE_UNREADABLE|only the 64-byte header/],
  ] as const)('%s', (_name, device, configs, qemu, offsets, reason) => {
    const { plan, reasons } = explainPlanFromHost(host(device, [...configs]), { gpus: 'all', qemu });
    expect(plan.hostdevs.map((h) => h.gpudirect?.offset)).toEqual(offsets);
    expect(plan.hostdevs.every((h) => h.gpudirect?.clique === 0)).toBe(true);
    expect(reasons.join('\n')).toMatch(reason);
  });

  test('T4-like with QEMU 7.2: no clique (QEMU would refuse to start), and the reason says so', () => {
    const { plan, reasons } = explainPlanFromHost(host(0x1eb8, [t4, t4]), { gpus: 'all', qemu: '7.2.0' });
    expect(plan.hostdevs.map((h) => h.gpudirect)).toEqual([undefined, undefined]);
    expect(reasons.join('\n')).toMatch(/0000:3b:00.0: no clique: QEMU 7.2.0 would refuse to start with one \(Attempt to add PCI capability 11/);
  });

  test('the predicted offset reaches the domain metadata, and verify-guest holds the guest to it', () => {
    const domain = fs.readFileSync(path.join(REPO, 'examples', 'domain.xml'), 'utf8');
    const { plan } = explainPlanFromHost(host(0x1e93, [consumerTuring, consumerTuring]), { gpus: 'all', qemu: '8.2.0' });
    const expected = expectationFromDomain(transformDomain(domain, plan));
    expect(expected.gpus.map((g) => g.offset)).toEqual([0xc8, 0xc8]);
    const guest = (bus: string, offset: number) =>
      parseLspciDump(lspciText(`${bus}:00.0`, '3D controller: NVIDIA Corporation Device 1e93', gpuConfig([...VOLTA_CAPS, p2pCap(offset, 0)], { device: 0x1e93 })))[0];
    expect(verifyGuest(expected, [guest('06', 0xc8), guest('07', 0xc8)]).ok).toBe(true);
    const atSpecOffset = verifyGuest(expected, [guest('06', 0xd4), guest('07', 0xd4)]);
    expect(atSpecOffset.ok).toBe(false);
    expect(atSpecOffset.gpus[0].problems.join()).toMatch(/capability at 0xd4, expected 0xc8/);
  });
});

test('predict on a paste cut short says it is not certain and exits 1 (the T4 of cloud-hypervisor #434)', () => {
  const io = { stdout: jest.fn(), stderr: jest.fn(), readStdin: () => undefined, readFile: () => new TextEncoder().encode(capture('turing-t4-cloud-hypervisor-issue434.lspci-vvv.txt')) };
  expect(runCli(['predict', '--config', 't4.txt', '--qemu', '8.2.0'], io)).toBe(1);
  expect(io.stdout.mock.calls.join('')).toMatch(/NOT CERTAIN: the capture does not show the whole capability list; from what it shows, QEMU 8.2.0 places it at 0xc8/);
});
