//! Unit tests of the parent module.

#![allow(clippy::unwrap_used)]
use super::{
    FRAME_CONTENT_BYTES, FrameReader, FrameWriter, INLINE_CHUNK_BYTES, MAX_POOLED_FRAME_BYTES,
    MAX_POOLED_FRAME_COMPRESSED_BYTES, refusal,
};
use crate::ZSTD_WINDOW_LOG_MAX;
use std::io::Write;

/// Bytes that compress a little, from `seed`.
fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 3 == 0 {
                b'a'
            } else {
                x.to_le_bytes()[0] % 16
            }
        })
        .collect()
}

/// Every chunk the reader gives for `file`, or its error message.
fn chunks(file: &[u8]) -> Result<Vec<bytes::Bytes>, String> {
    let mut reader = FrameReader::new(file).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        match reader.next_chunk() {
            Ok(Some(c)) => out.push(c),
            Ok(None) => return Ok(out),
            Err(e) => return Err(refusal(&e).unwrap_or_else(|| e.to_string())),
        }
    }
}

fn joined(chunks: &[bytes::Bytes]) -> Vec<u8> {
    chunks.iter().flat_map(|c| c.iter().copied()).collect()
}

/// The content sizes of the frames of `file`, as libzstd reads them.
fn frame_sizes(mut file: &[u8]) -> Vec<u64> {
    let mut sizes = Vec::new();
    while !file.is_empty() {
        let len = zstd::zstd_safe::find_frame_compressed_size(file).unwrap();
        sizes.push(
            zstd::zstd_safe::get_frame_content_size(&file[..len])
                .unwrap()
                .unwrap(),
        );
        file = &file[len..];
    }
    sizes
}

fn written(data: &[u8], piece: usize, cut_at: Option<usize>) -> Vec<u8> {
    let mut w = FrameWriter::new(Vec::new(), 3).unwrap();
    let mut at = 0;
    while at < data.len() {
        let end = (at + piece).min(data.len());
        let end = match cut_at {
            Some(c) if at < c && c < end => c,
            _ => end,
        };
        w.write_all(&data[at..end]).unwrap();
        at = end;
        if Some(at) == cut_at {
            w.end_frame().unwrap();
        }
    }
    w.finish().unwrap()
}

#[test]
fn frames_are_cut_at_fixed_offsets_whatever_the_sizes_of_the_writes() {
    let data = sample(2 * FRAME_CONTENT_BYTES + 12_345, 1);
    let one = written(&data, data.len(), None);
    assert_eq!(one, written(&data, 7919, None));
    assert_eq!(one, written(&data, 1 << 20, None));
    let f = FRAME_CONTENT_BYTES as u64;
    assert_eq!(frame_sizes(&one), vec![f, f, 12_345]);
    assert_eq!(zstd::decode_all(one.as_slice()).unwrap(), data);
    // An early cut starts a new count.
    let cut = written(&data, 7919, Some(1000));
    assert_eq!(cut, written(&data, 65_536, Some(1000)));
    assert_eq!(frame_sizes(&cut), vec![1000, f, f, 12_345 - 1000]);
    assert_eq!(joined(&chunks(&cut).unwrap()), data);
}

#[test]
fn frames_up_to_the_pooled_size_come_whole_and_larger_ones_in_pieces() {
    for (len, pooled) in [
        (MAX_POOLED_FRAME_BYTES, true),
        (MAX_POOLED_FRAME_BYTES + 1, false),
    ] {
        let data = sample(usize::try_from(len).unwrap(), 2);
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
            .unwrap();
        let frame = c.compress(&data).unwrap();
        assert_eq!(frame_sizes(&frame), vec![len]);
        let got = chunks(&frame).unwrap();
        assert_eq!(joined(&got), data, "{len}");
        if pooled {
            assert_eq!(got.len(), 1, "{len}");
        } else {
            assert!(got.len() > 1, "{len}");
            assert!(got.iter().all(|c| c.len() <= INLINE_CHUNK_BYTES));
        }
    }
    // A frame without a content size (streamed) is decoded here too.
    let data = sample(3 << 20, 3);
    let streamed = zstd::encode_all(data.as_slice(), 3).unwrap();
    let got = chunks(&streamed).unwrap();
    assert!(got.len() > 1);
    assert_eq!(joined(&got), data);
}

/// A frame of `content` in raw blocks (at most 128 KiB each), padded
/// with empty raw blocks so that it is exactly `len` bytes before its
/// last (empty) block; the header grows by 0 to 2 bytes of dictionary
/// ID (0, no dictionary) to make that length reachable.
fn padded_frame(content: &[u8], len: usize) -> Vec<u8> {
    let blocks = content.len().div_ceil(128 * 1024);
    let base = 4 + 1 + 4 + content.len() + 3 * blocks;
    let dictionary = (len - base) % 3;
    let dictionary_flag = [0u8, 1, 2][dictionary];
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    // Content size in 4 bytes, single segment, no checksum.
    f.push(0b1010_0000 | dictionary_flag);
    f.extend(std::iter::repeat_n(0, dictionary));
    f.extend_from_slice(&u32::try_from(content.len()).unwrap().to_le_bytes());
    for piece in content.chunks(128 * 1024) {
        let header = u32::try_from(piece.len() << 3).unwrap();
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.extend_from_slice(piece);
    }
    while f.len() < len {
        f.extend_from_slice(&[0, 0, 0]);
    }
    assert_eq!(f.len(), len);
    f.extend_from_slice(&[1, 0, 0]);
    f
}

#[test]
fn a_frame_padded_past_the_compressed_cap_is_decoded_here_and_reads_the_same() {
    let data = sample(FRAME_CONTENT_BYTES, 4);
    for (len, pooled) in [
        (MAX_POOLED_FRAME_COMPRESSED_BYTES, true),
        (MAX_POOLED_FRAME_COMPRESSED_BYTES + 1, false),
    ] {
        let frame = padded_frame(&data, len);
        assert_eq!(zstd::decode_all(frame.as_slice()).unwrap(), data);
        let got = chunks(&frame).unwrap();
        assert_eq!(joined(&got), data, "{len}");
        assert_eq!(got.len() == 1, pooled, "{len}: {} chunks", got.len());
    }
}

/// A frame whose window descriptor is `descriptor`, holding `content`
/// in one raw block, with a 2-byte content size when `sized`.
fn windowed_frame(descriptor: u8, content: &[u8], sized: bool) -> Vec<u8> {
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    f.push(if sized { 0b0100_0000 } else { 0 });
    f.push(descriptor);
    if sized {
        let size = u16::try_from(content.len() - 256).unwrap();
        f.extend_from_slice(&size.to_le_bytes());
    }
    let header = u32::try_from((content.len() << 3) | 1).unwrap();
    f.extend_from_slice(&header.to_le_bytes()[..3]);
    f.extend_from_slice(content);
    f
}

#[test]
fn windows_are_accepted_up_to_the_limit_in_both_paths() {
    let content = sample(1000, 5);
    // Exponent 14: 2^24 bytes; mantissa 1 adds an eighth.
    let at_limit = u8::try_from(ZSTD_WINDOW_LOG_MAX - 10).unwrap() << 3;
    for sized in [true, false] {
        let ok = windowed_frame(at_limit, &content, sized);
        assert_eq!(joined(&chunks(&ok).unwrap()), content, "sized {sized}");
        let over = windowed_frame(at_limit | 1, &content, sized);
        let e = chunks(&over).unwrap_err();
        assert!(e.contains("zstd window is larger"), "sized {sized}: {e}");
    }
    // A single-segment frame's window is its content size.
    let mut f = 0xFD2F_B528u32.to_le_bytes().to_vec();
    f.push(0b1010_0000);
    f.extend_from_slice(&((1u32 << ZSTD_WINDOW_LOG_MAX) + 1).to_le_bytes());
    f.extend_from_slice(&[1, 0, 0]);
    let e = chunks(&f).unwrap_err();
    assert!(e.contains("zstd window is larger"), "{e}");
}

#[test]
fn broken_frames_are_refused_with_what_is_wrong() {
    let data = sample(300_000, 6);
    let good = written(&data, data.len(), None);
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push(("empty file", Vec::new(), "the file is empty"));
    cases.push(("not zstd", b"PK\x03\x04".to_vec(), "not zstd"));
    cases.push((
        "truncated",
        good[..good.len() / 2].to_vec(),
        "ends inside a zstd frame",
    ));
    let mut garbage = good.clone();
    garbage.extend_from_slice(b"garbage!");
    cases.push(("garbage after", garbage, "which is not a zstd frame"));
    let mut lying = good.clone();
    // Content size (4 bytes after the header byte) one less.
    let declared = u32::from_le_bytes(lying[5..9].try_into().unwrap());
    lying[5..9].copy_from_slice(&(declared - 1).to_le_bytes());
    cases.push(("content size one short", lying, "cannot be decoded"));
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    cases.push(("a flipped bit", flipped, "cannot be decoded"));
    let mut reserved = windowed_frame(0, &[7; 300], true);
    reserved[8] |= 0b110;
    cases.push(("reserved block type", reserved, "reserved block type"));
    let mut reserved_bit = good.clone();
    reserved_bit[4] |= 0x08;
    cases.push(("reserved header bit", reserved_bit, "reserved bit"));
    for (name, file, expect) in cases {
        let e = chunks(&file).unwrap_err();
        assert!(e.contains(expect), "{name}: {e:?} does not say {expect:?}");
    }
}

#[test]
fn skippable_frames_are_skipped() {
    let data = sample(10_000, 7);
    let mut file = 0x184D_2A53u32.to_le_bytes().to_vec();
    file.extend_from_slice(&5u32.to_le_bytes());
    file.extend_from_slice(b"hello");
    file.extend(written(&data, data.len(), None));
    file.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(joined(&chunks(&file).unwrap()), data);
    let mut cut = file.clone();
    cut.truncate(6);
    let e = chunks(&cut).unwrap_err();
    assert!(e.contains("ends inside a zstd"), "{e}");
}
