//! Webhook URLs carry their credentials in the path, so they are secrets:
//! a [`Secret`] never shows its value in `Debug`, `Display` or logs.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that sends the request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `name` as part of an environment variable's name: upper-cased, with
/// anything but ASCII letters and digits turned into `_`.
pub fn env_name_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new("https://hooks.example/T000/B000/XXXX");
        assert!(!format!("{secret:?}").contains("XXXX"));
        assert!(!secret.to_string().contains("XXXX"));
        assert_eq!(secret.expose(), "https://hooks.example/T000/B000/XXXX");
    }
}
