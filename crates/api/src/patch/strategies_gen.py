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
import os, re, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../../scripts'))
from go_abi import GoBinary, K_ARRAY, K_MAP, K_PTR, K_SLICE, K_STRUCT  # noqa: E402

BINARY = sys.argv[1] if len(sys.argv) > 1 else '/usr/lib/google-cloud-sdk/bin/kubectl.1.33'


def go_structs(path):
    """{(package path, type name): [(json name, tags, target (package, name) or None, inline)]}."""
    go = GoBinary(path)

    def target(t):
        """The named struct a field's values are (through pointers, slices, arrays, maps)."""
        for _ in range(4):
            k = go.kind(t)
            if k == K_STRUCT:
                return go.struct_key(t)
            if k in (K_PTR, K_SLICE, K_ARRAY):
                t = go.q(t + 48)
            elif k == K_MAP:
                t = go.q(t + 56)
            else:
                return None
        return None

    out = {}
    for t, raw in go.structs():
        fields = []
        for fname, tag, ft in raw:
            j = re.search(r'json:"([^"]*)"', tag)
            jparts = j.group(1).split(',') if j else [fname]
            fields.append((jparts[0], tag, target(ft), jparts[0] == '' and 'inline' in jparts[1:]))
        if not any('protobuf:"' in x[1] for x in fields):
            continue
        key = go.struct_key(t)
        if key and key[0].startswith('k8s.io/'):
            out[key] = fields
    return out


def definition(key):
    pkg, tname = key
    return 'io.k8s.' + pkg[len('k8s.io/'):].replace('/', '.') + '.' + tname


# Not linked into kubectl: the tagged fields of apiextensions-apiserver and kube-aggregator
# (from their Go definitions), as (definition, json field, strategy, merge key, target).
MANUAL = [
    # CustomResourceDefinitions have no tagged fields; listed so their metadata patches as
    # ObjectMeta (finalizers, ownerReferences) and the kind is known.
    ('io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition',
     'metadata', '', '', 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'),
    ('io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionList',
     'items', '', '', 'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition'),
]
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
