export { transformDomain, explainTransform } from './transform';
export type { TransformOptions, TransformExplanation } from './transform';
export { inspectDomain } from './inspect';
export type { DomainInfo, HostdevInfo, GpudirectInfo } from './inspect';
export { renderHostdev } from './snippet';
export { PassthroughError, isPassthroughError, ERROR_CODES } from './errors';
export type { ErrorCode, ErrorDetails } from './errors';
export type { Change, ChangeKind } from './edit/changes';
export type { Plan, PlanHostdev, PlanAddress } from './plan/types';
export { validatePlan } from './plan/validate';
export { DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH } from './load/load';
export { decodeXmlBytes } from './load/decode';
export type { LoadOptions } from './load/load';
export { parsePciAddress, formatPciAddress } from './pci/address';
export type { PciAddress, PciDeviceId } from './pci/address';
export {
  GPUDIRECT_ARCHITECTURES,
  recommendedP2POffset,
  lookupNvidiaDevice,
  PCI_IDS_VERSION,
} from './gpudirect/architecture';
export type { GpuArchitecture, KnownNvidiaDevice } from './gpudirect/architecture';
export { encodeP2PCapability, decodeP2PCapability, approvalParameters } from './gpudirect/capability';
export { guestTreeFromDomain } from './layout/guest-tree';
export type { PciTree, PciTreeNode } from './layout/types';
export { removePassthrough } from './remove';
export type { RemoveSelection } from './remove';
export { walkCapabilities, findP2PCapability } from './gpudirect/config-space';
export { parseLspciDump, parseSysfsConfig } from './gpudirect/read-config';
export type { CapabilityWalk, WalkedCapability, FoundP2P, PciFunctionDump } from './gpudirect/config-space';
export { predictP2PPlacement, parseQemuVersion } from './gpudirect/placement';
export type { P2PPlacement, QemuPlacement } from './gpudirect/placement';
export { readConfigSpace, readConfigSpaces } from './gpudirect/read-config';
export type { ConfigSpaceReading, ReadCapability, ReadOptions, ExtentSource } from './gpudirect/read-config';
export { verifyGuest, expectationFromDomain, expectationFromPlan } from './gpudirect/verify';
export type { GuestExpectation, GuestReport, GpuVerdict, ExpectedGpu } from './gpudirect/verify';
export { cliquesFromTopology } from './host/cliques';
export type { TopologyInput } from './host/cliques';
export { assignCliques, parseTopoMatrix, parseBusIds } from './host/topology';
export type { CliquePolicy, CliqueResult, Link, TopoMatrix } from './host/topology';
export { readHostSnapshot } from './host/snapshot';
export type { HostSnapshot, HostPciDevice } from './host/snapshot';
export { checkHost, RECOMMENDED_PARAMETERS, recommendedParameters, kernelParameters } from './host/check';
export { readHostCapture } from './host/capture';
export type { Finding } from './host/check';
export { planFromHost, explainPlanFromHost, mmioWindowFor, DEFAULT_MMIO64_GIB } from './host/plan';
export type { HostSelection } from './host/plan';
export { applyPlan } from './libvirt/apply';
export type { ApplyOptions, ApplyResult } from './libvirt/apply';
export { unapplyPlan } from './libvirt/unapply';
export type { UnapplyOptions, UnapplyResult } from './libvirt/unapply';
export { describeConnection } from './libvirt/connection';
export type { Connection } from './libvirt/connection';
export type { VirshOptions } from './libvirt/virsh';
export type { TransactionOptions } from './libvirt/transaction';
export { keptFacts, droppedFacts } from './libvirt/kept';
export { onDefineDomain, GPUDIRECT_ANNOTATION } from './kubevirt/hook';
export type { GpudirectAnnotation, AnnotationGpu, HookResult } from './kubevirt/hook';
