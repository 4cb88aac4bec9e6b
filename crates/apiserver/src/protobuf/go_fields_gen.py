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
import glob, os, re, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../../scripts'))
from go_abi import GoBinary, K_PTR  # noqa: E402

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
    """{(go package path, type name): [(field name, tag, kind, pointee kind, type name)]}."""
    go = GoBinary(path)
    kind = lambda t: KIND.get(go.kind(t), '?')
    out = {}
    for t, raw in go.structs():
        fields = [(fname, tag, kind(ft), kind(go.q(ft + 48)) if go.kind(ft) == K_PTR else None,
                   go.type_name(ft)) for fname, tag, ft in raw]
        key = go.struct_key(t)  # None for unnamed structs
        if key and any('protobuf:"' in x[1] for x in fields):
            out[key] = fields
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
