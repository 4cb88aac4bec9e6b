//! The protobuf wire format: varints, field keys and the four wire types Kubernetes uses.
//! Every read is bounds-checked; malformed input is an error, never a panic.

use super::ProtobufError;

/// One field's value as it is on the wire, before the schema gives it a type.
#[derive(Clone, Copy, Debug)]
pub(super) enum WireValue<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, embedded messages, packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl WireValue<'_> {
    /// The wire type number, for error messages.
    pub(super) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => 0,
            WireValue::Fixed64(_) => 1,
            WireValue::Bytes(_) => 2,
            WireValue::Fixed32(_) => 5,
        }
    }
}

/// Reads the fields of one encoded message in order.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Whether every byte has been read.
    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next field's number and value, or `None` at the end of the message.
    pub(super) fn field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, ProtobufError> {
        if self.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(MAX_FIELD_NUMBER) {
            return Err(ProtobufError::InvalidFieldNumber(number));
        }
        let number = number as u32;
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| ProtobufError::Truncated)?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.take_array()?)),
            other => return Err(ProtobufError::UnsupportedWireType(other as u8)),
        };
        Ok(Some((number, value)))
    }

    /// A base-128 varint of at most 10 bytes.
    pub(super) fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self.buf.get(self.pos).ok_or(ProtobufError::Truncated)?;
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(ProtobufError::MalformedVarint);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(ProtobufError::MalformedVarint)
    }

    pub(super) fn take(&mut self, len: usize) -> Result<&'a [u8], ProtobufError> {
        let end = self.pos.checked_add(len).ok_or(ProtobufError::Truncated)?;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or(ProtobufError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    pub(super) fn take_array<const N: usize>(&mut self) -> Result<[u8; N], ProtobufError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

/// The largest field number protobuf allows.
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys() {
        // field 1 varint 300, field 2 bytes "hi", field 3 fixed32 7, field 4 fixed64 9
        let data = [
            0x08, 0xac, 0x02, 0x12, 0x02, b'h', b'i', 0x1d, 7, 0, 0, 0, 0x21, 9, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let mut r = Reader::new(&data);
        assert!(matches!(
            r.field().unwrap(),
            Some((1, WireValue::Varint(300)))
        ));
        assert!(matches!(
            r.field().unwrap(),
            Some((2, WireValue::Bytes(b"hi")))
        ));
        assert!(matches!(
            r.field().unwrap(),
            Some((3, WireValue::Fixed32(7)))
        ));
        assert!(matches!(
            r.field().unwrap(),
            Some((4, WireValue::Fixed64(9)))
        ));
        assert!(r.field().unwrap().is_none());
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            &[0x08][..],                           // varint value missing
            &[0x08, 0x80],                         // varint cut short
            &[0x12, 0x05, b'a'],                   // length past the end
            &[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f], // huge length
            &[0x0b],                               // group start (wire type 3)
            &[0x00],                               // field number 0
            &[0x1d, 1, 2],                         // fixed32 cut short
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ], // varint > 64 bits
        ] {
            let mut r = Reader::new(bad);
            assert!(r.field().is_err(), "{bad:?}");
        }
    }
}
