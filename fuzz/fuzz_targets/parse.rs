//! Feeds arbitrary bytes to the exposition parser in both formats. The
//! parser must never panic, and the zero-copy and owned entry points must
//! agree on what they accept and on how many samples they read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use opsdeck_metrics::exposition::{parse, parse_with, Format, SampleRef, Visitor};

#[derive(Default)]
struct Count(usize);

impl<'a> Visitor<'a> for Count {
    fn sample(&mut self, _: &SampleRef<'a, '_>) {
        self.0 += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        let owned = parse(data, format);
        let mut count = Count::default();
        let streamed = parse_with(data, format, &mut count);
        assert_eq!(owned.as_ref().err(), streamed.as_ref().err());
        if let Ok(exposition) = owned {
            assert_eq!(exposition.samples.len(), count.0);
        }
    }
});
