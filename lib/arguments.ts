import { PassthroughError, excerpt } from './errors';

// Entry checks for the exported functions: a caller without TypeScript (or with `as any`) gets
// INPUT_INVALID naming the function, what it takes and what it was given, not a TypeError from deep inside.

/** A value as a message shows it: `null`, `nothing`, `an array`, `3 bytes`, `the string "junk"`, `the number 42`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return `the string ${JSON.stringify(excerpt(value, 40))}`;
  if (typeof value === 'number') return `the number ${excerpt(String(value), 20)}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Throws INPUT_INVALID: `fn takes expected, got ...`. */
export function refuseArgument(fn: string, expected: string, value: unknown): never {
  throw new PassthroughError('INPUT_INVALID', `${fn} takes ${expected}, got ${describeValue(value)}.`);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

export function requireString(value: unknown, fn: string, expected: string): asserts value is string {
  if (typeof value !== 'string') refuseArgument(fn, expected, value);
}

export function requireOptionalString(value: unknown, fn: string, expected: string): asserts value is string | undefined {
  if (value !== undefined && typeof value !== 'string') refuseArgument(fn, expected, value);
}

export function requireBytes(value: unknown, fn: string, expected: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) refuseArgument(fn, expected, value);
}

export function requireObject(value: unknown, fn: string, expected: string): asserts value is Record<string, unknown> {
  if (!isObject(value)) refuseArgument(fn, expected, value);
}

/** An options argument: left out, or an object. */
export function requireOptions(value: unknown, fn: string, expected = 'its options as an object (or nothing)'): asserts value is Record<string, unknown> | undefined {
  if (value !== undefined && !isObject(value)) refuseArgument(fn, expected, value);
}

/** An array whose every item passes `isItem`; the message names the first item that does not. */
export function requireArrayOf<T>(value: unknown, isItem: (item: unknown) => item is T, fn: string, expected: string): asserts value is T[] {
  if (!Array.isArray(value)) refuseArgument(fn, expected, value);
  const bad = value.findIndex((item) => !isItem(item));
  if (bad >= 0) {
    throw new PassthroughError('INPUT_INVALID', `${fn} takes ${expected}, got ${describeValue(value[bad])} at index ${bad}.`);
  }
}

export const isString = (value: unknown): value is string => typeof value === 'string';
