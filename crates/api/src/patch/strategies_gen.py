#!/usr/bin/env python3
"""Regenerates strategies.rs: the strategic-merge-patch facts of the built-in API types.

Upstream's apiserver merges a strategic merge patch by the Go struct tags of its API types
(`patchStrategy:"merge,retainKeys" patchMergeKey:"name"`); its OpenAPI
`x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key` extensions are generated from the
same tags. They are read here from a Go binary that links the API types (kubectl v1.33, matching
k8s-openapi's v1_33): its type metadata has every struct's fields with their `json` and patch
tags and the type of each field, so nested types are followed by the Go type of each field
(definition names are the Go package path reversed, as upstream's OpenAPI names them).

Only the facts needed to patch are written: fields with a patch strategy, and the fields that
lead (through structs, pointers, slices and maps) to a type that has some. apiextensions and
apiregistration types are not linked into kubectl; their few tagged fields are listed in MANUAL.

Usage (it reuses the header of the current strategies.rs, so write elsewhere first):
  python3 strategies_gen.py [/usr/lib/google-cloud-sdk/bin/kubectl.1.33] > /tmp/s.rs && mv /tmp/s.rs strategies.rs
(a non-PIE, statically linked amd64 Go >= 1.21 ELF binary).
"""
import os, re, struct, sys
from array import array

BINARY = sys.argv[1] if len(sys.argv) > 1 else '/usr/lib/google-cloud-sdk/bin/kubectl.1.33'
K_ARRAY, K_MAP, K_PTR, K_SLICE, K_STRUCT = 17, 21, 22, 23, 25


def go_structs(path):
    """{definition name: [(json name, tags, target definition or None, inline)]}."""
    f = open(path, 'rb').read()
    shoff = struct.unpack_from('<Q', f, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', f, 0x3a)
    hdr = lambda i: struct.unpack_from('<IIQQQQIIQQ', f, shoff + i * shentsize)
    strtab = hdr(shstrndx)[4]
    secs = {f[strtab + h[0]:].split(b'\0', 1)[0].decode(): h for h in map(hdr, range(shnum))}
    base, off, size = secs['.rodata'][3], secs['.rodata'][4], secs['.rodata'][5]
    ro = f[off:off + size]

    def rd(addr, n):
        return ro[addr - base:addr - base + n] if base <= addr < base + size else None

    def q(addr):
        b = rd(addr, 8)
        return struct.unpack('<Q', b)[0] if b else 0

    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
            if c < 0x80:
                return v, i

    def name(addr, want_ident=True):  # abi.Name: flags, varint len, bytes[, varint taglen, tag]
        b = rd(addr, 700)
        if not b or len(b) < 3 or b[0] > 0x0f:
            return None
        try:
            n, i = varint(b, 1)
            text = b[i:i + n]
            if want_ident and (n == 0 or not re.fullmatch(rb'[A-Za-z_][A-Za-z0-9_]*', text)):
                return None
            i += n
            tag = ''
            if b[0] & 2:
                t, i = varint(b, i)
                tag = b[i:i + t].decode('latin1')
            return text.decode('latin1'), tag
        except IndexError:
            return None

    def kind(t):
        b = rd(t, 48)
        return b[23] & 0x1f if b else 0

    def type_name(t):  # abi.Type.Str is a NameOff from the start of the types (.rodata)
        b = rd(t, 48)
        n = name(base + struct.unpack_from('<i', b, 40)[0], False)
        s = n[0] if n else '?'
        return s[1:] if (b[20] & 2) and s.startswith('*') else s

    def struct_key(t):
        """(package path, type name) of a named struct type, else None."""
        tb = rd(t, 48)
        if not tb or kind(t) != K_STRUCT or not tb[20] & 1:
            return None
        # Named types have an abi.UncommonType right after the StructType: PkgPath NameOff.
        pkg = name(base + struct.unpack_from('<i', rd(t + 80, 4), 0)[0], False)
        return (pkg[0] if pkg else '', type_name(t).split('.', 1)[-1])

    def target(t):
        """The named struct a field's values are (through pointers, slices, arrays, maps)."""
        for _ in range(4):
            k = kind(t)
            if k == K_STRUCT:
                return struct_key(t)
            if k in (K_PTR, K_SLICE, K_ARRAY):
                t = q(t + 48)
            elif k == K_MAP:
                t = q(t + 56)
            else:
                return None
        return None

    qs = array('Q'); qs.frombytes(ro[:len(ro) // 8 * 8])
    out = {}
    # abi.StructType: Type (48 bytes), PkgPath (8), Fields slice {ptr, len, cap} at +56.
    for idx in range(len(qs) - 3):
        p, n, c = qs[idx], qs[idx + 1], qs[idx + 2]
        if n == 0 or n != c or n > 300 or not (base <= p < base + size) or (p - base) % 8:
            continue
        t = base + idx * 8 - 56
        tb = rd(t, 48)
        if not tb or (tb[23] & 0x1f) != K_STRUCT:
            continue
        first = (p - base) // 8
        fields = []
        for k in range(n):  # abi.StructField: Name (8), Typ (8), Offset (8)
            nm = name(qs[first + 3 * k]) if first + 3 * k + 1 < len(qs) else None
            ft = qs[first + 3 * k + 1] if nm else 0
            if not nm or not rd(ft, 48):
                fields = None
                break
            j = re.search(r'json:"([^"]*)"', nm[1])
            jparts = j.group(1).split(',') if j else [nm[0]]
            tgt = target(ft)
            fields.append((jparts[0], nm[1], tgt, jparts[0] == '' and 'inline' in jparts[1:]))
        if not fields or not any('protobuf:"' in x[1] for x in fields):
            continue
        key = struct_key(t)
        if key and key[0].startswith('k8s.io/'):
            out[key] = fields
    return out


def definition(key):
    pkg, tname = key
    return 'io.k8s.' + pkg[len('k8s.io/'):].replace('/', '.') + '.' + tname


# Not linked into kubectl: the tagged fields of apiextensions-apiserver and kube-aggregator
# (from their Go definitions), as (definition, json field, strategy, merge key, target).
MANUAL = []
for v in ['v1', 'v1beta1']:
    MANUAL.append(('io.k8s.kube-aggregator.pkg.apis.apiregistration.%s.APIServiceStatus' % v,
                   'conditions', 'merge', 'type', None))


def main():
    structs = go_structs(BINARY)
    defs = {}  # definition -> {field: (strategy, merge key, target definition)}
    for key, fields in structs.items():
        d = defs.setdefault(definition(key), {})
        pending = list(fields)
        seen = set()
        while pending:  # inline (embedded) structs contribute their fields
            jname, tag, tgt, inline = pending.pop(0)
            if inline:
                if tgt in structs and tgt not in seen:
                    seen.add(tgt)
                    pending.extend(structs[tgt])
                continue
            if not jname or jname == '-':
                continue
            s = re.search(r'patchStrategy:"([^"]*)"', tag)
            m = re.search(r'patchMergeKey:"([^"]*)"', tag)
            d[jname] = (s.group(1) if s else '', m.group(1) if m else '',
                        definition(tgt) if tgt else None)
    for dname, field, strategy, mkey, tgt in MANUAL:
        defs.setdefault(dname, {})[field] = (strategy, mkey, tgt)
    # Keep the definitions that have a strategy somewhere below them.
    interesting = {d for d, fs in defs.items() if any(s for s, _, _ in fs.values())}
    while True:
        more = {d for d, fs in defs.items()
                if d not in interesting and any(t in interesting for _, _, t in fs.values())}
        if not more:
            break
        interesting |= more
    print(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'strategies.rs')).read()
          .split('pub(super) static DEFINITIONS')[0], end='')
    print('pub(super) static DEFINITIONS: &[(&str, &[Field])] = &[')
    for d in sorted(interesting):
        rows = []
        for fname in sorted(defs[d]):
            s, m, t = defs[d][fname]
            t = t if t in interesting else None
            if not s and not t:
                continue
            rows.append('        f("%s", "%s", "%s", "%s"),' % (fname, s, m, t or ''))
        print('    ("%s", &[' % d)
        print('\n'.join(rows))
        print('    ]),')
    print('];')


main()
