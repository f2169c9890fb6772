//! Finds where groups, rules and `expr` values sit in a rule file's text,
//! so errors can name lines the way promtool does. The YAML parser gives
//! positions only for its own errors; rule files are block-style YAML, so
//! a scan of the lines by indentation finds the rest.

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulePositions {
    /// The rule's `alert:` or `record:` key, or its `-` when it has neither.
    pub name: Position,
    /// Where the `expr` value starts.
    pub expr: Option<Position>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPositions {
    pub start: Position,
    pub rules: Vec<RulePositions>,
}

/// A block sequence under a `key:`; its items' indentation is learnt from
/// the first line after the key.
#[derive(Default)]
struct Sequence {
    item_indent: Option<usize>,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `key` if the line (after an optional `- `) starts with `key:`; returns
/// the column where the text after the colon starts.
fn key_value_column(line: &str, key: &str) -> Option<usize> {
    let indent = indent_of(line);
    let mut rest = &line[indent..];
    let mut column = indent;
    if let Some(after_dash) = rest.strip_prefix('-') {
        let trimmed = after_dash.trim_start();
        column += 1 + after_dash.len() - trimmed.len();
        rest = trimmed;
    }
    let after_key = rest.strip_prefix(key)?;
    let after_colon = after_key.trim_start().strip_prefix(':')?;
    if !(after_colon.is_empty() || after_colon.starts_with([' ', '\t'])) {
        return None;
    }
    let value = after_colon.trim_start();
    column += key.len() + (after_key.len() - after_colon.len()) + (after_colon.len() - value.len());
    Some(column + 1)
}

fn is_item(line: &str, indent: usize) -> bool {
    indent_of(line) == indent && line.trim_start().starts_with('-')
}

pub fn locate(text: &str) -> Vec<GroupPositions> {
    let mut groups: Vec<GroupPositions> = Vec::new();
    let mut group_seq: Option<Sequence> = None;
    let mut rule_seq: Option<Sequence> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = indent_of(line);
        let position = |column: usize| Position {
            line: index + 1,
            column,
        };

        if let Some(seq) = &mut rule_seq {
            let item_indent = *seq.item_indent.get_or_insert(indent);
            if indent < item_indent || (indent == item_indent && !trimmed.starts_with('-')) {
                rule_seq = None;
            } else if let Some(group) = groups.last_mut() {
                if is_item(line, item_indent) {
                    group.rules.push(RulePositions {
                        name: position(indent + 1),
                        expr: None,
                    });
                }
                if let Some(rule) = group.rules.last_mut() {
                    if ["alert", "record"]
                        .iter()
                        .any(|key| key_value_column(line, key).is_some())
                    {
                        rule.name = position(key_start(line));
                    }
                    if let Some(col) = key_value_column(line, "expr") {
                        rule.expr = Some(position(col));
                    }
                }
                continue;
            }
        }
        if let Some(seq) = &mut group_seq {
            let item_indent = *seq.item_indent.get_or_insert(indent);
            if indent < item_indent || (indent == item_indent && !trimmed.starts_with('-')) {
                group_seq = None;
            } else if is_item(line, item_indent) {
                groups.push(GroupPositions {
                    start: position(indent + 1),
                    rules: Vec::new(),
                });
            }
        }
        if key_value_column(line, "groups").is_some() && group_seq.is_none() && groups.is_empty() {
            group_seq = Some(Sequence::default());
        } else if group_seq.is_some() && key_value_column(line, "rules").is_some() {
            rule_seq = Some(Sequence::default());
        }
    }
    groups
}

/// The 1-based column where a line's key starts, after any `- `.
fn key_start(line: &str) -> usize {
    let indent = indent_of(line);
    let rest = &line[indent..];
    match rest.strip_prefix('-') {
        Some(after) => indent + 1 + (after.len() - after.trim_start().len()) + 1,
        None => indent + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_groups_rules_and_exprs() {
        let text = "\
# comment
groups:
  - name: a
    rules:
      - record: x
        expr: 'test +'
      - alert: Y
        expr: up == 0
        labels:
          severity: page
  - name: b
    interval: 1m
    rules:
    - expr: z
      record: r
";
        let groups = locate(text);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].start, Position { line: 3, column: 3 });
        assert_eq!(groups[0].rules.len(), 2);
        assert_eq!(groups[0].rules[0].name, Position { line: 5, column: 9 });
        assert_eq!(
            groups[0].rules[0].expr,
            Some(Position {
                line: 6,
                column: 15
            })
        );
        assert_eq!(
            groups[0].rules[1].expr,
            Some(Position {
                line: 8,
                column: 15
            })
        );
        assert_eq!(groups[1].rules.len(), 1);
        assert_eq!(
            groups[1].rules[0].name,
            Position {
                line: 15,
                column: 7
            }
        );
        assert_eq!(
            groups[1].rules[0].expr,
            Some(Position {
                line: 14,
                column: 13
            })
        );
    }
}
