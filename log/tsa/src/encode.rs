//! A minimal DER writer for the reply: tag, definite minimal length,
//! content. The reply is assembled from pieces that must stay byte-exact
//! (the leaf's Name copied verbatim, the request's imprint and nonce), so
//! it is written as TLVs rather than through typed structures.

use der::Encode;
use der::asn1::ObjectIdentifier;

/// Tag of a SEQUENCE.
pub(crate) const SEQUENCE: u8 = 0x30;
/// Tag of a SET.
pub(crate) const SET: u8 = 0x31;
/// Tag of an INTEGER.
pub(crate) const INTEGER: u8 = 0x02;
/// Tag of an OCTET STRING.
pub(crate) const OCTET_STRING: u8 = 0x04;
/// Tag of a BIT STRING.
pub(crate) const BIT_STRING: u8 = 0x03;
/// Tag of a UTF8String.
pub(crate) const UTF8_STRING: u8 = 0x0C;
/// Tag of `[0]` constructed (EXPLICIT or IMPLICIT over a constructed type).
pub(crate) const CONTEXT_0: u8 = 0xA0;
/// Tag of `[4]` constructed (GeneralName directoryName, EXPLICIT over Name).
pub(crate) const CONTEXT_4: u8 = 0xA4;

/// One TLV: `tag`, the DER length of the concatenated `parts`, the parts.
pub(crate) fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    push_length(&mut out, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// Appends the DER length octets of `len` (short form below 128, else the
/// minimal long form).
fn push_length(out: &mut Vec<u8>, len: usize) {
    if let Ok(short) = u8::try_from(len)
        && short < 0x80
    {
        out.push(short);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    // At most size_of::<usize>() octets, far below 0x7f.
    let count = u8::try_from(significant.len()).unwrap_or(0x7f);
    out.push(0x80 | count);
    out.extend_from_slice(significant);
}

/// A SEQUENCE of the given encoded elements.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, parts)
}

/// A DER SET OF: the elements sorted by their encodings (X.690 §11.6),
/// with `tag` (0x31 for SET, or an IMPLICIT context tag).
pub(crate) fn set_of(tag: u8, mut elements: Vec<Vec<u8>>) -> Vec<u8> {
    elements.sort();
    let parts: Vec<&[u8]> = elements.iter().map(Vec::as_slice).collect();
    tlv(tag, &parts)
}

/// An OBJECT IDENTIFIER.
pub(crate) fn oid(oid: &ObjectIdentifier) -> Vec<u8> {
    tlv(0x06, &[oid.as_bytes()])
}

/// An AlgorithmIdentifier with absent parameters.
pub(crate) fn algorithm(id: &ObjectIdentifier) -> Vec<u8> {
    sequence(&[&oid(id)])
}

/// A non-negative INTEGER from big-endian magnitude bytes: leading zero
/// octets are dropped and one is added back when the top bit is set, so
/// the encoding is minimal and the value positive.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let significant = &magnitude[skip..];
    match significant.first() {
        None => tlv(INTEGER, &[&[0]]),
        Some(b) if b & 0x80 != 0 => tlv(INTEGER, &[&[0], significant]),
        Some(_) => tlv(INTEGER, &[significant]),
    }
}

/// The DER of a `der` value that cannot fail to encode (times, small
/// values); an encoding failure yields `None`.
pub(crate) fn der_of(value: &impl Encode) -> Option<Vec<u8>> {
    value.to_der().ok()
}

/// A named-bit BIT STRING with exactly bit `bit` set (bit 0 is the most
/// significant bit of the first octet), trailing zero bits removed as DER
/// requires for named bits: e.g. bit 0 is `03 02 07 80`.
pub(crate) fn single_bit_string(bit: u8) -> Vec<u8> {
    let index = usize::from(bit / 8);
    let shift = bit % 8;
    let mut content = vec![0u8; index + 2];
    content[0] = 7 - shift;
    content[index + 1] = 0x80 >> shift;
    tlv(BIT_STRING, &[&content])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_minimal() {
        assert_eq!(tlv(0x04, &[&[1; 0x7f]])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[&[1; 0x80]])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[&[1; 0x100]])[..4], [0x04, 0x82, 0x01, 0x00]);
    }

    #[test]
    fn integers_are_minimal_and_positive() {
        assert_eq!(unsigned_integer(&[]), [2, 1, 0]);
        assert_eq!(unsigned_integer(&[0, 0, 0]), [2, 1, 0]);
        assert_eq!(unsigned_integer(&[0, 0x7f]), [2, 1, 0x7f]);
        assert_eq!(unsigned_integer(&[0, 0, 0x80]), [2, 2, 0, 0x80]);
    }

    #[test]
    fn failure_bits_as_openssl_reads_them() {
        // Values from RFC 3161 §2.4.2 PKIFailureInfo.
        assert_eq!(single_bit_string(0), [0x03, 0x02, 0x07, 0x80]);
        assert_eq!(single_bit_string(2), [0x03, 0x02, 0x05, 0x20]);
        assert_eq!(single_bit_string(5), [0x03, 0x02, 0x02, 0x04]);
        assert_eq!(single_bit_string(14), [0x03, 0x03, 0x01, 0x00, 0x02]);
        assert_eq!(single_bit_string(15), [0x03, 0x03, 0x00, 0x00, 0x01]);
        assert_eq!(single_bit_string(16), [0x03, 0x04, 0x07, 0x00, 0x00, 0x80]);
        assert_eq!(
            single_bit_string(25),
            [0x03, 0x05, 0x06, 0x00, 0x00, 0x00, 0x40]
        );
    }
}
