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
/// speed bounds query speed, so reads work on 64-bit words, not bytes.
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position of the next bit to read.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    fn bits_left(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }

    /// The next 64 bits from the current byte on, zero-padded past the end.
    fn word_at(&self, byte: usize) -> u64 {
        match self.bytes.get(byte..byte + 8) {
            Some(eight) => {
                let mut word = [0u8; 8];
                word.copy_from_slice(eight);
                u64::from_be_bytes(word)
            }
            None => {
                let mut word = [0u8; 8];
                let tail = self.bytes.get(byte..).unwrap_or_default();
                word[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(word)
            }
        }
    }

    /// The next `n` bits (`n` ≤ 57) without consuming them, zero-padded
    /// past the end.
    pub(crate) fn peek(&self, n: u32) -> u64 {
        debug_assert!((1..=57).contains(&n));
        let offset = (self.pos % 8) as u32;
        (self.word_at(self.pos / 8) << offset) >> (64 - n)
    }

    /// Consumes `n` bits already looked at with [`BitReader::peek`];
    /// `None` if that runs past the end.
    pub(crate) fn skip(&mut self, n: u32) -> Option<()> {
        if n as usize > self.bits_left() {
            return None;
        }
        self.pos += n as usize;
        Some(())
    }

    /// Reads `n` bits (`n` ≤ 64); `None` when the buffer is exhausted.
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        debug_assert!(n <= 64);
        if n as usize > self.bits_left() {
            return None;
        }
        if n == 0 {
            return Some(0);
        }
        let offset = (self.pos % 8) as u32;
        let byte = self.pos / 8;
        // A word from the current byte holds at least 57 unread bits; a
        // longer read takes its last bits from the byte after the word.
        let available = 64 - offset;
        let value = if n <= available {
            (self.word_at(byte) << offset) >> (64 - n)
        } else {
            let extra = n - available;
            let high = self.word_at(byte) << offset >> offset;
            let next = u64::from(*self.bytes.get(byte + 8)?);
            (high << extra) | (next >> (8 - extra))
        };
        self.pos += n as usize;
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
