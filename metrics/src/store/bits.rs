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
}

/// Reads bits back from a byte slice written by [`BitWriter`]. Decoding
/// speed bounds query speed, so bits come from a 64-bit buffer refilled a
/// word at a time rather than byte by byte.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Index of the first byte not yet in `buffer`.
    next_byte: usize,
    /// Unread bits, left-aligned; the bits below them are zero.
    buffer: u64,
    buffered: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader {
            bytes,
            next_byte: 0,
            buffer: 0,
            buffered: 0,
        }
    }

    /// Tops the buffer up with as many whole bytes as fit (at least 57
    /// bits buffered afterwards, unless the input runs out).
    fn refill(&mut self) {
        let room = (64 - self.buffered) / 8;
        if room == 0 {
            return;
        }
        if let Some(eight) = self.bytes.get(self.next_byte..self.next_byte + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(eight);
            let word = u64::from_be_bytes(word);
            let taken_bits = room * 8;
            // Keep only the `room` whole bytes of the word, placed right
            // after the bits already buffered.
            let kept = if taken_bits == 64 {
                word
            } else {
                word & !(u64::MAX >> taken_bits)
            };
            self.buffer |= kept >> self.buffered;
            self.buffered += taken_bits;
            self.next_byte += room as usize;
            return;
        }
        while self.buffered <= 56 {
            let Some(&byte) = self.bytes.get(self.next_byte) else {
                return;
            };
            self.buffer |= u64::from(byte) << (56 - self.buffered);
            self.buffered += 8;
            self.next_byte += 1;
        }
    }

    /// The next `n` bits (1 ≤ `n` ≤ 56) without consuming them, zero-padded
    /// past the end.
    #[inline]
    pub(crate) fn peek(&mut self, n: u32) -> u64 {
        debug_assert!((1..=56).contains(&n));
        if self.buffered < n {
            self.refill();
        }
        self.buffer >> (64 - n)
    }

    /// Consumes `n` bits (`n` ≤ 56); `None` if that runs past the end.
    #[inline]
    pub(crate) fn skip(&mut self, n: u32) -> Option<()> {
        debug_assert!(n <= 56);
        if self.buffered < n {
            self.refill();
            if self.buffered < n {
                return None;
            }
        }
        // `n` < 64 here, so the shift cannot overflow.
        self.buffer <<= n;
        self.buffered -= n;
        Some(())
    }

    /// Reads `n` bits (`n` ≤ 64); `None` when the buffer is exhausted.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if n == 0 {
            return Some(0);
        }
        if n > 56 {
            let high = self.read_bits(n - 32)?;
            let low = self.read_bits(32)?;
            return Some((high << 32) | low);
        }
        let value = self.peek(n);
        self.skip(n)?;
        Some(value)
    }
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
                prop_assert_eq!(r.read_bits(n), Some(value & low_mask(n)));
            }
        }
    }

    #[test]
    fn peek_does_not_consume_and_pads_with_zeros() {
        let mut w = BitWriter::default();
        w.write_bits(0b1101, 4);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(r.peek(4), 0b1101);
        assert_eq!(r.peek(12), 0b1101_0000_0000);
        r.skip(3).unwrap();
        assert_eq!(r.read_bits(5), Some(0b10000));
        assert_eq!(r.skip(1), None);
    }

    #[test]
    fn reading_past_the_end_is_none() {
        let mut w = BitWriter::default();
        w.write_bits(0b101, 3);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(r.read_bits(3), Some(0b101));
        assert_eq!(r.read_bits(5), Some(0), "padding of the last byte is zero");
        assert_eq!(r.read_bits(1), None);
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
