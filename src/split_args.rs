//! Redis's `sdssplitargs`: how a config file line and an inline command are split into
//! arguments, shared so both follow the same quoting rules.

/// Splits a line into arguments with Redis's `sdssplitargs` rules: blanks separate
/// arguments; `"..."` understands `\n \r \t \b \a \xHH` and `\` before any other character;
/// `'...'` only `\'`; a closing quote must end the argument. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(|&b| is_c_space(b)) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        let mut quote = None;
        loop {
            let byte = line.get(i).copied();
            match (quote, byte) {
                (Some(_), None) => return None,
                (None, None | Some(b' ' | b'\n' | b'\r' | b'\t')) => break,
                (None, Some(q @ (b'"' | b'\''))) => quote = Some(q),
                (None, Some(b)) => arg.push(b),
                (Some(q), Some(b)) if b == q => {
                    if line.get(i + 1).is_some_and(|&next| !is_c_space(next)) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                (Some(b'"'), Some(b'\\')) => {
                    if let Some(byte) = hex_escape(line.get(i + 1..i + 4)) {
                        arg.push(byte);
                        i += 3;
                    } else if let Some(&escaped) = line.get(i + 1) {
                        arg.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 1;
                    } else {
                        return None;
                    }
                }
                (Some(b'\''), Some(b'\\')) if line.get(i + 1) == Some(&b'\'') => {
                    arg.push(b'\'');
                    i += 1;
                }
                (Some(_), Some(b)) => arg.push(b),
            }
            i += 1;
        }
        args.push(arg);
    }
}

/// Decodes the `xHH` of a `\xHH` escape.
fn hex_escape(bytes: Option<&[u8]>) -> Option<u8> {
    match bytes? {
        [b'x', hi, lo] => {
            let digit = |d: u8| char::from(d).to_digit(16);
            Some((digit(*hi)? * 16 + digit(*lo)?) as u8)
        }
        _ => None,
    }
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|args| {
            args.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            split(r#"set q "hello world""#),
            Some(vec!["set".into(), "q".into(), "hello world".into()])
        );
        assert_eq!(
            split(r#"a 'b c' "\x41\n""#),
            Some(vec!["a".into(), "b c".into(), "A\n".into()])
        );
        assert_eq!(split(r#"a "b"#), None);
        assert_eq!(split(r#"a "b"c"#), None);
        assert_eq!(split("   "), Some(vec![]));
    }
}
