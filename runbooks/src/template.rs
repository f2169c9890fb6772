//! `{{ name }}` substitution that escapes for where the value lands. Param
//! values are untrusted: in a URL they become one percent-encoded path
//! segment, in PromQL the inside of a string literal, in a JSON body a JSON
//! string, in an argv list one argument. Nothing is ever handed to a shell.
//! Values the agent itself supplies (`app_url`, `node`) are trusted and
//! inserted as they are.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters is encoded, so `/`, `..`
/// separators, `?` and `#` cannot leave the path segment.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// Where a rendered string goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A URL: untrusted values become one path segment.
    Url,
    /// Inside a PromQL double-quoted string.
    Promql,
    /// Plain text: a JSON string leaf, one argv element, a message.
    Text,
}

/// The values a template may name.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    /// From the agent's own config: inserted verbatim.
    pub trusted: BTreeMap<String, String>,
    /// From the caller, already validated by type: always escaped.
    pub params: BTreeMap<String, String>,
}

impl Vars {
    pub fn with_param(&self, name: &str, value: &str) -> Vars {
        let mut vars = self.clone();
        vars.params.insert(name.to_string(), value.to_string());
        vars
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{{{` in {0:?}")]
    Unclosed(String),
    #[error("unknown variable `{name}` in {template:?}")]
    Unknown { name: String, template: String },
    /// URL parsers drop `.` and climb up on `..` (also when encoded as
    /// `%2E`), so such a value cannot be one path segment.
    #[error("param `{name}` is {value:?}, which cannot be a URL path segment")]
    DotSegment { name: String, value: String },
}

/// The variable names a template uses, in order.
pub fn names(template: &str) -> Result<Vec<String>, TemplateError> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(template.to_string()))?;
        names.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    Ok(names)
}

pub fn render(template: &str, context: Context, vars: &Vars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(template.to_string()))?;
        let name = after[..end].trim();
        if let Some(value) = vars.params.get(name) {
            if context == Context::Url && (value == "." || value == "..") {
                return Err(TemplateError::DotSegment {
                    name: name.to_string(),
                    value: value.clone(),
                });
            }
            escape_into(&mut out, value, context);
        } else if let Some(value) = vars.trusted.get(name) {
            out.push_str(value);
        } else {
            return Err(TemplateError::Unknown {
                name: name.to_string(),
                template: template.to_string(),
            });
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn escape_into(out: &mut String, value: &str, context: Context) {
    match context {
        Context::Url => out.extend(utf8_percent_encode(value, PATH_SEGMENT)),
        Context::Promql => {
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
        }
        Context::Text => out.push_str(value),
    }
}

/// Renders every string in a JSON body as text; serializing the result
/// escapes whatever the values contain.
pub fn render_json(
    value: &serde_json::Value,
    vars: &Vars,
) -> Result<serde_json::Value, TemplateError> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) => Value::String(render(s, Context::Text, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, vars)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vars(value: &str) -> Vars {
        let mut vars = Vars::default();
        vars.trusted
            .insert("app_url".into(), "http://127.0.0.1:3000".into());
        vars.params.insert("v".into(), value.into());
        vars
    }

    #[test]
    fn trusted_values_are_verbatim_and_params_are_encoded() {
        let url = render(
            "{{ app_url }}/admin/{{v}}/drain",
            Context::Url,
            &vars("../x"),
        )
        .unwrap();
        assert_eq!(url, "http://127.0.0.1:3000/admin/%2E%2E%2Fx/drain");
    }

    #[test]
    fn dot_segments_are_refused() {
        for value in [".", ".."] {
            assert!(matches!(
                render(
                    "{{ app_url }}/admin/shards/{{ v }}/drain",
                    Context::Url,
                    &vars(value)
                ),
                Err(TemplateError::DotSegment { .. })
            ));
        }
        assert!(render("{{ v }}", Context::Text, &vars("..")).is_ok());
    }

    #[test]
    fn unknown_and_unclosed_are_errors() {
        assert!(matches!(
            render("{{ nope }}", Context::Text, &vars("")),
            Err(TemplateError::Unknown { .. })
        ));
        assert!(matches!(
            render("{{ v", Context::Text, &vars("")),
            Err(TemplateError::Unclosed(_))
        ));
    }

    proptest! {
        /// Whatever a param holds, it stays inside one path segment.
        #[test]
        fn url_param_stays_one_segment(value in ".*") {
            prop_assume!(value != "." && value != "..");
            let url = render("{{ app_url }}/admin/shards/{{ v }}/drain", Context::Url, &vars(&value)).unwrap();
            let parsed = url::Url::parse(&url).unwrap();
            let segments: Vec<_> = parsed.path_segments().unwrap().collect();
            prop_assert_eq!(segments.len(), 4);
            prop_assert_eq!(segments[3], "drain");
            prop_assert!(parsed.query().is_none() && parsed.fragment().is_none());
            let decoded = percent_encoding::percent_decode_str(segments[2]).decode_utf8().unwrap();
            prop_assert_eq!(decoded, value);
        }

        /// Whatever a param holds, the PromQL matcher compares against exactly it.
        #[test]
        fn promql_param_stays_one_string(value in ".*") {
            let expr = render(r#"app_shard_guilds{shard="{{ v }}"}"#, Context::Promql, &vars(&value)).unwrap();
            let parsed = promql_parser::parser::parse(&expr);
            prop_assert!(parsed.is_ok(), "{expr}");
            let text = format!("{:?}", parsed.unwrap());
            prop_assert!(text.contains("app_shard_guilds"));
        }

        /// A JSON body round-trips a param byte for byte.
        #[test]
        fn json_param_round_trips(value in ".*") {
            let body = serde_json::json!({"reason": "{{ v }}"});
            let rendered = render_json(&body, &vars(&value)).unwrap();
            let text = serde_json::to_string(&rendered).unwrap();
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back["reason"].as_str().unwrap(), value.as_str());
        }
    }
}
