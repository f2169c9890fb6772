//! Go's `fmt` number formatting, so template output and promtool-style
//! messages match Prometheus byte for byte (`1e+06`, `%.4g`, `1E+00`).

/// The decimal digits of `|v|` (no trailing zeros, at least one digit) and
/// the position of the decimal point, as Go's `strconv` works with them:
/// `v = 0.d1d2d3... × 10^point`. `significant` rounds to that many digits;
/// `None` gives the shortest representation that round-trips.
fn decimal_digits(v: f64, significant: Option<usize>) -> (Vec<u8>, i32) {
    let v = v.abs();
    if v == 0.0 {
        return (vec![b'0'], 1);
    }
    let text = match significant {
        Some(n) => format!("{:.*e}", n.saturating_sub(1), v),
        None => format!("{v:e}"),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent + 1)
}

/// NaN and the infinities, spelled as Go spells them.
fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

/// `%e` with `precision` digits after the point (`None`: shortest).
pub fn format_e(v: f64, precision: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let (digits, point) = decimal_digits(v, precision.map(|p| p + 1));
    let frac_len = precision.unwrap_or(digits.len() - 1);
    e_from_digits(v.is_sign_negative(), &digits, point, frac_len, upper)
}

fn e_from_digits(
    negative: bool,
    digits: &[u8],
    point: i32,
    frac_len: usize,
    upper: bool,
) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push(digits[0] as char);
    if frac_len > 0 {
        out.push('.');
        for i in 1..=frac_len {
            out.push(*digits.get(i).unwrap_or(&b'0') as char);
        }
    }
    let exp = if digits == [b'0'] { 0 } else { point - 1 };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.abs()));
    out
}

fn f_from_digits(negative: bool, digits: &[u8], point: i32, frac_len: usize) -> String {
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push('0');
    } else {
        for i in 0..point as usize {
            out.push(*digits.get(i).unwrap_or(&b'0') as char);
        }
    }
    if frac_len > 0 {
        out.push('.');
        for i in 0..frac_len as i32 {
            let index = point + i;
            let digit = if index < 0 {
                b'0'
            } else {
                *digits.get(index as usize).unwrap_or(&b'0')
            };
            out.push(digit as char);
        }
    }
    out
}

/// `%f` with `precision` digits after the point (Go's default is 6).
pub fn format_f(v: f64, precision: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let text = format!("{:.*}", precision, v.abs());
    // Go keeps the sign of negative zero and of values that round to zero.
    if v.is_sign_negative() {
        format!("-{text}")
    } else {
        text
    }
}

/// `%g` (and `%v` when `precision` is `None`), as Go's `strconv` 'g' does.
pub fn format_g(v: f64, precision: Option<usize>, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let precision = precision.map(|p| p.max(1));
    let (digits, point) = decimal_digits(v, precision);
    let nd = digits.len() as i32;
    let shortest = precision.is_none();
    let mut prec = precision.map(|p| p as i32).unwrap_or(nd);
    let mut eprec = prec;
    if eprec > nd && nd >= point {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = point - 1;
    let negative = v.is_sign_negative();
    if exp < -4 || exp >= eprec {
        if prec > nd {
            prec = nd;
        }
        return e_from_digits(negative, &digits, point, (prec - 1).max(0) as usize, upper);
    }
    if prec > point {
        prec = nd;
    }
    f_from_digits(negative, &digits, point, (prec - point).max(0) as usize)
}

/// Go's `%v` for a float64.
pub fn format_float(v: f64) -> String {
    format_g(v, None, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_matches_go() {
        for (v, want) in [
            (1.0, "1"),
            (0.0, "0"),
            (1_000_000.0, "1e+06"),
            (123_456.0, "123456"),
            (0.1, "0.1"),
            (0.00001, "1e-05"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(format_float(v), want, "{v}");
        }
    }

    #[test]
    fn g_with_precision_matches_go() {
        for (v, want) in [
            (1234.5, "1234"),
            (1235.5, "1236"),
            (1.5, "1.5"),
            (0.0, "0"),
            (12345.0, "1.234e+04"),
            (1.0e10, "1e+10"),
            (0.000_012_34, "1.234e-05"),
            (7.0, "7"),
            (100.0, "100"),
            (1000.0, "1000"),
        ] {
            assert_eq!(format_g(v, Some(4), false), want, "{v}");
        }
    }

    #[test]
    fn e_and_f_match_go() {
        assert_eq!(format_e(1.0, None, true), "1E+00");
        assert_eq!(format_e(0.0, None, true), "0E+00");
        assert_eq!(format_e(1.5, None, true), "1.5E+00");
        assert_eq!(format_e(12345.678, Some(2), false), "1.23e+04");
        assert_eq!(format_f(4.56789, 2), "4.57");
        assert_eq!(format_f(2.5, 0), "2");
        assert_eq!(format_f(-1.0, 1), "-1.0");
    }
}
