//! `{name}` and `{name:02}` (zero-padded to two digits) in a language file's patterns.

/// A value for a placeholder.
pub enum Value {
    Number(i64),
    Text(String),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(i64::from(n))
            }
        }
    )*};
}
numbers!(u8, i32);

/// `pattern` with every known placeholder replaced; an unknown one is left as it is.
pub fn fill(pattern: &str, values: &[(&str, Value)]) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            rest = &rest[open..];
            break;
        };
        let inner = &rest[open + 1..open + close];
        let (name, pad) = inner.split_once(':').unwrap_or((inner, ""));
        match values.iter().find(|(k, _)| *k == name) {
            Some((_, Value::Number(n))) if pad == "02" => out.push_str(&format!("{n:02}")),
            Some((_, Value::Number(n))) => out.push_str(&n.to_string()),
            Some((_, Value::Text(t))) => out.push_str(t),
            None => out.push_str(&rest[open..=open + close]),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_numbers_padding_and_unknowns() {
        let v = [
            ("hour", Value::from(9u8)),
            ("minute", Value::from(5u8)),
            ("m", "毛呂山町".into()),
        ];
        assert_eq!(fill("{m}: {hour}:{minute:02}", &v), "毛呂山町: 9:05");
        assert_eq!(fill("{nope} {hour", &v), "{nope} {hour", "left as it is");
        assert_eq!(fill("no placeholder", &v), "no placeholder");
    }
}
