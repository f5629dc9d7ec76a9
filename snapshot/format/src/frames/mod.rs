//! zstd on more than one core: snapshots are written as a sequence of
//! independent zstd frames, and read frame by frame on a small pool of
//! threads.
//!
//! Export puts the checkpoint and the manifest in a first frame, then cuts
//! the rest of the tar every [`FRAME_CONTENT_BYTES`], and compresses each
//! piece as a frame of its own, with its content size and checksum in it
//! (RFC 8878). The cuts sit at fixed offsets of the tar and each frame
//! depends only on its piece and the level, so the archive is as
//! reproducible as one frame would be, and any zstd reads it as one stream.
//!
//! Import walks the frame and block headers itself (it never decodes
//! there), checks each frame's window before anything is spent on it, and
//! hands frames that declare at most [`MAX_POOLED_FRAME_BYTES`] to the
//! pool, which decodes each straight into a buffer of that size. Any other
//! frame (no content size, larger, or padded out with empty blocks: zstd
//! written by other tools, or hostile) is decoded on the reading thread
//! with a streaming decoder under the same window limit, so every valid
//! zstd stream reads the same. At most [`FRAMES_IN_FLIGHT`] frames are
//! read ahead of the caller, each at most [`MAX_POOLED_FRAME_COMPRESSED_BYTES`]
//! compressed and [`MAX_POOLED_FRAME_BYTES`] decoded, so memory stays
//! bounded whatever the file holds. Decoded frames are handed out as
//! shared [`Bytes`] and their buffers reused once the last slice of them
//! is dropped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use zstd::stream::raw::{InBuffer, Operation, OutBuffer};

use crate::ZSTD_WINDOW_LOG_MAX;
use crate::error::Error;

/// Bytes of tar in each frame export writes (the last one may hold less).
pub const FRAME_CONTENT_BYTES: usize = 4 * 1024 * 1024;
/// Frames that declare at most this content size are decoded on the pool;
/// larger ones, and frames without a content size, on the reading thread.
pub const MAX_POOLED_FRAME_BYTES: u64 = FRAME_CONTENT_BYTES as u64;
/// Compressed bytes a pooled frame may take: its content stored raw plus
/// block headers fits easily. A frame that runs longer is decoded on the
/// reading thread instead, from what was read of it so far.
pub const MAX_POOLED_FRAME_COMPRESSED_BYTES: usize = FRAME_CONTENT_BYTES + 64 * 1024;
/// Frames compressed or decoded ahead of the one being consumed.
pub const FRAMES_IN_FLIGHT: usize = 4;
/// Threads of each pool.
pub const ZSTD_THREADS: usize = 2;

/// The magic number that opens a zstd frame.
const FRAME_MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames have magic numbers 0x184D2A50 to 0x184D2A5F.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// Bytes of the compressed file read at a time.
const INPUT_BUFFER_BYTES: usize = 256 * 1024;
/// Bytes of an inline frame decoded at a time.
const INLINE_CHUNK_BYTES: usize = 1024 * 1024;

/// The I/O error a frame problem travels in: an [`Error::Archive`] that
/// the archive reader hands on as it is.
fn refused(reason: impl Into<String>) -> std::io::Error {
    std::io::Error::other(Error::Archive {
        reason: reason.into(),
    })
}

/// Why a zstd stream is refused, when `e` came from [`FrameReader`]
/// (possibly wrapped in other errors).
pub(crate) fn refusal(e: &std::io::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|i| i as _);
    while let Some(error) = next {
        if let Some(Error::Archive { reason }) = error.downcast_ref::<Error>() {
            return Some(reason.clone());
        }
        next = match error.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|i| i as _),
            None => error.source(),
        };
    }
    None
}

fn window_too_large(window: u64) -> std::io::Error {
    refused(format!(
        "its zstd window is larger than the 2^{ZSTD_WINDOW_LOG_MAX} bytes accepted (a frame asks for {window} bytes)"
    ))
}

/// A fixed set of threads applying one job function, with results handed
/// back in submission order.
struct OrderedPool<J, O> {
    jobs: Option<Sender<(J, SyncSender<O>)>>,
    results: VecDeque<Receiver<O>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl<J: Send + 'static, O: Send + 'static> OrderedPool<J, O> {
    /// `ZSTD_THREADS` threads named `name`, each running the job function
    /// `make` builds for it (so each can own a zstd context).
    fn new<W>(name: &str, make: impl Fn() -> W) -> std::io::Result<Self>
    where
        W: FnMut(J) -> O + Send + 'static,
    {
        let (jobs, queue) = std::sync::mpsc::channel::<(J, SyncSender<O>)>();
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::with_capacity(ZSTD_THREADS);
        for _ in 0..ZSTD_THREADS {
            let queue = Arc::clone(&queue);
            let mut work = make();
            workers.push(
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || {
                        loop {
                            let next = match queue.lock() {
                                Ok(q) => q.recv(),
                                Err(_) => return,
                            };
                            let Ok((job, reply)) = next else { return };
                            let _ = reply.send(work(job));
                        }
                    })?,
            );
        }
        Ok(OrderedPool {
            jobs: Some(jobs),
            results: VecDeque::new(),
            workers,
        })
    }

    fn submit(&mut self, job: J) {
        let (reply, result) = std::sync::mpsc::sync_channel(1);
        if let Some(jobs) = &self.jobs {
            // A send fails only when every worker has stopped; the missing
            // reply then says so in `next`.
            let _ = jobs.send((job, reply));
        }
        self.results.push_back(result);
    }

    fn in_flight(&self) -> usize {
        self.results.len()
    }

    /// The oldest job's result, waiting for it; `None` when nothing is in
    /// flight, `Some(None)` when its worker died.
    fn next(&mut self) -> Option<Option<O>> {
        self.results.pop_front().map(|r| r.recv().ok())
    }
}

impl<J, O> Drop for OrderedPool<J, O> {
    fn drop(&mut self) {
        self.jobs = None;
        self.results.clear();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A tar stream compressed as independent frames of
/// [`FRAME_CONTENT_BYTES`], on [`ZSTD_THREADS`] threads.
pub struct FrameWriter<W: Write> {
    inner: W,
    piece: Vec<u8>,
    pool: OrderedPool<Vec<u8>, std::io::Result<Vec<u8>>>,
}

impl<W: Write> FrameWriter<W> {
    /// Frames at `level`, each with its content size and a checksum.
    pub fn new(inner: W, level: i32) -> std::io::Result<Self> {
        let pool = OrderedPool::new("islet-zstd", move || {
            let mut compressor = None;
            move |piece: Vec<u8>| {
                let c = match &mut compressor {
                    Some(c) => c,
                    None => {
                        let mut c = zstd::bulk::Compressor::new(level)?;
                        c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
                        compressor.insert(c)
                    }
                };
                c.compress(&piece)
            }
        })?;
        Ok(FrameWriter {
            inner,
            piece: Vec::with_capacity(FRAME_CONTENT_BYTES),
            pool,
        })
    }

    /// Sends the piece being filled to the pool, and writes out finished
    /// frames while too many are in flight (all of them with `drain`).
    fn cut(&mut self, drain: bool) -> std::io::Result<()> {
        if !self.piece.is_empty() {
            let piece = std::mem::replace(&mut self.piece, Vec::with_capacity(FRAME_CONTENT_BYTES));
            self.pool.submit(piece);
        }
        while self.pool.in_flight() >= FRAMES_IN_FLIGHT || (drain && self.pool.in_flight() > 0) {
            match self.pool.next() {
                Some(Some(frame)) => self.inner.write_all(&frame?)?,
                Some(None) => return Err(std::io::Error::other("a zstd thread stopped")),
                None => break,
            }
        }
        Ok(())
    }

    /// Ends the current frame here, at a point of the tar that does not
    /// depend on how it was written (the next frame starts a new count of
    /// [`FRAME_CONTENT_BYTES`]).
    pub fn end_frame(&mut self) -> std::io::Result<()> {
        self.cut(false)
    }

    /// Compresses what is left and returns the inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.cut(true)?;
        let FrameWriter { inner, .. } = self;
        Ok(inner)
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = FRAME_CONTENT_BYTES - self.piece.len();
        let n = buf.len().min(room);
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == FRAME_CONTENT_BYTES {
            self.cut(false)?;
        }
        Ok(n)
    }

    /// Flushes the inner writer; frames are cut only at fixed offsets, so
    /// a flush does not change the bytes written.
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A frame for the pool: its bytes and declared content size.
struct PooledFrame {
    bytes: Vec<u8>,
    content_size: usize,
}

/// Decoded buffers given back for reuse once every slice of them is
/// dropped, so that frames are not decoded into fresh pages every time.
type Spares = Arc<Mutex<Vec<Vec<u8>>>>;

/// What the pool makes of a frame: its content, and its compressed
/// buffer handed back for the next frame.
type Decoded = std::io::Result<(Vec<u8>, Vec<u8>)>;

/// A decoded buffer that goes back to its spares when the last
/// [`Bytes`] sharing it is dropped.
struct Recycled {
    buffer: Vec<u8>,
    spares: Spares,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        if let Ok(mut spares) = self.spares.lock()
            && spares.len() < 2 * FRAMES_IN_FLIGHT
        {
            spares.push(std::mem::take(&mut self.buffer));
        }
    }
}

fn spare(spares: &Spares, capacity: usize) -> Vec<u8> {
    let mut buffer = spares
        .lock()
        .ok()
        .and_then(|mut s| s.pop())
        .unwrap_or_default();
    buffer.clear();
    buffer.reserve_exact(capacity);
    buffer
}

/// A frame being decoded on the reading thread: the bytes of it read
/// while walking its headers, then the rest from the input.
struct InlineFrame {
    prefix: Vec<u8>,
    at: usize,
    finished: bool,
}

/// What comes next in the compressed stream.
enum Next {
    Pooled(PooledFrame),
    Inline(InlineFrame),
    Skipped,
    End,
}

/// The decompressed stream of a zstd file as a sequence of shared chunks,
/// frames decoded on [`ZSTD_THREADS`] threads ahead of the caller.
pub(crate) struct FrameReader<R: Read> {
    input: BufReader<R>,
    pool: OrderedPool<PooledFrame, Decoded>,
    spares: Spares,
    /// Buffers of compressed frames the pool gave back.
    compressed_spares: Vec<Vec<u8>>,
    inline: Option<InlineFrame>,
    /// The streaming decoder of inline frames, made for the first one.
    streaming: Option<zstd::stream::raw::Decoder<'static>>,
    ended: bool,
    frames: u64,
}

impl<R: Read> FrameReader<R> {
    pub(crate) fn new(input: R) -> std::io::Result<Self> {
        let spares: Spares = Arc::new(Mutex::new(Vec::new()));
        let pool_spares = Arc::clone(&spares);
        let pool = OrderedPool::new("islet-unzstd", move || {
            let spares = Arc::clone(&pool_spares);
            let mut decompressor = None;
            move |frame: PooledFrame| {
                let d = match &mut decompressor {
                    Some(d) => d,
                    None => decompressor.insert(zstd::bulk::Decompressor::new()?),
                };
                let mut out = spare(&spares, frame.content_size);
                // libzstd checks the checksum and that the frame holds
                // exactly its declared content size.
                d.decompress_to_buffer(frame.bytes.as_slice(), &mut out)
                    .map_err(|e| refused(format!("a zstd frame cannot be decoded: {e}")))?;
                if out.len() != frame.content_size {
                    return Err(refused(format!(
                        "a zstd frame holds {} bytes but declares {}",
                        out.len(),
                        frame.content_size
                    )));
                }
                Ok((out, frame.bytes))
            }
        })?;
        Ok(FrameReader {
            input: BufReader::with_capacity(INPUT_BUFFER_BYTES, input),
            pool,
            spares,
            compressed_spares: Vec::new(),
            inline: None,
            streaming: None,
            ended: false,
            frames: 0,
        })
    }

    /// The next piece of the decompressed stream, in order (a whole frame,
    /// or a part of one decoded here); `None` after the last frame.
    ///
    /// # Errors
    /// I/O errors of the input; refusals that [`refusal`] recognises.
    pub(crate) fn next_chunk(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            while self.inline.is_none() && !self.ended && self.pool.in_flight() < FRAMES_IN_FLIGHT {
                match self.next_frame()? {
                    Next::Pooled(frame) => self.pool.submit(frame),
                    Next::Inline(frame) => self.inline = Some(frame),
                    Next::Skipped => {}
                    Next::End => self.ended = true,
                }
            }
            match self.pool.next() {
                Some(Some(decoded)) => {
                    let (decoded, compressed) = decoded?;
                    if self.compressed_spares.len() < FRAMES_IN_FLIGHT {
                        self.compressed_spares.push(compressed);
                    }
                    return Ok(Some(self.shared(decoded)));
                }
                Some(None) => return Err(std::io::Error::other("a zstd thread stopped")),
                None => {}
            }
            if self.inline.is_none() {
                return Ok(None);
            }
            let chunk = self.read_inline()?;
            if self.inline.as_ref().is_some_and(|f| f.finished) {
                self.inline = None;
            }
            if !chunk.is_empty() {
                return Ok(Some(self.shared(chunk)));
            }
        }
    }

    fn shared(&self, buffer: Vec<u8>) -> Bytes {
        Bytes::from_owner(Recycled {
            buffer,
            spares: Arc::clone(&self.spares),
        })
    }

    /// Reads exactly `buf.len()` bytes of the frame being walked; `what`
    /// names them when the file ends first.
    fn take(&mut self, buf: &mut [u8], what: &str) -> std::io::Result<()> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                refused(format!("ends inside a zstd frame ({what})"))
            } else {
                e
            }
        })
    }

    /// Walks the next frame's headers.
    fn next_frame(&mut self) -> std::io::Result<Next> {
        if self.input.fill_buf()?.is_empty() {
            return if self.frames == 0 {
                Err(refused("not zstd: the file is empty"))
            } else {
                Ok(Next::End)
            };
        }
        let mut magic = [0u8; 4];
        self.take(&mut magic, "its magic number")?;
        let number = u32::from_le_bytes(magic);
        if number & 0xFFFF_FFF0 == SKIPPABLE_MAGIC {
            let mut size = [0u8; 4];
            self.take(&mut size, "a skippable frame's size")?;
            let size = u64::from(u32::from_le_bytes(size));
            let skipped = std::io::copy(&mut (&mut self.input).take(size), &mut std::io::sink())?;
            if skipped != size {
                return Err(refused("ends inside a zstd skippable frame"));
            }
            self.frames += 1;
            return Ok(Next::Skipped);
        }
        if number != FRAME_MAGIC {
            return Err(refused(if self.frames == 0 {
                format!("not zstd: the file starts with {}", hex::encode(magic))
            } else {
                format!(
                    "holds {} after zstd frame {}, which is not a zstd frame",
                    hex::encode(magic),
                    self.frames
                )
            }));
        }
        self.frames += 1;
        let mut frame = self
            .compressed_spares
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MAX_POOLED_FRAME_COMPRESSED_BYTES));
        frame.clear();
        frame.extend_from_slice(&magic);
        let mut descriptor = [0u8; 1];
        self.take(&mut descriptor, "its header")?;
        frame.push(descriptor[0]);
        let descriptor = descriptor[0];
        let single_segment = descriptor & 0x20 != 0;
        if descriptor & 0x08 != 0 {
            return Err(refused("a zstd frame header sets its reserved bit"));
        }
        let dictionary_bytes = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
        let content_size_bytes = match descriptor >> 6 {
            0 if single_segment => 1,
            0 => 0,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let window_bytes = usize::from(!single_segment);
        let mut rest = [0u8; 1 + 4 + 8];
        let rest = &mut rest[..window_bytes + dictionary_bytes + content_size_bytes];
        self.take(rest, "its header")?;
        frame.extend_from_slice(rest);
        let content_size = (content_size_bytes > 0).then(|| {
            let field = &rest[rest.len() - content_size_bytes..];
            let mut le = [0u8; 8];
            le[..field.len()].copy_from_slice(field);
            let value = u64::from_le_bytes(le);
            if content_size_bytes == 2 {
                value + 256
            } else {
                value
            }
        });
        let window = if single_segment {
            content_size.unwrap_or(0)
        } else {
            let exponent = u32::from(rest[0] >> 3);
            let base = 1u64 << (10 + exponent);
            base + (base / 8) * u64::from(rest[0] & 0x07)
        };
        if window > 1u64 << ZSTD_WINDOW_LOG_MAX {
            return Err(window_too_large(window));
        }
        let checksum = descriptor & 0x04 != 0;
        match content_size {
            Some(size) if size <= MAX_POOLED_FRAME_BYTES => self.walk_blocks(frame, size, checksum),
            _ => self.inline(frame),
        }
    }

    /// Reads the blocks of a frame of `content_size` bytes whose header is
    /// `frame`: the whole frame for the pool, or, when it runs longer than
    /// a pooled frame may, the frame so far for the streaming decoder.
    fn walk_blocks(
        &mut self,
        mut frame: Vec<u8>,
        content_size: u64,
        checksum: bool,
    ) -> std::io::Result<Next> {
        loop {
            let mut header = [0u8; 3];
            self.take(&mut header, "a block header")?;
            frame.extend_from_slice(&header);
            let header = u32::from_le_bytes([header[0], header[1], header[2], 0]);
            let last = header & 1 != 0;
            let size = (header >> 3) as usize;
            let stored = match (header >> 1) & 0x03 {
                0 | 2 => size,
                1 => 1,
                _ => return Err(refused("a zstd block has the reserved block type")),
            };
            // Read straight into the frame's spare room, without zeroing.
            let got = (&mut self.input)
                .take(stored as u64)
                .read_to_end(&mut frame)?;
            if got != stored {
                return Err(refused("ends inside a zstd frame (a block)"));
            }
            if last {
                break;
            }
            if frame.len() > MAX_POOLED_FRAME_COMPRESSED_BYTES {
                return self.inline(frame);
            }
        }
        if checksum {
            let mut sum = [0u8; 4];
            self.take(&mut sum, "its checksum")?;
            frame.extend_from_slice(&sum);
        }
        let content_size = usize::try_from(content_size)
            .map_err(|_| refused("a zstd frame declares more than fits in memory"))?;
        Ok(Next::Pooled(PooledFrame {
            bytes: frame,
            content_size,
        }))
    }

    /// A frame to be decoded here, starting with `prefix`, the part of it
    /// already read.
    fn inline(&mut self, prefix: Vec<u8>) -> std::io::Result<Next> {
        match &mut self.streaming {
            Some(decoder) => decoder.reinit()?,
            None => {
                let mut decoder = zstd::stream::raw::Decoder::new()?;
                decoder.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(
                    ZSTD_WINDOW_LOG_MAX,
                ))?;
                self.streaming = Some(decoder);
            }
        }
        Ok(Next::Inline(InlineFrame {
            prefix,
            at: 0,
            finished: false,
        }))
    }

    /// Decodes up to [`INLINE_CHUNK_BYTES`] more of the inline frame.
    fn read_inline(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = spare(&self.spares, INLINE_CHUNK_BYTES);
        let (Some(frame), Some(decoder)) = (&mut self.inline, &mut self.streaming) else {
            return Ok(out);
        };
        while out.len() < out.capacity() {
            let from_prefix = frame.at < frame.prefix.len();
            let src: &[u8] = if from_prefix {
                &frame.prefix[frame.at..]
            } else {
                self.input.fill_buf()?
            };
            if src.is_empty() {
                return Err(refused("ends inside a zstd frame (a block)"));
            }
            let mut input = InBuffer::around(src);
            let filled = out.len();
            let mut output = OutBuffer::around_pos(&mut out, filled);
            let hint = decoder
                .run(&mut input, &mut output)
                .map_err(|e| refused(format!("a zstd frame cannot be decoded: {e}")))?;
            let consumed = input.pos();
            if from_prefix {
                frame.at += consumed;
            } else {
                self.input.consume(consumed);
            }
            if hint == 0 {
                frame.finished = true;
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
