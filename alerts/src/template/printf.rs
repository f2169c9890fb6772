//! Go's `fmt.Sprintf` for the verbs templates use, including Go's
//! complaints for mismatched arguments (`%!d(string=x)`).

use super::gofmt::{format_e, format_f, format_g};
use super::value::Value;

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(read_number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let text = format_one(verb, &spec, arg);
        out.push_str(&pad(text, &spec, arg));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={a}", a.type_name()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

fn read_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        n = Some(n.unwrap_or(0) * 10 + d as usize);
        chars.next();
    }
    n
}

fn bad_verb(verb: char, arg: &Value) -> String {
    format!("%!{verb}({}={arg})", arg.type_name())
}

fn signed(text: String, spec: &Spec) -> String {
    if text.starts_with('-') || text.starts_with('+') {
        text
    } else if spec.plus {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    }
}

fn format_one(verb: char, spec: &Spec, arg: &Value) -> String {
    match (verb, arg) {
        ('v', Value::Float(f)) => signed(format_g(*f, spec.precision, false), spec),
        ('v', Value::Int(i)) | ('d', Value::Int(i)) => signed(i.to_string(), spec),
        ('v', other) => other.to_string(),
        ('s', Value::String(s)) => match spec.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.clone(),
        },
        ('s', Value::Map(_) | Value::List(_) | Value::Nil) => arg.to_string(),
        ('q', Value::String(s)) => go_quote(s),
        ('t', Value::Bool(b)) => b.to_string(),
        ('f' | 'F', Value::Float(f)) => signed(format_f(*f, spec.precision.unwrap_or(6)), spec),
        ('e' | 'E', Value::Float(f)) => signed(
            format_e(*f, Some(spec.precision.unwrap_or(6)), verb == 'E'),
            spec,
        ),
        ('g' | 'G', Value::Float(f)) => signed(format_g(*f, spec.precision, verb == 'G'), spec),
        ('x', Value::Int(i)) => format!("{i:x}"),
        ('X', Value::Int(i)) => format!("{i:X}"),
        ('x', Value::String(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
        ('X', Value::String(s)) => s.bytes().map(|b| format!("{b:02X}")).collect(),
        ('o', Value::Int(i)) => format!("{i:o}"),
        ('b', Value::Int(i)) => format!("{i:b}"),
        ('c', Value::Int(i)) => u32::try_from(*i)
            .ok()
            .and_then(char::from_u32)
            .map_or_else(|| "\u{FFFD}".into(), String::from),
        _ => bad_verb(verb, arg),
    }
}

fn pad(text: String, spec: &Spec, arg: &Value) -> String {
    let Some(width) = spec.width else { return text };
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = width - len;
    if spec.minus {
        return format!("{text}{}", " ".repeat(fill));
    }
    let numeric = matches!(arg, Value::Int(_) | Value::Float(_));
    if spec.zero && numeric {
        // Zeros go after the sign.
        let (sign, digits) = match text.strip_prefix(['-', '+']) {
            Some(rest) => (&text[..1], rest),
            None => ("", text.as_str()),
        };
        return format!("{sign}{}{digits}", "0".repeat(fill));
    }
    format!("{}{text}", " ".repeat(fill))
}

/// Go's `strconv.Quote` for printable text.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(sprintf("%.2f", &[Value::Float(4.56789)]), "4.57");
        assert_eq!(sprintf("%d items", &[Value::Int(3)]), "3 items");
        assert_eq!(
            sprintf("%s-%v", &["a".into(), Value::Float(1e6)]),
            "a-1e+06"
        );
        assert_eq!(
            sprintf("%5.1f|%-4d|", &[Value::Float(2.25), Value::Int(7)]),
            "  2.2|7   |"
        );
        assert_eq!(sprintf("%05d", &[Value::Int(-42)]), "-0042");
        assert_eq!(sprintf("%d", &["x".into()]), "%!d(string=x)");
        assert_eq!(sprintf("%.1f", &[Value::Int(5)]), "%!f(int=5)");
        assert_eq!(sprintf("%s %s", &["a".into()]), "a %!s(MISSING)");
        assert_eq!(sprintf("%q 100%%", &["a\"b".into()]), "\"a\\\"b\" 100%");
    }
}
