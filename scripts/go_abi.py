"""Reads the struct types a Go program links from its runtime type metadata.

Used by the generators that take facts about the Kubernetes API types from the kubectl binary
(`crates/apiserver/src/protobuf/go_fields_gen.py`, `crates/api/src/patch/strategies_gen.py`).
Works on a non-PIE, statically linked amd64 ELF built by Go >= 1.21: every struct type has an
`abi.StructType` in .rodata whose fields carry their names, types and tags.
"""
import re
import struct
from array import array

K_ARRAY, K_MAP, K_PTR, K_SLICE, K_STRUCT = 17, 21, 22, 23, 25


class GoBinary:
    """The .rodata of a Go binary and readers for the abi types in it."""

    def __init__(self, path):
        f = open(path, 'rb').read()
        shoff = struct.unpack_from('<Q', f, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from('<HHH', f, 0x3a)
        hdr = lambda i: struct.unpack_from('<IIQQQQIIQQ', f, shoff + i * shentsize)
        strtab = hdr(shstrndx)[4]
        secs = {f[strtab + h[0]:].split(b'\0', 1)[0].decode(): h for h in map(hdr, range(shnum))}
        self.base, off, self.size = secs['.rodata'][3], secs['.rodata'][4], secs['.rodata'][5]
        self.ro = f[off:off + self.size]
        self.qs = array('Q')
        self.qs.frombytes(self.ro[:len(self.ro) // 8 * 8])

    def rd(self, addr, n):
        """`n` bytes at virtual address `addr`, None outside .rodata."""
        if self.base <= addr < self.base + self.size:
            return self.ro[addr - self.base:addr - self.base + n]
        return None

    def q(self, addr):
        """The 8-byte word at `addr` (0 outside .rodata)."""
        b = self.rd(addr, 8)
        return struct.unpack('<Q', b)[0] if b else 0

    @staticmethod
    def varint(b, i):
        v = s = 0
        while True:
            c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
            if c < 0x80:
                return v, i

    def name(self, addr, want_ident=True):
        """An abi.Name (flags, varint length, bytes[, varint tag length, tag]) as (text, tag)."""
        b = self.rd(addr, 700)
        if not b or len(b) < 3 or b[0] > 0x0f:
            return None
        try:
            n, i = self.varint(b, 1)
            text = b[i:i + n]
            if want_ident and (n == 0 or not re.fullmatch(rb'[A-Za-z_][A-Za-z0-9_]*', text)):
                return None
            i += n
            tag = ''
            if b[0] & 2:
                t, i = self.varint(b, i)
                tag = b[i:i + t].decode('latin1')
            return text.decode('latin1'), tag
        except IndexError:
            return None

    def kind(self, t):
        """The abi.Kind of type `t` (0 when unreadable)."""
        b = self.rd(t, 48)
        return b[23] & 0x1f if b else 0

    def type_name(self, t):
        """The type's printed name (abi.Type.Str, a NameOff from the start of .rodata)."""
        b = self.rd(t, 48)
        n = self.name(self.base + struct.unpack_from('<i', b, 40)[0], False)
        s = n[0] if n else '?'
        return s[1:] if (b[20] & 2) and s.startswith('*') else s

    def struct_key(self, t):
        """(package path, type name) of a named struct type, else None."""
        tb = self.rd(t, 48)
        if not tb or self.kind(t) != K_STRUCT or not tb[20] & 1:
            return None
        # Named types have an abi.UncommonType right after the StructType: PkgPath NameOff.
        pkg = self.name(self.base + struct.unpack_from('<i', self.rd(t + 80, 4), 0)[0], False)
        return (pkg[0] if pkg else '', self.type_name(t).split('.', 1)[-1])

    def structs(self):
        """Every struct type whose fields all decode: (type address, [(name, tag, type)])."""
        qs, base, size = self.qs, self.base, self.size
        # abi.StructType: Type (48 bytes), PkgPath (8), Fields slice {ptr, len, cap} at +56.
        for idx in range(len(qs) - 3):
            p, n, c = qs[idx], qs[idx + 1], qs[idx + 2]
            if n == 0 or n != c or n > 300 or not (base <= p < base + size) or (p - base) % 8:
                continue
            t = base + idx * 8 - 56
            tb = self.rd(t, 48)
            if not tb or (tb[23] & 0x1f) != K_STRUCT:
                continue
            first = (p - base) // 8
            fields = []
            for k in range(n):  # abi.StructField: Name (8), Typ (8), Offset (8)
                nm = self.name(qs[first + 3 * k]) if first + 3 * k + 1 < len(qs) else None
                ft = qs[first + 3 * k + 1] if nm else 0
                if not nm or not self.rd(ft, 48):
                    fields = None
                    break
                fields.append((nm[0], nm[1], ft))
            if fields:
                yield t, fields
