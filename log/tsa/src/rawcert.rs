//! The exact bytes of a certificate's parts. The reply copies the leaf's
//! issuer and subject Names and its serial INTEGER verbatim (verifiers
//! such as sigstore-js match them byte for byte), so they are cut out of
//! the certificate's DER, never re-encoded.

/// One DER element: its tag, its whole encoding and its content.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tlv<'a> {
    /// The (single-octet) tag.
    pub(crate) tag: u8,
    /// Tag, length and content.
    pub(crate) whole: &'a [u8],
    /// The content octets.
    pub(crate) content: &'a [u8],
}

/// Splits the first DER element off `input`: single-octet tags,
/// definite lengths in their minimal form. Returns it and the rest.
pub(crate) fn split(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-octet tags never occur here
    }
    let (&first, after_len) = after_tag.split_first()?;
    let (len, header_len) = if first < 0x80 {
        (usize::from(first), 2usize)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > std::mem::size_of::<usize>() {
            return None;
        }
        let octets = after_len.get(..count)?;
        if octets[0] == 0 {
            return None; // not minimal
        }
        let len = octets
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return None; // short form required
        }
        (len, count.checked_add(2)?)
    };
    let end = header_len.checked_add(len)?;
    let whole = input.get(..end)?;
    let content = whole.get(header_len..)?;
    Some((
        Tlv {
            tag,
            whole,
            content,
        },
        input.get(end..)?,
    ))
}

/// The parts of a certificate the reply and the chain checks need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawCert<'a> {
    /// The whole TBSCertificate (the signed bytes).
    pub(crate) tbs: &'a [u8],
    /// The serialNumber INTEGER (whole TLV).
    pub(crate) serial: &'a [u8],
    /// The issuer Name (whole TLV).
    pub(crate) issuer: &'a [u8],
    /// The subject Name (whole TLV).
    pub(crate) subject: &'a [u8],
}

impl<'a> RawCert<'a> {
    /// Cuts a DER certificate into its parts; `None` if it is not shaped
    /// as `SEQUENCE { SEQUENCE { [0]? INTEGER SEQUENCE Name Validity Name … } … }`.
    pub(crate) fn parse(der: &'a [u8]) -> Option<RawCert<'a>> {
        let (cert, rest) = split(der)?;
        if cert.tag != 0x30 || !rest.is_empty() {
            return None;
        }
        let (tbs, _) = split(cert.content)?;
        if tbs.tag != 0x30 {
            return None;
        }
        let mut fields = tbs.content;
        let (mut next, mut after) = split(fields)?;
        if next.tag == 0xA0 {
            fields = after;
            (next, after) = split(fields)?;
        }
        let serial = next;
        let (signature, after) = split(after)?;
        let (issuer, after) = split(after)?;
        let (validity, after) = split(after)?;
        let (subject, _) = split(after)?;
        let shaped = serial.tag == 0x02
            && signature.tag == 0x30
            && issuer.tag == 0x30
            && validity.tag == 0x30
            && subject.tag == 0x30;
        shaped.then_some(RawCert {
            tbs: tbs.whole,
            serial: serial.whole,
            issuer: issuer.whole,
            subject: subject.whole,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reads_short_and_long_lengths() {
        let short = [0x04, 0x02, 0xaa, 0xbb, 0xff];
        let (tlv, rest) = split(&short).expect("short form");
        assert_eq!(tlv.content, &[0xaa, 0xbb]);
        assert_eq!(rest, &[0xff]);
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        let (tlv, rest) = split(&long).expect("long form");
        assert_eq!(tlv.content.len(), 0x80);
        assert!(rest.is_empty());
    }

    #[test]
    fn split_refuses_non_minimal_and_truncated() {
        assert!(split(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).is_none());
        assert!(split(&[0x04, 0x82, 0x00, 0x80]).is_none());
        assert!(split(&[0x04, 0x03, 1, 2]).is_none());
        assert!(split(&[0x04, 0x80]).is_none());
        assert!(split(&[0x1f, 0x01, 0x00]).is_none());
        assert!(split(&[]).is_none());
    }
}
