#!/usr/bin/env python3
"""Regenerates go_fields.rs: the protobuf fields whose zero value Go's JSON keeps.

Go's protobuf encoding of Kubernetes objects writes every non-pointer scalar, so a zero on the
wire may mean "unset". What tells them apart is the Go struct: pointer fields, and value fields
without `omitempty`, keep their zero in JSON. That is read here from a Go binary that links the
Kubernetes API types (kubectl): its type metadata has every struct's fields with their kinds and
their `json`/`protobuf` tags. Only facts (message and field names) are written out.

Usage (it reuses the header of the current go_fields.rs, so write elsewhere first):
  python3 go_fields_gen.py [/usr/bin/kubectl] > /tmp/go_fields.rs && mv /tmp/go_fields.rs go_fields.rs
(a non-PIE, statically linked amd64 Go >= 1.21 ELF binary; checked against the protos of the
k8s-rs-pb crate in cargo's registry cache, which build.rs compiles).
"""
import glob, os, re, struct, sys
from array import array

BINARY = sys.argv[1] if len(sys.argv) > 1 else '/usr/bin/kubectl'
PROTOS = glob.glob(os.path.expanduser('~/.cargo/registry/src/*/k8s-rs-pb-0.5.0/src/v1_33'))[0]
KIND = {1: 'bool', 2: 'int', 3: 'int8', 4: 'int16', 5: 'int32', 6: 'int64', 7: 'uint', 8: 'uint8',
        9: 'uint16', 10: 'uint32', 11: 'uint64', 13: 'float32', 14: 'float64', 21: 'map', 22: 'ptr',
        23: 'slice', 24: 'string', 25: 'struct'}
SCALAR_KINDS = {'bool', 'int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16',
                'uint32', 'uint64', 'float32', 'float64', 'string'}
PROTO_SCALARS = {'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
                 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes'}


def go_structs(path):
    """{(go package path, type name): [(field name, tag, kind, pointee kind)]} from type metadata."""
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
        return KIND.get(b[23] & 0x1f, '?') if b else '?'

    def type_name(t):  # abi.Type.Str is a NameOff from the start of the types (.rodata)
        b = rd(t, 48)
        n = name(base + struct.unpack_from('<i', b, 40)[0], False)
        s = n[0] if n else '?'
        return s[1:] if (b[20] & 2) and s.startswith('*') else s

    qs = array('Q'); qs.frombytes(ro[:len(ro) // 8 * 8])
    out = {}
    # abi.StructType: Type (48 bytes), PkgPath (8), Fields slice {ptr, len, cap} at +56.
    for idx in range(len(qs) - 3):
        p, n, c = qs[idx], qs[idx + 1], qs[idx + 2]
        if n == 0 or n != c or n > 300 or not (base <= p < base + size) or (p - base) % 8:
            continue
        t = base + idx * 8 - 56
        tb = rd(t, 48)
        if not tb or (tb[23] & 0x1f) != 25:
            continue
        first = (p - base) // 8
        fields = []
        for k in range(n):  # abi.StructField: Name (8), Typ (8), Offset (8)
            nm = name(qs[first + 3 * k]) if first + 3 * k + 1 < len(qs) else None
            ft = qs[first + 3 * k + 1] if nm else 0
            if not nm or not rd(ft, 48):
                fields = None
                break
            fk = kind(ft)
            pointee = kind(struct.unpack_from('<Q', rd(ft, 56), 48)[0]) if fk == 'ptr' else None
            fields.append((nm[0], nm[1], fk, pointee, type_name(ft)))
        if not fields or not any('protobuf:"' in x[1] for x in fields) or not tb[20] & 1:
            continue
        # Named types have an abi.UncommonType right after the StructType: PkgPath NameOff.
        pkg = name(base + struct.unpack_from('<i', rd(t + 80, 4), 0)[0], False)
        out[(pkg[0] if pkg else '', type_name(t).split('.', 1)[-1])] = fields
    return out


def proto_messages():
    """{message full name: {field name: (label, type)}} from the .proto files."""
    msgs = {}
    for path in glob.glob(PROTOS + '/**/*.proto', recursive=True):
        text = open(path).read()
        pkg = re.search(r'^package\s+([\w.]+);', text, re.M).group(1)
        for m in re.finditer(r'^message\s+(\w+)\s*\{(.*?)^\}', text, re.M | re.S):
            msgs[pkg + '.' + m.group(1)] = {
                f.group(3): (f.group(1), f.group(2)) for f in re.finditer(
                    r'^\s*(optional|repeated)\s+([\w.<>, ]+?)\s+(\w+)\s*=\s*(\d+);', m.group(2), re.M)}
    return msgs


# Not linked into kubectl: from the Go definitions of apiextensions-apiserver and kube-aggregator.
MANUAL = {}
for v in ['v1', 'v1beta1']:
    p = 'apiextensions_apiserver.pkg.apis.apiextensions.' + v + '.'
    MANUAL.update({
        p + 'CustomResourceDefinitionSpec': ['group', 'scope'],
        p + 'CustomResourceDefinitionVersion': ['deprecationWarning', 'name', 'served', 'storage'],
        p + 'CustomResourceDefinitionNames': ['kind', 'plural'],
        p + 'CustomResourceColumnDefinition': ['jsonPath' if v == 'v1' else 'JSONPath', 'name', 'type'],
        p + 'CustomResourceConversion': ['strategy'],
        p + 'WebhookClientConfig': ['url'],
        p + 'ServiceReference': ['name', 'namespace', 'path', 'port'],
        p + 'CustomResourceSubresourceScale': ['labelSelectorPath', 'specReplicasPath', 'statusReplicasPath'],
        p + 'CustomResourceDefinitionCondition': ['status', 'type'],
        p + 'JSONSchemaProps': ['maxItems', 'maxLength', 'maxProperties', 'maximum', 'minItems',
                                'minLength', 'minProperties', 'minimum', 'multipleOf', 'ref',
                                'xKubernetesListType', 'xKubernetesMapType',
                                'xKubernetesPreserveUnknownFields'],
        p + 'ValidationRule': ['optionalOldSelf', 'reason', 'rule'],
        p + 'SelectableField': ['jsonPath'],
    })
    q = 'kube_aggregator.pkg.apis.apiregistration.' + v + '.'
    MANUAL.update({
        q + 'APIServiceSpec': ['groupPriorityMinimum', 'versionPriority'],
        q + 'ServiceReference': ['port'],
        q + 'APIServiceCondition': ['status', 'type'],
    })
MANUAL['api.discovery.v1.ForNode'] = ['name']
MANUAL['api.discovery.v1beta1.ForNode'] = ['name']


def main():
    protos = proto_messages()
    keep = {}
    for (pkg, tname), fields in go_structs(BINARY).items():
        if not pkg.startswith('k8s.io/'):
            continue
        if pkg.startswith('k8s.io/api/'):
            proto_pkg = 'api.' + pkg[len('k8s.io/api/'):].replace('/', '.')
        else:
            proto_pkg = pkg[len('k8s.io/'):].replace('/', '.').replace('-', '_')
        msg = proto_pkg + '.' + tname
        for (_, tag, kind, pointee, tn) in fields:
            m = re.search(r'protobuf:"([^"]*)"', tag)
            parts = m.group(1).split(',') if m else []
            pname = next((x[5:] for x in parts if x.startswith('name=')), None)
            if pname is None:
                continue
            j = re.search(r'json:"([^"]*)"', tag)
            omitempty = bool(j) and 'omitempty' in j.group(1).split(',')[1:]
            pointer = kind == 'ptr' and pointee in SCALAR_KINDS
            value = (kind in SCALAR_KINDS or tn == '[]uint8') and not omitempty and 'rep' not in parts
            pf = protos.get(msg, {}).get(pname)
            if (pointer or value) and pf and pf[0] == 'optional' and pf[1] in PROTO_SCALARS:
                keep.setdefault(msg, set()).add(pname)
    for msg, fields in MANUAL.items():
        keep.setdefault(msg, set()).update(fields)
    print(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'go_fields.rs')).read()
          .split('pub(super) static KEEP_ZERO')[0], end='')
    print('pub(super) static KEEP_ZERO: &[(&str, &[&str])] = &[')
    for msg in sorted(keep):
        print('    ("%s", &[%s]),' % (msg, ', '.join('"%s"' % f for f in sorted(keep[msg]))))
    print('];')


main()
