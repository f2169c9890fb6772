//! Walks a parsed template with Go's semantics: the cursor `.`, variables
//! scoped to their block, pipelines passing the previous result as the last
//! argument, and `range` over lists and maps (maps in key order).

use std::collections::BTreeMap;

use super::funcs::{call, FuncContext};
use super::parse::{Arg, Branch, Command, Node, Pipeline};
use super::value::Value;
use super::TemplateError;

pub struct Exec<'a> {
    pub name: &'a str,
    pub funcs: &'a FuncContext<'a>,
    /// The data the template runs on: `$`, and `.` at the top.
    root: &'a Value,
    vars: Vec<(String, Value)>,
    line: usize,
    out: String,
}

impl<'a> Exec<'a> {
    pub fn new(name: &'a str, funcs: &'a FuncContext<'a>, root: &'a Value) -> Self {
        Exec {
            name,
            funcs,
            root,
            vars: Vec::new(),
            line: 1,
            out: String::new(),
        }
    }

    /// Runs `prelude`, then `nodes` with the variables it declared.
    pub fn run(mut self, prelude: &[Node], nodes: &[Node]) -> Result<String, TemplateError> {
        let root = self.root;
        self.walk(prelude, root)?;
        self.walk(nodes, root)?;
        Ok(self.out)
    }

    fn error(&self, msg: impl Into<String>) -> TemplateError {
        TemplateError::exec(self.name, self.line, msg)
    }

    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action { line, pipe } => {
                    self.line = *line;
                    let value = self.pipeline(pipe, dot)?;
                    // An assignment prints nothing, as in Go.
                    if pipe.vars.is_empty() {
                        self.out.push_str(&value.to_string());
                    }
                }
                Node::If(b) => self.scoped(|ex| {
                    ex.line = b.line;
                    if ex.pipeline(&b.pipe, dot)?.is_true() {
                        ex.walk(&b.body, dot)
                    } else {
                        ex.walk(&b.otherwise, dot)
                    }
                })?,
                Node::With(b) => self.scoped(|ex| {
                    ex.line = b.line;
                    let value = ex.pipeline(&b.pipe, dot)?;
                    if value.is_true() {
                        ex.walk(&b.body, &value)
                    } else {
                        ex.walk(&b.otherwise, dot)
                    }
                })?,
                Node::Range(b) => self.scoped(|ex| ex.range(b, dot))?,
            }
        }
        Ok(())
    }

    /// Runs `f` with variables declared inside it dropped afterwards.
    fn scoped(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), TemplateError>,
    ) -> Result<(), TemplateError> {
        let len = self.vars.len();
        let result = f(self);
        self.vars.truncate(len);
        result
    }

    fn range(&mut self, b: &Branch, dot: &Value) -> Result<(), TemplateError> {
        self.line = b.line;
        // The range pipeline's variables are bound per element, not to the
        // collection, so evaluate the commands without the declaration.
        let collection = self.commands(&b.pipe.commands, dot)?;
        let items: Vec<(Value, Value)> = match collection {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Int(n) => (0..n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil => Vec::new(),
            other => return Err(self.error(format!("range can't iterate over {other}"))),
        };
        if items.is_empty() {
            return self.walk(&b.otherwise, dot);
        }
        for (key, element) in items {
            let len = self.vars.len();
            match b.pipe.vars.as_slice() {
                [elem] => self.vars.push((elem.clone(), element.clone())),
                [k, elem] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((elem.clone(), element.clone()));
                }
                _ => {}
            }
            let result = self.walk(&b.body, &element);
            self.vars.truncate(len);
            result?;
        }
        Ok(())
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let value = self.commands(&pipe.commands, dot)?;
        for name in &pipe.vars {
            if pipe.declares {
                self.vars.push((name.clone(), value.clone()));
            } else if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value.clone();
            }
        }
        Ok(value)
    }

    fn commands(&mut self, commands: &[Command], dot: &Value) -> Result<Value, TemplateError> {
        let mut previous = None;
        for command in commands {
            previous = Some(self.command(command, dot, previous)?);
        }
        Ok(previous.unwrap_or(Value::Nil))
    }

    fn command(
        &mut self,
        command: &Command,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let (first, rest) = command
            .args
            .split_first()
            .ok_or_else(|| self.error("empty command"))?;
        if let Arg::Function(name) = first {
            let mut args = rest
                .iter()
                .map(|a| self.arg(a, dot))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(piped);
            return call(self.funcs, name, args)
                .map_err(|e| self.error(format!("error calling {name}: {e}")));
        }
        if !rest.is_empty() || piped.is_some() {
            return Err(self.error(format!("can't give argument to non-function {first:?}")));
        }
        self.arg(first, dot)
    }

    fn arg(&mut self, arg: &Arg, dot: &Value) -> Result<Value, TemplateError> {
        match arg {
            Arg::Field(chain) => self.fields(dot, chain),
            Arg::Variable(name, chain) => {
                let value = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v)
                    .or((name == "$").then_some(self.root))
                    .ok_or_else(|| self.error(format!("undefined variable: {name}")))?;
                self.fields(value, chain)
            }
            Arg::Function(name) => call(self.funcs, name, Vec::new())
                .map_err(|e| self.error(format!("error calling {name}: {e}"))),
            Arg::Str(s) => Ok(Value::String(s.clone())),
            Arg::Int(i) => Ok(Value::Int(*i)),
            Arg::Float(f) => Ok(Value::Float(*f)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Ok(Value::Nil),
            Arg::Pipeline(pipe, chain) => {
                let value = self.pipeline(pipe, dot)?;
                self.fields(&value, chain)
            }
        }
    }

    /// Follows `.A.B` from `value`, cloning only what it ends on.
    fn fields(&self, mut value: &Value, chain: &[String]) -> Result<Value, TemplateError> {
        static ZERO: Value = Value::String(String::new());
        for field in chain {
            value = match value {
                // A missing key gives the zero value (Prometheus runs its
                // templates with `missingkey=zero`, and label maps hold strings).
                Value::Map(m) => m.get(field).unwrap_or(&ZERO),
                Value::Nil => return Err(self.error(format!("nil pointer evaluating .{field}"))),
                other => {
                    return Err(self.error(format!(
                        "can't evaluate field {field} in type {}",
                        other.type_name()
                    )))
                }
            };
        }
        Ok(value.clone())
    }
}

/// The data Prometheus gives alert templates.
pub fn alert_data(
    labels: BTreeMap<String, String>,
    external_labels: BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    let mut data = BTreeMap::new();
    data.insert("Labels".to_string(), Value::string_map(labels));
    data.insert(
        "ExternalLabels".to_string(),
        Value::string_map(external_labels),
    );
    data.insert(
        "ExternalURL".to_string(),
        Value::String(external_url.to_string()),
    );
    data.insert("Value".to_string(), Value::Float(value));
    Value::Map(data)
}
