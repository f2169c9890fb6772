//! The extremes of a closed chunk's samples from the start of each block
//! of samples to the chunk's end: what `min_` and `max_over_time` need of
//! a window that starts inside the chunk, without decoding the window.
//!
//! A window's part of the chunk is its samples from `mint` to the chunk's
//! end. Its extremes are those of the few samples from `mint` to the next
//! block's start, decoded, and the kept extremes from that block on. A
//! summary less the samples before the window (`SamplesSummary::without`)
//! cannot give them when an extreme lies before the window, which for a
//! gauge that trends is most of the time.

use crate::summary::Extremes;
use crate::Sample;

/// Blocks a chunk is split into, at most: a 240-sample chunk has blocks
/// of 16 samples, so a window's part decodes 15 at most.
const MAX_BLOCKS: usize = 16;

/// Samples a block holds, at least, as a power of two: fewer decode in
/// less time than the blocks take to keep. Powers of two, so that finding
/// a sample's block is a shift, not a division.
const MIN_BLOCK_SHIFT: u32 = 3;

/// The smallest and largest value from a block's first sample on.
#[derive(Debug, Clone, Copy, Default)]
struct Bounds {
    min: f64,
    max: f64,
}

/// The extremes of one closed chunk without NaN, from each block on.
#[derive(Debug)]
pub(crate) struct SuffixExtremes {
    chunk_min_t: i64,
    /// A block holds `1 << block_shift` samples.
    block_shift: u32,
    /// Blocks in use.
    blocks: u32,
    /// From the first sample of each block to the chunk's end.
    from_block: [Bounds; MAX_BLOCKS],
}

impl SuffixExtremes {
    /// The extremes of `samples`, the whole chunk starting at
    /// `chunk_min_t`, from each block on; `None` for a chunk holding a NaN
    /// (a stale marker included), whose extremes follow other rules.
    pub(crate) fn of(chunk_min_t: i64, samples: &[Sample]) -> Option<Self> {
        let count = u32::try_from(samples.len()).ok()?;
        let block_len = count
            .div_ceil(MAX_BLOCKS as u32)
            .next_power_of_two()
            .max(1 << MIN_BLOCK_SHIFT);
        let mut suffix = SuffixExtremes {
            chunk_min_t,
            block_shift: block_len.trailing_zeros(),
            blocks: count.div_ceil(block_len),
            from_block: [Bounds::default(); MAX_BLOCKS],
        };
        let last = samples.last()?;
        let mut bounds = Bounds {
            min: last.v,
            max: last.v,
        };
        for (i, sample) in samples.iter().enumerate().rev() {
            let v = sample.v;
            if v.is_nan() {
                return None;
            }
            // Of equal values the first: walking back, an equal one
            // replaces the later.
            if v <= bounds.min {
                bounds.min = v;
            }
            if v >= bounds.max {
                bounds.max = v;
            }
            if i % block_len as usize == 0 {
                *suffix.from_block.get_mut(i >> suffix.block_shift)? = bounds;
            }
        }
        Some(suffix)
    }

    pub(crate) fn chunk_min_t(&self) -> i64 {
        self.chunk_min_t
    }

    /// The extremes of the chunk's samples from its `index`-th (counting
    /// from 0) on, that sample being `first`; `next` gives the samples
    /// after it, of which this takes those up to the next block's start.
    pub(crate) fn from(
        &self,
        index: u32,
        first: Sample,
        mut next: impl FnMut() -> Option<Sample>,
    ) -> Extremes {
        let mut extremes = Extremes {
            min: first.v,
            max: first.v,
            has_nan: false,
        };
        let last_in_block = (1 << self.block_shift) - 1;
        let block = (index + last_in_block) >> self.block_shift;
        for _ in index + 1..block << self.block_shift {
            let Some(sample) = next() else {
                return extremes;
            };
            take(&mut extremes, sample.v);
        }
        if let Some(bounds) = self
            .from_block
            .get(block as usize)
            .filter(|_| block < self.blocks)
        {
            take(&mut extremes, bounds.min);
            take(&mut extremes, bounds.max);
        }
        extremes
    }
}

/// Takes `v`, a later value than those in `extremes`: of equal values the
/// first stays.
fn take(extremes: &mut Extremes, v: f64) {
    if v < extremes.min {
        extremes.min = v;
    }
    if v > extremes.max {
        extremes.max = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Sums;
    use crate::SamplesSummary;
    use proptest::prelude::*;

    fn samples(values: &[f64]) -> Vec<Sample> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample {
                t: i as i64 * 1000,
                v,
            })
            .collect()
    }

    fn values() -> impl Strategy<Value = f64> {
        prop_oneof![
            (-5i32..5).prop_map(f64::from),
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            -1e9f64..1e9,
        ]
    }

    proptest! {
        /// From any sample on, the extremes agree with those of the
        /// samples summarised one by one, signs of zero included.
        #[test]
        fn extremes_from_any_sample_agree_with_the_samples(
            values in prop::collection::vec(values(), 1..=240),
        ) {
            let samples = samples(&values);
            let suffix = SuffixExtremes::of(0, &samples).expect("no NaN");
            for index in 0..samples.len() {
                let mut rest = samples[index + 1..].iter().copied();
                let got = suffix.from(index as u32, samples[index], || rest.next());
                let want = SamplesSummary::of(&samples[index..], Sums::None)
                    .and_then(|s| s.extremes)
                    .expect("samples");
                prop_assert_eq!(got.min.to_bits(), want.min.to_bits(), "min from {}", index);
                prop_assert_eq!(got.max.to_bits(), want.max.to_bits(), "max from {}", index);
                let taken = samples.len() - index - 1 - rest.len();
                prop_assert!(taken < 1 << suffix.block_shift, "took {} from {}", taken, index);
            }
        }
    }

    #[test]
    fn a_chunk_with_a_nan_has_no_suffix_extremes() {
        assert!(SuffixExtremes::of(0, &samples(&[1.0, f64::NAN, 2.0])).is_none());
        assert!(SuffixExtremes::of(0, &[]).is_none());
    }

    #[test]
    fn blocks_grow_with_the_chunk_so_that_at_most_sixteen_are_kept() {
        let suffix = SuffixExtremes::of(0, &samples(&[1.0; 240])).expect("no NaN");
        assert_eq!((suffix.block_shift, suffix.blocks), (4, 15));
        let suffix = SuffixExtremes::of(0, &samples(&[1.0; 60])).expect("no NaN");
        assert_eq!((suffix.block_shift, suffix.blocks), (3, 8));
        let suffix = SuffixExtremes::of(0, &samples(&[1.0; 1000])).expect("no NaN");
        assert_eq!((suffix.block_shift, suffix.blocks), (6, 16));
    }
}
