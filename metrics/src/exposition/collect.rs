//! Builds the owned [`Exposition`] that [`super::parse`] returns.

use std::collections::HashMap;

use super::{
    Exposition, MetadataItem, MetricMetadata, MetricType, ParsedSample, SampleRef, Visitor,
};

#[derive(Default)]
pub(super) struct Collector<'a> {
    exposition: Exposition,
    /// Where each family's metadata is in `exposition.metadata`.
    families: HashMap<&'a str, usize>,
}

impl Collector<'_> {
    pub fn finish(self) -> Exposition {
        self.exposition
    }
}

impl<'a> Visitor<'a> for Collector<'a> {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        self.exposition.samples.push(ParsedSample {
            labels: sample.to_labels(),
            value: sample.value,
            timestamp_ms: sample.timestamp_ms,
        });
    }

    fn metadata(&mut self, name: &'a str, item: MetadataItem<'a>) {
        let all = &mut self.exposition.metadata;
        // A family's HELP and TYPE lines are usually adjacent: skip the hash
        // lookup for the second.
        let index = match all.last() {
            Some(last) if last.name == name => all.len() - 1,
            _ => *self.families.entry(name).or_insert_with(|| {
                all.push(MetricMetadata {
                    name: name.to_string(),
                    kind: MetricType::Untyped,
                    help: None,
                    unit: None,
                });
                all.len() - 1
            }),
        };
        let family = &mut all[index];
        match item {
            // Repeated metadata (concatenated expositions) often repeats
            // the same text: keep the copy already made.
            MetadataItem::Help(help) if family.help.as_deref() == Some(&*help) => {}
            MetadataItem::Help(help) => family.help = Some(help.into_owned()),
            MetadataItem::Type(kind) => family.kind = kind,
            MetadataItem::Unit(unit) => family.unit = Some(unit.to_string()),
        }
    }
}
