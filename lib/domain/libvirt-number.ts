/**
 * A number in a libvirt XML attribute read as libvirt reads it: virXMLPropUInt (src/util/virxml.c) calls
 * virStrToLong_uip (src/util/virstring.c), which is strtoul with base 0, refusing a `-` anywhere in what was
 * read, anything after the digits, nothing read, and more than an unsigned int. So: leading space, tab, CR or LF
 * (the only white space XML lets through), an optional `+`, then `0x`/`0X` and hex digits, `0` and octal digits,
 * or decimal digits. glibc 2.38+ in C23 mode also reads `0b`/`0B` binary (libvirt 11.3 on Debian 13 does, 9.0
 * on Debian 12 does not): read here too, since only the stack that reads it can define such a domain.
 * __tests__/libvirt-numbers/ holds the spellings and what each real stack made of them. Undefined: refused.
 */
export function readLibvirtUInt(text: string): number | undefined {
  const m = /^[ \t\r\n]*\+?(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(text);
  if (!m) return undefined;
  const value = m[1] !== undefined ? parseInt(m[1], 16) : m[2] !== undefined ? parseInt(m[2], 2) : m[3] !== undefined ? parseInt(m[3], 8) : Number(m[4]);
  return value <= 0xffffffff ? value : undefined;
}
