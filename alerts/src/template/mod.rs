//! Go `text/template`, as Prometheus uses it for alert labels and
//! annotations.
//!
//! A small engine of our own rather than the `gtmpl` crate: Prometheus
//! templates need a `query` function that reaches the series store (gtmpl
//! functions are plain `fn` pointers with no context), and output must be
//! byte-identical to Go's `fmt` (`1e+06`, `map[a:b]`, `%.4g`), which gtmpl
//! prints with Rust's formatting.

mod exec;
mod funcs;
mod gofmt;
mod humanize;
mod lexer;
mod parse;
mod printf;
mod value;

use std::collections::BTreeMap;
use std::sync::LazyLock;

pub use funcs::{FuncContext, QuerySamples, TemplateQuerier};
pub use gofmt::{format_e, format_float};
pub use printf::go_quote;
pub use value::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Worded as Go words it: `template: NAME:LINE: MESSAGE`.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        name: String,
        line: usize,
        message: String,
    },
    #[error("template: {name}:{line}: executing {name:?}: {message}")]
    Exec {
        name: String,
        line: usize,
        message: String,
    },
}

impl TemplateError {
    fn parse(name: &str, line: usize, message: impl Into<String>) -> Self {
        TemplateError::Parse {
            name: name.to_string(),
            line,
            message: message.into(),
        }
    }

    fn exec(name: &str, line: usize, message: impl Into<String>) -> Self {
        TemplateError::Exec {
            name: name.to_string(),
            line,
            message: message.into(),
        }
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<parse::Node>,
}

impl Template {
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        Self::parse_with_variables(name, text, [])
    }

    /// Parses `text`, which may use `variables` without declaring them.
    fn parse_with_variables<'v>(
        name: &str,
        text: &str,
        variables: impl IntoIterator<Item = &'v String>,
    ) -> Result<Template, TemplateError> {
        let tokens = lexer::lex(name, text)?;
        let nodes = parse::Parser::new(name, tokens, &funcs::is_function)
            .with_variables(variables)
            .parse()?;
        Ok(Template {
            name: name.to_string(),
            nodes,
        })
    }

    pub fn execute(&self, data: &Value, funcs: &FuncContext<'_>) -> Result<String, TemplateError> {
        exec::Exec::new(&self.name, funcs, data).run(&[], &self.nodes)
    }

    /// The variables declared at the top level, which stay in scope to
    /// the end of the template.
    fn declared_variables(&self) -> impl Iterator<Item = &String> {
        self.nodes.iter().flat_map(|node| match node {
            parse::Node::Action { pipe, .. } if pipe.declares => pipe.vars.as_slice(),
            _ => &[],
        })
    }
}

/// The variables Prometheus defines in front of every alert template.
const ALERT_DEFS: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// [`ALERT_DEFS`], parsed once and run in front of each alert template
/// rather than parsed into each: their two dozen small allocations per
/// template were a third of the default rule pack's parsed templates.
static ALERT_PRELUDE: LazyLock<Template> = LazyLock::new(|| {
    Template::parse("__alert_defs", ALERT_DEFS).expect("the alert definitions are a valid template")
});

/// An alert label or annotation template, parsed once per rule.
#[derive(Debug, Clone)]
pub struct AlertTemplate(AlertText);

#[derive(Debug, Clone)]
enum AlertText {
    /// Text without `{{`: no evaluation, and no parsed copy to keep.
    Literal(String),
    /// Parsed to run after [`ALERT_PRELUDE`], whose variables it uses.
    Template(Template),
}

/// What an alert template sees when it is expanded; built once per alert
/// and shared by all of its labels and annotations.
pub struct AlertContext<'a> {
    data: Value,
    funcs: FuncContext<'a>,
}

impl<'a> AlertContext<'a> {
    pub fn new(
        labels: BTreeMap<String, String>,
        external_labels: &BTreeMap<String, String>,
        external_url: &str,
        value: f64,
        querier: Option<&'a dyn TemplateQuerier>,
    ) -> Self {
        AlertContext {
            data: exec::alert_data(labels, external_labels.clone(), external_url, value),
            funcs: FuncContext {
                querier,
                external_url: external_url.to_string(),
            },
        }
    }
}

impl AlertTemplate {
    pub fn parse(alert_name: &str, text: &str) -> Result<AlertTemplate, TemplateError> {
        if !text.contains("{{") {
            return Ok(AlertTemplate(AlertText::Literal(text.to_string())));
        }
        let prelude = &*ALERT_PRELUDE;
        let template = Template::parse_with_variables(
            &format!("__alert_{alert_name}"),
            text,
            prelude.declared_variables(),
        )?;
        Ok(AlertTemplate(AlertText::Template(template)))
    }

    /// Expands the template; errors come back in the text as Prometheus
    /// puts them there.
    pub fn expand(&self, ctx: &AlertContext<'_>) -> String {
        let template = match &self.0 {
            AlertText::Literal(text) => return text.clone(),
            AlertText::Template(template) => template,
        };
        let exec = exec::Exec::new(&template.name, &ctx.funcs, &ctx.data);
        match exec.run(&ALERT_PRELUDE.nodes, &template.nodes) {
            Ok(text) => text,
            Err(err) => format!("<error expanding template: {err}>"),
        }
    }
}

#[cfg(test)]
mod tests;
