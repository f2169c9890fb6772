//! Bit-level writer and reader used by the chunk codec. Bits are written
//! most significant first, so a chunk's bytes read the same on any machine.

/// Appends bits to a growable byte buffer.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Unused low bits in the last byte (0..=7).
    free_bits: u32,
}

impl BitWriter {
    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Writes the low `n` bits of `value` (`n` ≤ 64), most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut left = n;
        while left > 0 {
            if self.free_bits == 0 {
                self.bytes.push(0);
                self.free_bits = 8;
            }
            let take = left.min(self.free_bits);
            let part = (value >> (left - take)) & low_mask(take);
            if let Some(last) = self.bytes.last_mut() {
                // `part` has at most `take` ≤ 8 bits, so the cast keeps all of them.
                *last |= (part as u8) << (self.free_bits - take);
            }
            self.free_bits -= take;
            left -= take;
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Heap bytes held, counting spare capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Grows the buffer to hold at least `capacity` bytes, exactly.
    pub(crate) fn grow_to(&mut self, capacity: usize) {
        self.bytes
            .reserve_exact(capacity.saturating_sub(self.bytes.len()));
    }
}

/// Reads bits back from a byte slice written by [`BitWriter`]. Decoding
/// speed bounds query speed, so the reader keeps only a bit position and
/// reads the next 64 bits with one unaligned big-endian load: a field of
/// up to 57 bits is then a shift, with no refill bookkeeping or per-field
/// bounds check. Past the end the input reads as zeros; callers check
/// [`BitReader::overrun`] once per decoded item instead of once per field.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Bits consumed so far.
    pos: usize,
    /// The input's last eight bytes (all of it when shorter, zero-padded)
    /// as a word, and the bit it starts at: a peek within the last eight
    /// bytes, which every read to a chunk's end makes for its last few
    /// samples, shifts this word instead of calling out to assemble one.
    tail: u64,
    tail_start: usize,
}

/// Bits [`BitReader::peek_word`] guarantees: 64 minus at most 7 already
/// consumed bits of its first byte.
pub(crate) const PEEK_BITS: u32 = 57;

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader::at(bytes, 0)
    }

    /// A reader of `bytes` that has consumed `pos` bits.
    pub(crate) fn at(bytes: &'a [u8], pos: usize) -> Self {
        let tail_byte = bytes.len().saturating_sub(8);
        BitReader {
            bytes,
            pos,
            tail: tail_word(bytes, tail_byte),
            tail_start: tail_byte * 8,
        }
    }

    /// Bits consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The unread bits, left-aligned: at least [`PEEK_BITS`] of them, then
    /// whatever follows (zeros past the end of the input).
    #[inline(always)]
    pub(crate) fn peek_word(&self) -> u64 {
        let byte = self.pos >> 3;
        // `byte + 8` cannot overflow (`byte` is a bit position over 8),
        // so this is a single comparison with the length.
        match self
            .bytes
            .get(byte..byte + 8)
            .and_then(|eight| eight.first_chunk::<8>())
        {
            Some(eight) => u64::from_be_bytes(*eight) << (self.pos & 7),
            // Within the last eight bytes (or past them: zeros), so at or
            // after the tail word's start.
            None => {
                let into_tail = self.pos.saturating_sub(self.tail_start);
                let shift = u32::try_from(into_tail).unwrap_or(u32::MAX);
                self.tail.checked_shl(shift).unwrap_or(0)
            }
        }
    }

    /// The next `n` bits (`n` ≤ [`PEEK_BITS`]) without consuming them.
    #[inline(always)]
    pub(crate) fn peek(&self, n: u32) -> u64 {
        debug_assert!(n <= PEEK_BITS);
        // A shift by 64 would overflow: `checked_shr` makes `n == 0` read 0.
        self.peek_word().checked_shr(64 - n).unwrap_or(0)
    }

    /// Consumes `n` bits.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Reads `n` bits (`n` ≤ 64).
    #[inline(always)]
    pub(crate) fn read_bits(&mut self, n: u32) -> u64 {
        debug_assert!(n <= 64);
        if n > PEEK_BITS {
            let high = self.peek(n - 32);
            self.consume(n - 32);
            let low = self.peek(32);
            self.consume(32);
            return (high << 32) | low;
        }
        let value = self.peek(n);
        self.consume(n);
        value
    }

    /// Whether more bits were consumed than the input holds: what was read
    /// past its end is padding, not data.
    #[inline(always)]
    pub(crate) fn overrun(&self) -> bool {
        self.pos > self.bytes.len() * 8
    }
}

/// The bytes of `bytes` from `byte` on (eight at most), zero-padded to a
/// word: a reader's tail word. Out of line: it runs once per reader.
#[inline(never)]
fn tail_word(bytes: &[u8], byte: usize) -> u64 {
    // The last eight bytes shifted left: one load, where shifting the few
    // bytes in one at a time took a loop (every chunk ends this way).
    if let Some(start) = bytes.len().checked_sub(8) {
        if let Some(last) = bytes.get(start..).and_then(|rest| rest.first_chunk::<8>()) {
            let shift = (byte.saturating_sub(start) * 8).min(64) as u32;
            return u64::from_be_bytes(*last).checked_shl(shift).unwrap_or(0);
        }
    }
    // A chunk shorter than a word: at most seven bytes to shift in.
    let rest = bytes.get(byte..).unwrap_or_default();
    rest.iter()
        .zip((0..8).rev())
        .fold(0, |word, (&b, i)| word | u64::from(b) << (8 * i))
}

fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn reads_back_what_was_written(fields in proptest::collection::vec((any::<u64>(), 0u32..=64), 0..200)) {
            let mut w = BitWriter::default();
            for &(value, n) in &fields {
                w.write_bits(value, n);
            }
            let total: u32 = fields.iter().map(|&(_, n)| n).sum();
            prop_assert_eq!(w.bytes().len(), total.div_ceil(8) as usize);
            let mut r = BitReader::new(w.bytes());
            for &(value, n) in &fields {
                prop_assert_eq!(r.read_bits(n), value & low_mask(n));
            }
            prop_assert!(!r.overrun());
        }
    }

    #[test]
    fn peek_does_not_consume_and_pads_with_zeros() {
        let mut w = BitWriter::default();
        w.write_bits(0b1101, 4);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(r.peek(4), 0b1101);
        assert_eq!(r.peek(12), 0b1101_0000_0000);
        r.consume(3);
        assert_eq!(r.read_bits(5), 0b10000);
        assert!(!r.overrun());
        r.consume(1);
        assert!(r.overrun());
    }

    #[test]
    fn reading_past_the_end_is_zeros_and_overruns() {
        let mut w = BitWriter::default();
        w.write_bits(0b101, 3);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(r.read_bits(3), 0b101);
        assert_eq!(r.read_bits(5), 0, "padding of the last byte is zero");
        assert!(!r.overrun());
        assert_eq!(r.read_bits(64), 0, "past the end reads as zeros");
        assert!(r.overrun());
    }

    /// The last bytes of inputs longer and shorter than a word, and past
    /// their end, read as a zero-padded word.
    #[test]
    fn tail_words_are_zero_padded() {
        for len in [3usize, 8, 12] {
            let bytes: Vec<u8> = (1..=len as u8).collect();
            for byte in len.saturating_sub(7)..len + 3 {
                let mut padded = [0u8; 8];
                for (to, from) in padded.iter_mut().zip(bytes.iter().skip(byte)) {
                    *to = *from;
                }
                assert_eq!(
                    tail_word(&bytes, byte),
                    u64::from_be_bytes(padded),
                    "{len} bytes from {byte}"
                );
            }
        }
    }

    #[test]
    fn bits_are_most_significant_first() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0, 6);
        w.write_bits(0b11, 2);
        assert_eq!(w.bytes(), &[0b1000_0001, 0b1000_0000]);
    }
}
