//! Turning one server-sent event into something the fleet state applies.

use opsdeck_agent::api::{Snapshot, StreamEvent};

#[derive(Debug, PartialEq)]
pub enum Decoded {
    Snapshot(Box<Snapshot>),
    Heartbeat,
    /// An event kind this version does not know; the agent may be newer.
    Unknown(String),
}

#[derive(Debug, thiserror::Error)]
#[error("malformed {kind:?} event: {source}")]
pub struct DecodeError {
    kind: String,
    source: serde_json::Error,
}

/// Decodes an SSE event. `data` is a JSON [`StreamEvent`] (tagged with
/// `type`); a bare snapshot under `event: snapshot` is accepted too.
pub fn decode(kind: &str, data: &str) -> Result<Decoded, DecodeError> {
    match serde_json::from_str::<StreamEvent>(data) {
        Ok(StreamEvent::Snapshot(snapshot)) => return Ok(Decoded::Snapshot(snapshot)),
        Ok(StreamEvent::Heartbeat { .. }) => return Ok(Decoded::Heartbeat),
        Err(_) => {}
    }
    let malformed = |source| DecodeError {
        kind: kind.to_string(),
        source,
    };
    match kind {
        "snapshot" => serde_json::from_str::<Snapshot>(data)
            .map(|s| Decoded::Snapshot(Box::new(s)))
            .map_err(malformed),
        "heartbeat" => Ok(Decoded::Heartbeat),
        "" | "message" => match serde_json::from_str::<serde_json::Value>(data) {
            Ok(value) => Ok(Decoded::Unknown(
                value["type"].as_str().unwrap_or("message").to_string(),
            )),
            Err(source) => Err(malformed(source)),
        },
        other => Ok(Decoded::Unknown(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::snapshot;

    /// JSON floats may lose their last bit; compare what identifies a snapshot.
    fn assert_same_snapshot(decoded: Decoded, expected: &Snapshot) {
        let Decoded::Snapshot(got) = decoded else {
            panic!("expected a snapshot, got {decoded:?}");
        };
        assert_eq!(got.seq, expected.seq);
        assert_eq!(got.node, expected.node);
        let ids = |s: &Snapshot| s.shards.iter().map(|sh| sh.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(expected));
    }

    #[test]
    fn tagged_snapshot_event() {
        let snap = snapshot("bot-1", 4, 0);
        let data = serde_json::to_string(&StreamEvent::Snapshot(Box::new(snap.clone()))).unwrap();
        assert_same_snapshot(decode("snapshot", &data).unwrap(), &snap);
    }

    #[test]
    fn bare_snapshot_under_event_name() {
        let snap = snapshot("bot-1", 2, 0);
        let data = serde_json::to_string(&snap).unwrap();
        assert_same_snapshot(decode("snapshot", &data).unwrap(), &snap);
    }

    #[test]
    fn heartbeat_event() {
        let data = r#"{"type":"heartbeat","seq":7,"at_ms":1}"#;
        assert_eq!(decode("heartbeat", data).unwrap(), Decoded::Heartbeat);
    }

    #[test]
    fn unknown_kind_is_not_an_error() {
        assert_eq!(
            decode("action_progress", r#"{"type":"action_progress"}"#).unwrap(),
            Decoded::Unknown("action_progress".into())
        );
        assert_eq!(
            decode("", r#"{"type":"alert_changed"}"#).unwrap(),
            Decoded::Unknown("alert_changed".into())
        );
    }

    #[test]
    fn malformed_snapshot_is_an_error_naming_the_kind() {
        let err = decode("snapshot", "{not json").unwrap_err().to_string();
        assert!(err.contains("\"snapshot\""), "{err}");
    }
}
